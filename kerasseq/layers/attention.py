"""Attention over a sequence: `WindowedAttention` (local self-attention),
`AttentionPooling` (a learned weighted mean over time) and `TokenScores`
(a prediction that is a sum of per-token scores)."""

import math

import keras
import numpy as np
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers

from kerasseq.layers.base import get_activation
from kerasseq.validation import ArgumentError
from kerasseq.validation import check_non_negative_int
from kerasseq.validation import check_positive_int
from kerasseq.validation import check_rate


def _large_negative(dtype):
    # As keras.layers.Softmax: -1e9, or -3e4 where float16 would overflow to
    # -inf (and a row of -inf would give NaN after the max is subtracted).
    return -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9


def _masked_softmax(scores, keep):
    """Softmax over the last axis of the entries where `keep` is 1.

    Kept entries get the softmax over kept entries, the others 0; a row
    without a kept entry gets zeros, not NaN (the softmax of a row of equal
    large negatives is uniform, and `keep` zeroes it).
    """
    scores = ops.where(keep > 0, scores, _large_negative(scores.dtype))
    return ops.softmax(scores, axis=-1) * keep


def _check_rank_3(owner, shape):
    if len(shape) != 3:
        raise ValueError(
            f"{owner} received inputs of shape {tuple(shape)} (rank "
            f"{len(shape)}). Expected rank 3: (batch, timesteps, features), "
            "e.g. the output of keras.layers.Embedding or of a recurrent "
            "layer with return_sequences=True."
        )


def _check_optional_positive_int(name, value, *, owner, example):
    return None if value is None else check_positive_int(name, value, owner=owner, example=example)


# Queries per block, at least. Each block of queries is scored against the
# keys from `window` steps before it to `window` after it in one batched
# matmul: block + 2 * window scores per query instead of the band's
# 2 * window + 1, but a few large ops instead of one small op per offset.
# On a CPU (T = 1024, window 5, training) one op per offset measured 2x
# slower, and 6x with python slicing, whose strided gradient dominated.
# Blocks of 16 and 32 measured alike, 64 slower; 16 wastes less.
MIN_BLOCK = 16


def _query_blocks(x, block):
    """`(batch, heads, T, depth)` -> `(batch, heads, blocks, block, depth)`,
    the time axis zero-padded to a multiple of `block`."""
    batch, heads, timesteps, depth = ops.shape(x)
    padded = ops.pad(x, [[0, 0], [0, 0], [0, (-timesteps) % block], [0, 0]])
    return ops.reshape(padded, (batch, heads, -1, block, depth))


def _key_blocks(x, block, before, after):
    """`(batch, heads, T, depth)` -> `(batch, heads, blocks, span, depth)` with
    `span = before + block + after`: block `b` holds steps `b * block - before`
    to `(b + 1) * block + after - 1`, zeros outside the sequence.

    Each block of the sequence shifted by `before`, followed by the first
    `before + after` steps of the next block (so `before + after <= block`).
    Pads, reshapes and `ops.slice` (a pad backwards; python slicing's
    strided gradient measured several times slower), no gather.
    """
    batch, heads, timesteps, depth = ops.shape(x)
    length = timesteps + (-timesteps) % block
    padded = ops.pad(x, [[0, 0], [0, 0], [before, length - timesteps + block - before], [0, 0]])

    def blocks(start):
        window = ops.slice(padded, (0, 0, start, 0), (batch, heads, length, depth))
        return ops.reshape(window, (batch, heads, -1, block, depth))

    following = blocks(block)
    halo = ops.slice(
        following, (0, 0, 0, 0, 0), (batch, heads, ops.shape(following)[2], before + after, depth)
    )
    return ops.concatenate([blocks(0), halo], axis=3)


def _band_pattern(block, before, after):
    """`(block, span)`: 1 where key column `c` of a key block (`_key_blocks`)
    is in the window of query row `r`, `r <= c <= r + before + after`."""
    rows = np.arange(block)[:, None]
    columns = np.arange(before + block + after)[None, :]
    return ((columns >= rows) & (columns <= rows + before + after)).astype("float32")


def _band_columns(weights, block, width, timesteps):
    """`(batch, heads, blocks, block, block + width - 1)` -> `(batch, heads,
    T, width)`: row `r` of each block keeps its band, columns `r` to
    `r + width - 1`.

    Skewing: flattened, row `r` starts at `r * (block + width - 1)`; padded
    by `block` and read as rows of `block + width`, row `r` starts at its
    band.
    """
    batch, heads, num_blocks, _, span = ops.shape(weights)
    flat = ops.reshape(weights, (batch, heads, num_blocks, block * span))
    flat = ops.pad(flat, [[0, 0], [0, 0], [0, 0], [0, block]])
    skewed = ops.reshape(flat, (batch, heads, num_blocks, block, span + 1))
    band = ops.slice(skewed, (0, 0, 0, 0, 0), (batch, heads, num_blocks, block, width))
    band = ops.reshape(band, (batch, heads, -1, width))
    return ops.slice(band, (0, 0, 0, 0), (batch, heads, timesteps, width))


def dense_attention_scores(band_scores, window):
    """The band scores of `WindowedAttention` as a dense `(T, T)` matrix.

    Places column `k` of row `i` at key position `j = i + k - window`;
    positions outside the band are 0. This builds `(T, T)` tensors: meant
    for tests and for plotting short sequences, not for long ones.

    Args:
        band_scores: `(..., T, 2 * window + 1)`, e.g. the `(batch, heads,
            T, 2 * window + 1)` scores of `WindowedAttention`.
        window: The layer's `window`, a non-negative integer.

    Returns:
        `(..., T, T)`: entry `[..., i, j]` is the weight of key `j` for
        query `i`.

    Example:
    >>> band = np.array([[0.0, 1.0, 0.0],  # window=1: offsets -1, 0, +1
    ...                  [0.5, 0.5, 0.0],
    ...                  [0.25, 0.75, 0.0]])
    >>> keras.ops.convert_to_numpy(dense_attention_scores(band, window=1))
    array([[1.  , 0.  , 0.  ],
           [0.5 , 0.5 , 0.  ],
           [0.  , 0.25, 0.75]])
    """
    window = check_non_negative_int(
        "window", window, owner="dense_attention_scores",
        example="dense_attention_scores(scores, window=5)",
    )
    band_scores = ops.convert_to_tensor(band_scores)
    width = band_scores.shape[-1]
    if width is not None and width != 2 * window + 1:
        raise ArgumentError(
            "window",
            f"dense_attention_scores received band scores with {width} columns "
            f"and window={window}. The band of WindowedAttention(window={window}) "
            f"has 2 * window + 1 = {2 * window + 1} columns: pass the window "
            "of the layer that returned the scores.",
        )
    timesteps = ops.shape(band_scores)[-2]
    rows = ops.arange(timesteps)[:, None, None]
    offsets = ops.arange(2 * window + 1)[None, :, None] - window
    columns = ops.arange(timesteps)[None, None, :]
    # placement[i, k, j] = 1 where key j is column k of row i.
    placement = ops.cast(ops.equal(columns, rows + offsets), band_scores.dtype)
    return ops.einsum("...ik,ikj->...ij", band_scores, placement)


@keras.saving.register_keras_serializable(package="kerasseq")
class WindowedAttention(keras.layers.Layer):
    """Multi-head self-attention within a window: query `i` attends to the
    keys `j` with `|i - j| <= window` (and `j <= i` when `causal`).

    The dot-product attention of Keras' `MultiHeadAttention` (Vaswani et
    al. 2017) restricted to a band, as `MultiHeadAttention(...,
    sliding_window=window + 1)` restricts it, but computed near the band
    only: each block of `max(16, 2 * window)` queries is scored against the
    keys from `window` steps before the block to `window` after it, so time
    and memory grow linearly in `T`, not as `T^2`, and sequences of
    thousands of steps fit. With `x` the inputs, per head `h`:

        q_i = x_i W_q + b_q,  k_j = x_j W_k + b_k,  v_j = x_j W_v + b_v
        s_ij = q_i . k_j / sqrt(key_dim)      for j in the window of i
        a_ij = softmax_j(s_ij) over the valid keys j, 0 elsewhere
        output_i = sum_h (sum_j a_ij v_j) W_o[h] + b_o

    A key is valid when it lies in the sequence, in the window, is not
    masked and (with `causal`) is not after the query. Masked queries
    attend nowhere: their weights and outputs are zeros (not NaN), and the
    input mask passes on to the next layer (a recurrent layer or a pooling
    skips those steps).

    The weights are those of `MultiHeadAttention`, in its order: EinsumDense
    `query`, `key`, `value` with kernels `(features, num_heads, key_dim)`
    (`value_dim` for `value`) and biases `(num_heads, key_dim)`, and
    `attention_output` with kernel `(num_heads, value_dim, output_shape)`
    and bias `(output_shape,)`; so `set_weights(mha.get_weights())` copies
    them, and with a band mask the two layers give the same outputs.

    Args:
        window: Non-negative integer, how many steps on each side a query
            sees; `0` attends to the query's own step only.
        num_heads: Positive integer, number of attention heads. Default:
            `1`.
        key_dim: Positive integer, size of each head for query and key.
            Default: `None`, the input features divided by `num_heads`.
        value_dim: Positive integer, size of each head for value. Default:
            `None`, `key_dim`.
        causal: Boolean, whether queries see only keys up to their own step
            (`i - window <= j <= i`), as a language model needs. Default:
            `False`.
        dropout: Float in [0, 1), fraction of attention weights dropped in
            training. Default: `0.0`.
        use_bias: Boolean, whether the projections add biases. Default:
            `True`.
        output_shape: Positive integer, the output features. Default:
            `None`, the input features.
        kernel_initializer: Initializer for the projection kernels.
            Default: `"glorot_uniform"`.
        bias_initializer: Initializer for the projection biases. Default:
            `"zeros"`.
        kernel_regularizer: Regularizer applied to the kernels. Default:
            `None`.
        bias_regularizer: Regularizer applied to the biases. Default:
            `None`.
        kernel_constraint: Constraint applied to the kernels. Default:
            `None`.
        bias_constraint: Constraint applied to the biases. Default: `None`.
        seed: Integer, seed of the dropout. Default: `None`.
        **kwargs: Base layer arguments, e.g. `name`, `dtype`,
            `activity_regularizer`.

    Call arguments:
        inputs: `(batch, T, features)`; queries, keys and values all come
            from it (self-attention).
        mask: Optional boolean `(batch, T)`, `False` at padding, e.g. from
            `keras.layers.Embedding(mask_zero=True)`, which Keras passes
            on by itself. Default: `None`.
        return_attention_scores: Boolean, whether to return the attention
            weights too. Default: `False`.
        training: Boolean, whether dropout applies. Default: `False`.

    Returns:
        `(batch, T, output_shape)`; with `return_attention_scores`, a tuple
        of it and the weights in band form, `(batch, num_heads, T,
        2 * window + 1)`: column `k` of row `i` is the weight of key `j = i
        + k - window`, 0 where that key is invalid (before dropout, as in
        `MultiHeadAttention`). `dense_attention_scores(scores, window)`
        turns them into `(batch, num_heads, T, T)`.

    Example:
    >>> x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype("float32")
    >>> layer = WindowedAttention(window=1, num_heads=2)
    >>> output, scores = layer(x, return_attention_scores=True)
    >>> keras.ops.shape(output), keras.ops.shape(scores)
    ((2, 6, 4), (2, 2, 6, 3))
    >>> dense = keras.ops.convert_to_numpy(dense_attention_scores(scores, window=1))
    >>> np.round(dense[0, 0].sum(axis=-1), 5)  # each row sums to 1
    array([1., 1., 1., 1., 1., 1.], dtype=float32)
    >>> bool(np.all(dense[0, 0, 0, 2:] == 0))  # step 0 sees steps 0 and 1 only
    True
    """

    def __init__(
        self,
        window,
        num_heads=1,
        key_dim=None,
        value_dim=None,
        causal=False,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.window = check_non_negative_int(
            "window", window, owner=owner, example=f"{owner}(window=5)"
        )
        self.num_heads = check_positive_int(
            "num_heads", num_heads, owner=owner, example=f"{owner}(window=5, num_heads=2)"
        )
        self.key_dim = _check_optional_positive_int(
            "key_dim", key_dim, owner=owner, example=f"{owner}(window=5, key_dim=16)"
        )
        self.value_dim = _check_optional_positive_int(
            "value_dim", value_dim, owner=owner, example=f"{owner}(window=5, value_dim=16)"
        )
        self.causal = bool(causal)
        self.dropout = check_rate("dropout", dropout, owner=owner)
        self.use_bias = bool(use_bias)
        # Not `self.output_shape`, which Keras' models read as the shape of
        # the layer's output (MultiHeadAttention keeps it private too).
        self._output_shape = _check_optional_positive_int(
            "output_shape", output_shape, owner=owner,
            example=f"{owner}(window=5, output_shape=64)",
        )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self.dropout_layer = keras.layers.Dropout(self.dropout, seed=seed, dtype=self.dtype_policy)
        self.supports_masking = True

    def _projection(self, name, equation, output_shape, bias_axes):
        # A fresh initializer per projection: a seeded initializer instance
        # would give the four kernels the same values (as MultiHeadAttention).
        kernel_initializer, bias_initializer = (
            type(i).from_config(i.get_config())
            for i in (self.kernel_initializer, self.bias_initializer)
        )
        return keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        owner = type(self).__name__
        _check_rank_3(owner, input_shape)
        features = input_shape[-1]
        key_dim = self.key_dim or features // self.num_heads
        if key_dim == 0:
            raise ArgumentError(
                "key_dim",
                f"{owner} received inputs with {features} features and "
                f"num_heads={self.num_heads}, so key_dim defaults to {features} "
                f"// {self.num_heads} = 0. Pass key_dim, e.g. {owner}(window="
                f"{self.window}, num_heads={self.num_heads}, key_dim=16), or use "
                f"at most {features} heads.",
            )
        value_dim = self.value_dim or key_dim
        self.scale = 1.0 / math.sqrt(key_dim)
        # The equations and names of MultiHeadAttention for rank-3 inputs,
        # created in its order, so get_weights lists the same shapes.
        self.query_dense = self._projection("query", "abc,cde->abde", (None, self.num_heads, key_dim), "de")
        self.key_dense = self._projection("key", "abc,cde->abde", (None, self.num_heads, key_dim), "de")
        self.value_dense = self._projection("value", "abc,cde->abde", (None, self.num_heads, value_dim), "de")
        self.output_dense = self._projection(
            "attention_output", "abcd,cde->abe", (None, self._output_shape or features), "e"
        )
        for projection in (self.query_dense, self.key_dense, self.value_dense):
            projection.build(input_shape)
        self.output_dense.build((*input_shape[:2], self.num_heads, value_dim))

    def call(self, inputs, mask=None, return_attention_scores=False, training=None):
        batch, timesteps = ops.shape(inputs)[:2]
        before, after = self.window, 0 if self.causal else self.window
        block = max(MIN_BLOCK, before + after)
        # A tensor without the Keras mask attached: the projections take no
        # mask (Keras would warn that they drop it); this layer applies it.
        unmasked = ops.copy(inputs)
        # (batch, num_heads, T, head size): heads beside the batch, so the
        # block products below are plain batched matmuls.
        query, key, value = (
            ops.transpose(projection(unmasked), (0, 2, 1, 3))
            for projection in (self.query_dense, self.key_dense, self.value_dense)
        )
        # Scaled before the product, as MultiHeadAttention does (same rounding).
        query = query * ops.cast(self.scale, query.dtype)
        scores = ops.matmul(
            _query_blocks(query, block),
            ops.swapaxes(_key_blocks(key, block, before, after), -1, -2),
        )
        if mask is None:
            steps = ops.ones((1, 1, timesteps, 1), dtype=scores.dtype)
        else:
            steps = ops.cast(mask, scores.dtype)[:, None, :, None]
        # 1 where the key lies in the sequence, is not masked and is in the
        # query's window; (batch or 1, 1, blocks, block, span).
        keep = ops.swapaxes(_key_blocks(steps, block, before, after), -1, -2)
        keep = keep * ops.convert_to_tensor(_band_pattern(block, before, after), scores.dtype)
        if mask is not None:
            keep = keep * _query_blocks(steps, block)  # masked queries attend nowhere
        weights = _masked_softmax(scores, keep)
        context = ops.matmul(
            self.dropout_layer(weights, training=training),
            _key_blocks(value, block, before, after),
        )
        value_dim = value.shape[-1]
        context = ops.reshape(context, (batch, self.num_heads, -1, value_dim))
        context = ops.slice(context, (0, 0, 0, 0), (batch, self.num_heads, timesteps, value_dim))
        output = self.output_dense(ops.transpose(context, (0, 2, 1, 3)))
        if mask is not None:
            output = output * ops.cast(mask, output.dtype)[:, :, None]
        if not return_attention_scores:
            return output
        band = _band_columns(weights, block, before + after + 1, timesteps)
        if self.causal:
            # Keys after the query were not computed: weight 0, as the format
            # has 2 * window + 1 columns either way.
            band = ops.pad(band, [[0, 0], [0, 0], [0, 0], [0, self.window]])
        return output, band

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = {
            "window": self.window,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "causal": self.causal,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self._output_shape,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasseq")
class AttentionPooling(keras.layers.Layer):
    """A learned weighted mean over time steps, masked steps left out.

    Additive attention pooling (Bahdanau et al. 2015; the word attention of
    Yang et al. 2016): each step gets a score from a one-layer tanh network
    and a learned context vector `u`, the weights are the softmax of the
    scores over the unmasked steps:

        e_t = tanh(x_t W + b) u
        a_t = softmax_t(e_t) over unmasked steps, 0 at masked ones
        output = sum_t a_t x_t

    `kernel` W is `(features, units)`, `bias` b `(units,)`, `context` u
    `(units, 1)`. A row with every step masked gives zeros (not NaN).

    Args:
        units: Positive integer, size of the tanh layer. Default: `None`,
            the input features.
        kernel_initializer: Initializer for `kernel` and `context`.
            Default: `"glorot_uniform"`.
        bias_initializer: Initializer for `bias`. Default: `"zeros"`.
        **kwargs: Base layer arguments, e.g. `name`, `dtype`.

    Call arguments:
        inputs: `(batch, T, features)`.
        mask: Optional boolean `(batch, T)`, `False` at padding; Keras
            passes the mask of an `Embedding(mask_zero=True)` by itself.
            Default: `None`.
        return_attention_scores: Boolean, whether to return the weights
            `a` too. Default: `False`.

    Returns:
        `(batch, features)`; with `return_attention_scores`, a tuple of it
        and the weights `(batch, T)`, which sum to 1 in each row with an
        unmasked step. The mask stops here.

    Example:
    >>> x = np.arange(12, dtype="float32").reshape(1, 4, 3)
    >>> pooling = AttentionPooling(units=2, kernel_initializer="zeros")
    >>> mask = np.array([[True, True, False, False]])
    >>> output, weights = pooling(x, mask=mask, return_attention_scores=True)
    >>> keras.ops.convert_to_numpy(weights)  # equal scores: a plain masked mean
    array([[0.5, 0.5, 0. , 0. ]], dtype=float32)
    >>> keras.ops.convert_to_numpy(output)
    array([[1.5, 2.5, 3.5]], dtype=float32)
    """

    def __init__(self, units=None, kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = _check_optional_positive_int("units", units, owner=owner, example=f"{owner}(units=32)")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        _check_rank_3(type(self).__name__, input_shape)
        units = self.units or input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_shape[-1], units), name="kernel", initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(shape=(units,), name="bias", initializer=self.bias_initializer)
        self.context = self.add_weight(shape=(units, 1), name="context", initializer=self.kernel_initializer)

    def call(self, inputs, mask=None, return_attention_scores=False):
        hidden = ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)
        scores = ops.squeeze(ops.matmul(hidden, self.context), axis=-1)
        if mask is None:
            weights = ops.softmax(scores, axis=-1)
        else:
            weights = _masked_softmax(scores, ops.cast(mask, scores.dtype))
        output = ops.sum(weights[:, :, None] * inputs, axis=1)
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = {
            "units": self.units,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasseq")
class TokenScores(keras.layers.Layer):
    """A binary prediction that is a sum of per-token scores, which explain it.

    A small network scores each token; the scores of the unmasked tokens
    and a bias add up to the logit:

        s_t = activation(x_t W + b) w     (0 at masked tokens)
        probability = sigmoid(c + sum_t s_t)

    Each `s_t` is the token's exact share of the logit: a positive score
    pushes the prediction towards 1, a negative one towards 0, and the
    shares with `c` add up to the logit. `kernel` W is `(features, units)`,
    `bias` b `(units,)`, `score_kernel` w `(units, 1)` and `score_bias` c
    `(1,)`. The logit grows with the number of tokens: a long text with
    many positive tokens gets a confident prediction.

    Args:
        units: Positive integer, size of the hidden layer.
        activation: Activation of the hidden layer, a name from
            `keras.activations` or a callable. Default: `"relu"`.
        kernel_initializer: Initializer for `kernel` and `score_kernel`.
            Default: `"glorot_uniform"`.
        bias_initializer: Initializer for `bias` and `score_bias`. Default:
            `"zeros"`.
        **kwargs: Base layer arguments, e.g. `name`, `dtype`.

    Call arguments:
        inputs: `(batch, T, features)`, e.g. embeddings or the outputs of a
            recurrent layer with `return_sequences=True`.
        mask: Optional boolean `(batch, T)`, `False` at padding; Keras
            passes the mask of an `Embedding(mask_zero=True)` by itself.
            Default: `None`.
        return_token_scores: Boolean, whether to return the scores `s` too.
            Default: `False`.

    Returns:
        The probability `(batch, 1)`; with `return_token_scores`, a tuple of
        it and the scores `(batch, T)`, 0 at masked tokens, so that
        `sigmoid(score_bias + sum(scores, axis=1))` is the probability. The
        mask stops here.

    Example:
    >>> x = np.array([[[1.0], [2.0], [-4.0]]], dtype="float32")
    >>> head = TokenScores(1, activation="linear", kernel_initializer="ones")
    >>> probability, scores = head(x, mask=np.array([[True, True, False]]),
    ...                            return_token_scores=True)
    >>> keras.ops.convert_to_numpy(scores)  # s_t = x_t; the masked -4 counts 0
    array([[1., 2., 0.]], dtype=float32)
    >>> keras.ops.convert_to_numpy(probability)  # sigmoid(0 + 1 + 2)
    array([[0.95257413]], dtype=float32)
    """

    def __init__(self, units, activation="relu", kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = check_positive_int("units", units, owner=owner, example=f"{owner}(units=16)")
        self.activation = get_activation(owner, "activation", activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        _check_rank_3(type(self).__name__, input_shape)
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), name="kernel", initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer=self.bias_initializer)
        self.score_kernel = self.add_weight(
            shape=(self.units, 1), name="score_kernel", initializer=self.kernel_initializer
        )
        # One bias for the sequence, not one per token: a per-token bias
        # would add (number of tokens) x bias, a share no token explains.
        self.score_bias = self.add_weight(shape=(1,), name="score_bias", initializer=self.bias_initializer)

    def call(self, inputs, mask=None, return_token_scores=False):
        hidden = self.activation(ops.matmul(inputs, self.kernel) + self.bias)
        scores = ops.squeeze(ops.matmul(hidden, self.score_kernel), axis=-1)
        if mask is not None:
            # A select, not a product: exact zeros (no -0.0), even if a
            # padded step's score overflowed.
            scores = ops.where(ops.cast(mask, "bool"), scores, ops.zeros_like(scores))
        probability = ops.sigmoid(ops.sum(scores, axis=1, keepdims=True) + self.score_bias)
        return (probability, scores) if return_token_scores else probability

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}
