"""Preprocessing that lives inside models: text standardization and truncation.

These are Keras objects a saved model refers to by name, so `import
kerasseq` registers them (it imports this module, which loads Keras but no
data code) before `keras.saving.load_model` needs them.
"""

import keras
import numpy as np

from pipelines.validation import check_one_of
from pipelines.validation import check_positive_int

TRUNCATE = ("start", "end")


@keras.saving.register_keras_serializable(package="kerasseq")
def standardize_text(texts):
    """Lower-cases (any script), replaces HTML markup (IMDB's `<br />`) by spaces and
    splits off punctuation; `!` and `?` stay as tokens (they carry tone),
    apostrophes inside words stay (`don't`).

    Args:
        texts: a string tensor.

    Returns:
        The standardized string tensor, for `TextVectorization(standardize=...)`.

    Example:
    >>> standardize_text(keras.ops.convert_to_tensor(["Great!<br />I didn't cry."])).numpy()[0]
    b"great !  i didn't cry "
    """
    import tensorflow as tf

    texts = tf.strings.lower(texts, encoding="utf-8")
    # Tags only: a stray "<" (as in "a < b") must not swallow the text up to the next ">".
    texts = tf.strings.regex_replace(texts, r"</?[a-z][^<>]*>", " ")
    texts = tf.strings.regex_replace(texts, r"([!?])", r" \1 ")
    # Punctuation other than ! ? and word-internal apostrophes becomes space.
    # Letters, their combining marks (Devanagari vowel signs, Arabic
    # diacritics) and digits of any script count; RE2's \w is ASCII only.
    texts = tf.strings.regex_replace(texts, r"(?:[^\p{L}\p{M}\p{N}\s!?']|'\B|\B')+", " ")
    return texts


@keras.saving.register_keras_serializable(package="kerasseq")
class TruncateTokens(keras.layers.Layer):
    """Keeps at most `max_length` tokens of each right-padded row of ids.

    Long reviews are cut to their start or their end (the end keeps the
    verdict, which reviewers tend to state last). The output is padded to
    the longest kept row of the batch, and has at least one step, so an
    empty text gives one padding step (a prediction, not a crash).

    Args:
        max_length: most tokens kept, or None to keep all (the layer then
            only ensures one step).
        keep: "end" or "start".

    Call arguments:
        inputs: int ids `(batch, timesteps)`, 0 = padding after the tokens.

    Returns:
        Int ids `(batch, min(longest, max_length))`.

    Example:
    >>> TruncateTokens(2, keep="end")(np.array([[5, 6, 7, 0], [8, 0, 0, 0]])).numpy().tolist()
    [[6, 7], [8, 0]]
    """

    def __init__(self, max_length, keep="end", **kwargs):
        super().__init__(**kwargs)
        if max_length is not None:
            check_positive_int("max_length", max_length, owner="TruncateTokens",
                               example="TruncateTokens(400)")
        self.max_length = max_length
        self.keep = check_one_of("keep", keep, list(TRUNCATE), owner="TruncateTokens")

    def call(self, inputs):
        import tensorflow as tf

        inputs = tf.convert_to_tensor(inputs)
        # At least one step, so that a batch of empty texts still has a shape to run on.
        inputs = tf.pad(inputs, [[0, 0], [0, tf.maximum(1 - tf.shape(inputs)[1], 0)]])
        lengths = tf.reduce_sum(tf.cast(inputs != 0, "int32"), axis=1)
        kept = lengths if self.max_length is None else tf.minimum(lengths, self.max_length)
        start = lengths - kept if self.keep == "end" else tf.zeros_like(lengths)
        width = tf.maximum(tf.reduce_max(tf.concat([kept, [1]], axis=0)), 1)
        steps = tf.range(width)[None, :]
        positions = tf.minimum(start[:, None] + steps, tf.shape(inputs)[1] - 1)
        kept_ids = tf.gather(inputs, positions, batch_dims=1)
        return tf.where(steps < kept[:, None], kept_ids, tf.zeros_like(kept_ids))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length, "keep": self.keep}
