"""`MaskedGlobalPooling1D`: mean or max over the unmasked steps of a sequence."""

import keras
from keras import ops

from kerasseq.validation import check_one_of

MODES = ("mean", "max")


@keras.saving.register_keras_serializable(package="kerasseq")
class MaskedGlobalPooling1D(keras.layers.Layer):
    """Mean or max over time of the steps the mask keeps.

    `keras.layers.GlobalMaxPooling1D` ignores masks (padding can win the
    max), and `GlobalAveragePooling1D` divides by zero on a fully masked
    row (an empty text). Here padding never counts, and a row with no step
    left pools to zeros.

    Args:
        mode: "mean" or "max".

    Call arguments:
        inputs: `(batch, timesteps, features)`.
        mask: optional boolean `(batch, timesteps)`, True where a step counts.

    Returns:
        `(batch, features)`.

    Example:
    >>> x = np.array([[[1.0], [5.0], [-9.0]]])
    >>> mask = np.array([[True, False, True]])
    >>> MaskedGlobalPooling1D("max")(x, mask=mask).numpy().tolist()
    [[1.0]]
    >>> MaskedGlobalPooling1D("mean")(x, mask=mask).numpy().tolist()
    [[-4.0]]
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        self.mode = check_one_of("mode", mode, list(MODES), owner="MaskedGlobalPooling1D")
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        count = ops.sum(ops.cast(keep, inputs.dtype), axis=1)
        if self.mode == "mean":
            total = ops.sum(ops.where(keep, inputs, 0.0), axis=1)
            return total / ops.maximum(count, 1.0)
        highest = ops.max(ops.where(keep, inputs, float("-inf")), axis=1)
        return ops.where(count > 0, highest, 0.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
