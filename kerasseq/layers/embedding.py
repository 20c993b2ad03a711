"""`TiedEmbedding`: one matrix for the input embedding and the output softmax."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasseq")
class TiedEmbedding(keras.layers.Embedding):
    """An `Embedding` that also maps vectors back to token logits with its
    own matrix: weight tying (Press & Wolf 2017; Inan et al. 2017).

    Called on token ids it embeds them, as `keras.layers.Embedding`; called
    with `reverse=True` on vectors of size `output_dim` it returns logits
    `x @ embeddings.T + output_bias` over the `input_dim` tokens. Call the
    same layer twice in a model to tie its input and output.

    Args:
        input_dim: vocabulary size.
        output_dim: embedding size.
        use_output_bias: add a bias per token to the reversed logits.
            Default: `True`.
        **kwargs: the arguments of `keras.layers.Embedding`.

    Call arguments:
        inputs: token ids, or vectors `(..., output_dim)` with `reverse`.
        reverse: map vectors to logits instead of ids to vectors.

    Example:
    >>> layer = TiedEmbedding(10, 4)
    >>> ids = keras.Input((None,), dtype="int32")
    >>> logits = layer(layer(ids), reverse=True)
    >>> tuple(logits.shape)
    (None, None, 10)
    """

    def __init__(self, input_dim, output_dim, use_output_bias=True, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.use_output_bias = use_output_bias

    def build(self, input_shape=None):
        super().build(input_shape)
        self.output_bias = None
        if self.use_output_bias:
            self.output_bias = self.add_weight(
                shape=(self.input_dim,), initializer="zeros", name="output_bias"
            )

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        logits = ops.matmul(inputs, ops.transpose(ops.cast(self.embeddings, inputs.dtype)))
        if self.output_bias is not None:
            logits = logits + ops.cast(self.output_bias, logits.dtype)
        return logits

    def compute_mask(self, inputs, mask=None):
        return None if ops.is_tensor(inputs) and inputs.dtype.is_floating else super().compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, reverse=False):
        shape = self.compute_output_shape(inputs.shape, reverse=reverse)
        dtype = self.compute_dtype
        return keras.KerasTensor(shape, dtype=dtype)

    # keras.layers.Embedding saves its matrix alone (and quantized forms);
    # the output bias needs the plain layer's every-variable layout.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

    def get_config(self):
        return {**super().get_config(), "use_output_bias": self.use_output_bias}
