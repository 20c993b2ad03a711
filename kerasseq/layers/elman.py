"""The Elman recurrent network: `ElmanCell` and `ElmanRNN`."""

import keras
from keras import ops

from kerasseq.layers.base import RecurrentCell
from kerasseq.layers.base import RecurrentLayer


@keras.saving.register_keras_serializable(package="kerasseq")
class ElmanCell(RecurrentCell):
    """One Elman step: `h_t = activation(x_t W + h_{t-1} U + b)`.

    The cell of `ElmanRNN`, and a drop-in for Keras' `SimpleRNNCell`:
    same arguments, defaults and weights (`kernel` W of shape
    `(features, units)`, `recurrent_kernel` U of shape `(units, units)`,
    `bias` b of shape `(units,)`), so weights copy both ways. Run it over
    sequences with `keras.layers.RNN(ElmanCell(...))`, or use `ElmanRNN`,
    which runs the same step in a faster loop.

    With dropout in training, `x_t` and `h_{t-1}` are multiplied by masks
    drawn once per sequence:

        h_t = activation((x_t * m_x) W + (h_{t-1} * m_h) U + b)

    Args:
        units: Positive integer, size of the hidden state `h`.
        activation: Activation function, a name from `keras.activations` or
            a callable; `None` means linear. Default: `"tanh"`.
        use_bias: Boolean, whether to add the bias `b`. Default: `True`.
        kernel_initializer: Initializer for `kernel` (W). Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for `recurrent_kernel` (U).
            Default: `"orthogonal"`.
        bias_initializer: Initializer for `bias` (b). Default: `"zeros"`.
        kernel_regularizer: Regularizer applied to `kernel`. Default: `None`.
        recurrent_regularizer: Regularizer applied to `recurrent_kernel`.
            Default: `None`.
        bias_regularizer: Regularizer applied to `bias`. Default: `None`.
        kernel_constraint: Constraint applied to `kernel`. Default: `None`.
        recurrent_constraint: Constraint applied to `recurrent_kernel`.
            Default: `None`.
        bias_constraint: Constraint applied to `bias`. Default: `None`.
        dropout: Float in [0, 1), fraction of the input units dropped in
            training (mask `m_x`). Default: `0.0`.
        recurrent_dropout: Float in [0, 1), fraction of the state units
            dropped in training before the product with U (mask `m_h`).
            Default: `0.0`.
        seed: Integer, seed of the dropout masks. Default: `None`.
        **kwargs: Base layer arguments, e.g. `name`, `dtype`, `trainable`.

    Call arguments:
        inputs: One time step, `(batch, features)`.
        states: `[h_{t-1}]`, of shape `(batch, units)`.
        training: Boolean, whether dropout applies. Default: `False`.

    Returns:
        `(h_t, [h_t])`: the output and the new state, the same tensor.

    Example:
    >>> cell = ElmanCell(2, kernel_initializer="ones",
    ...                  recurrent_initializer="zeros")
    >>> h, states = cell(np.array([[0.5, -0.25]], "float32"),
    ...                  [np.zeros((1, 2), "float32")])
    >>> np.round(keras.ops.convert_to_numpy(h), 4)  # tanh(0.5 - 0.25)
    array([[0.2449, 0.2449]], dtype=float32)
    >>> rnn = keras.layers.RNN(ElmanCell(4), return_sequences=True)
    >>> keras.ops.shape(rnn(np.ones((2, 5, 3), "float32")))
    (2, 5, 4)
    """

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        input_mask, recurrent_mask = self.step_masks(inputs, h_prev, training)
        (x,) = self.project(inputs, self.kernel, input_mask)
        if self.use_bias:
            x = ops.add(x, self.bias)
        h = self.activation(x + self.project(h_prev, self.recurrent_kernel, recurrent_mask)[0])
        return h, ([h] if isinstance(states, (list, tuple)) else h)

    def fused_sequence(self, x, initial_state, mask):
        from kerasseq.layers.fused_loops import elman_sequence

        hs, h_last = elman_sequence(
            x, initial_state[0], self.kernel, self.recurrent_kernel,
            self.bias_or_zeros(self.bias), activation=self.activation, mask=mask,
        )
        return hs, [h_last]


@keras.saving.register_keras_serializable(package="kerasseq")
class ElmanRNN(RecurrentLayer):
    """Elman network (fully-connected RNN) over a sequence; a drop-in for
    Keras' `SimpleRNN`.

    Runs `ElmanCell` (`h_t = activation(x_t W + h_{t-1} U + b)`) over the
    time axis, as `keras.layers.RNN(ElmanCell(...))` does, with the
    arguments, defaults, weights and outputs of Keras' `SimpleRNN`.
    Which loop runs, on the TensorFlow backend:

    - a fused loop with hand-written backpropagation through time
      (`kerasseq.layers.fused_loops`), when the activation is `"tanh"`,
      `"sigmoid"`, `"relu"` or `"linear"`, `unroll=False` and, in
      training, `recurrent_dropout=0`;
    - otherwise the generic `keras.layers.RNN` loop, which steps the cell
      (also on the other backends).

    There is no cuDNN kernel for this network, so, like `SimpleRNN`, the
    layer takes no `use_cudnn` argument.

    Args:
        units: Positive integer, size of the hidden state and the output.
        activation: Activation function, a name from `keras.activations` or
            a callable; `None` means linear. Default: `"tanh"`.
        use_bias: Boolean, whether to add the bias `b`. Default: `True`.
        kernel_initializer: Initializer for `kernel` (W). Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for `recurrent_kernel` (U).
            Default: `"orthogonal"`.
        bias_initializer: Initializer for `bias` (b). Default: `"zeros"`.
        kernel_regularizer: Regularizer applied to `kernel`. Default: `None`.
        recurrent_regularizer: Regularizer applied to `recurrent_kernel`.
            Default: `None`.
        bias_regularizer: Regularizer applied to `bias`. Default: `None`.
        activity_regularizer: Regularizer applied to the layer's output.
            Default: `None`.
        kernel_constraint: Constraint applied to `kernel`. Default: `None`.
        recurrent_constraint: Constraint applied to `recurrent_kernel`.
            Default: `None`.
        bias_constraint: Constraint applied to `bias`. Default: `None`.
        dropout: Float in [0, 1), fraction of the input units dropped in
            training, one mask per sequence. Default: `0.0`.
        recurrent_dropout: Float in [0, 1), fraction of the state units
            dropped in training before the product with U. Default: `0.0`.
        seed: Integer, seed of the dropout masks. Default: `None`.
        return_sequences: Boolean, whether to return the output of every
            step, `(batch, timesteps, units)`, or only the last one,
            `(batch, units)`. Default: `False`.
        return_state: Boolean, whether to return the final state `h` after
            the output. Default: `False`.
        go_backwards: Boolean, if `True` process the sequence from its last
            step and return the reversed sequence. Default: `False`.
        stateful: Boolean, if `True` the final state of sample `i` in a
            batch is the initial state of sample `i` in the next batch,
            until `reset_state()`. Default: `False`.
        unroll: Boolean, if `True` unroll the loop into the graph (faster
            for short sequences, more memory; always the generic loop).
            Default: `False`.
        zero_output_for_mask: Boolean, if `True` masked steps output zeros;
            if `False` they repeat the previous output. Default: `False`.
        **kwargs: Base layer arguments, e.g. `name`, `dtype`, `trainable`.

    Call arguments:
        sequences: `(batch, timesteps, features)`. Integer inputs are cast
            to the layer's compute dtype, as Keras' layers do.
        initial_state: Optional list `[h]`, `h` of shape `(batch, units)`.
            Default: zeros (the carried state when `stateful`).
        mask: Optional boolean `(batch, timesteps)`; at a `False` step the
            state is kept. Default: `None`.
        training: Boolean, whether dropout applies. Default: `False`.

    Returns:
        The last output `(batch, units)`, or every output `(batch,
        timesteps, units)` with `return_sequences`; with `return_state`, a
        list of the output and the final state `h`.

    Example:
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> layer = ElmanRNN(4)
    >>> layer.build(x.shape)
    >>> [tuple(w.shape) for w in layer.get_weights()]  # kernel, recurrent kernel, bias
    [(3, 4), (4, 4), (4,)]
    >>> outputs, h = ElmanRNN(8, return_sequences=True, return_state=True)(x)
    >>> keras.ops.shape(outputs), keras.ops.shape(h)
    ((2, 5, 8), (2, 8))
    """

    cell_class = ElmanCell
