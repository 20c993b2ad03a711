"""`Perplexity`: the language-model metric, exp of the mean token cross-entropy."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasseq")
class Perplexity(keras.metrics.Metric):
    """Perplexity of next-token predictions: `exp(sum(w * CE) / sum(w))`
    over every token seen since the last reset.

    Tokens with sample weight 0 (padding; pass the metric as one of
    `weighted_metrics` so Keras hands it the weights) or whose target is
    `mask_token_id` do not count. The mean is over tokens, not batches, so
    a short last batch weighs what its tokens weigh.

    Args:
        from_logits: whether predictions are logits (default) or
            probabilities.
        mask_token_id: a target id that is never scored, or None.
        name: the metric's name. Default: `"perplexity"`.
        dtype: the dtype of the accumulated sums. Default: `"float32"`.

    Example:
    >>> metric = Perplexity()
    >>> metric.update_state([[1, 0]], [[[0.0, 0.0], [0.0, 0.0]]])
    >>> round(float(metric.result()), 4)
    2.0
    """

    def __init__(self, from_logits=True, mask_token_id=None, name="perplexity", dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.from_logits = from_logits
        self.mask_token_id = mask_token_id
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype, name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype, name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        entropy = keras.losses.sparse_categorical_crossentropy(
            y_true, ops.cast(y_pred, "float32"), from_logits=self.from_logits
        )
        weights = ops.ones_like(entropy)
        if sample_weight is not None:
            weights = weights * ops.cast(ops.reshape(sample_weight, ops.shape(entropy)), weights.dtype)
        if self.mask_token_id is not None:
            weights = weights * ops.cast(ops.not_equal(y_true, self.mask_token_id), weights.dtype)
        self.total.assign_add(ops.cast(ops.sum(entropy * weights), self.dtype))
        self.count.assign_add(ops.cast(ops.sum(weights), self.dtype))

    def result(self):
        return ops.exp(ops.divide_no_nan(self.total, self.count))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "mask_token_id": self.mask_token_id}
