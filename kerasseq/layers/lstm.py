"""Long short-term memory: `LSTMCell` and `LSTM`."""

import keras
from keras import initializers
from keras import ops

from kerasseq.layers.base import GatedCell
from kerasseq.layers.base import RecurrentLayer


@keras.saving.register_keras_serializable(package="kerasseq")
class LSTMCell(GatedCell):
    """One LSTM step (Hochreiter & Schmidhuber 1997), gates ordered (i, f, c, o).

    The cell of `LSTM`, and a drop-in for Keras' `LSTMCell`: same
    arguments, defaults and weights, so weights copy both ways. `kernel` W is
    `(features, 4 * units)`, `recurrent_kernel` U `(units, 4 * units)` and
    `bias` b `(4 * units,)`, each the blocks of the input gate i, the
    forget gate f, the candidate g and the output gate o side by side. With
    `s` = `recurrent_activation` and `act` = `activation`:

        i_t = s(x_t W_i + h_{t-1} U_i + b_i)
        f_t = s(x_t W_f + h_{t-1} U_f + b_f)
        g_t = act(x_t W_c + h_{t-1} U_c + b_c)
        o_t = s(x_t W_o + h_{t-1} U_o + b_o)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * act(c_t)

    Dropout, in training, multiplies `x_t` and `h_{t-1}` by masks drawn once
    per sequence.

    Args:
        units: Positive integer, size of the hidden state `h` and the cell
            state `c`.
        activation: Activation of the candidate and of `c_t` in the output,
            a name from `keras.activations` or a callable; `None` means
            linear. Default: `"tanh"`.
        recurrent_activation: Activation of the gates i, f and o. Default:
            `"sigmoid"`.
        use_bias: Boolean, whether to add the bias `b`. Default: `True`.
        kernel_initializer: Initializer for `kernel` (W). Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for `recurrent_kernel` (U).
            Default: `"orthogonal"`.
        bias_initializer: Initializer for `bias` (b). Default: `"zeros"`.
        unit_forget_bias: Boolean, if `True` the forget-gate block of the
            bias starts at 1, whatever `bias_initializer` (Jozefowicz et al.
            2015), as in Keras. Default: `True`.
        kernel_regularizer: Regularizer applied to `kernel`. Default: `None`.
        recurrent_regularizer: Regularizer applied to `recurrent_kernel`.
            Default: `None`.
        bias_regularizer: Regularizer applied to `bias`. Default: `None`.
        kernel_constraint: Constraint applied to `kernel`. Default: `None`.
        recurrent_constraint: Constraint applied to `recurrent_kernel`.
            Default: `None`.
        bias_constraint: Constraint applied to `bias`. Default: `None`.
        dropout: Float in [0, 1), fraction of the input units dropped in
            training. Default: `0.0`.
        recurrent_dropout: Float in [0, 1), fraction of the state units
            dropped in training before the product with U. Default: `0.0`.
        seed: Integer, seed of the dropout masks. Default: `None`.
        implementation: Keras' computation mode, `1` or `2`. `2` draws one
            dropout mask for all gates, `1` one mask per gate (so a seeded
            cell drops the units Keras' `LSTMCell(implementation=1)`
            drops); without dropout both give the same outputs. As in
            Keras, `recurrent_dropout > 0` sets it to `1`, and the legacy
            value `0` runs as `2`. Default: `2`.
        **kwargs: Base layer arguments, e.g. `name`, `dtype`, `trainable`.

    Call arguments:
        inputs: One time step, `(batch, features)`.
        states: `[h_{t-1}, c_{t-1}]`, each of shape `(batch, units)`.
        training: Boolean, whether dropout applies. Default: `False`.

    Returns:
        `(h_t, [h_t, c_t])`: the output and the new states.

    Example:
    >>> cell = LSTMCell(1, kernel_initializer="zeros",
    ...                 recurrent_initializer="zeros")
    >>> ones = np.ones((1, 1), "float32")
    >>> h, (h, c) = cell(ones, [ones, ones])
    >>> keras.ops.convert_to_numpy(c)  # f = s(0 + forget bias 1), g = 0: c = f
    array([[0.7310586]], dtype=float32)
    >>> rnn = keras.layers.RNN(LSTMCell(4), return_sequences=True)
    >>> keras.ops.shape(rnn(np.ones((2, 5, 3), "float32")))
    (2, 5, 4)
    """

    gates = 4

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def bias_initializer_for_build(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def initializer(_, *args, **kwargs):
            return ops.concatenate(
                [
                    base((units,), *args, **kwargs),
                    initializers.get("ones")((units,), *args, **kwargs),
                    base((2 * units,), *args, **kwargs),
                ]
            )

        return initializer

    def call(self, inputs, states, training=False):
        (h, c), _ = self.step_with_gates(inputs, states, training=training)
        return h, [h, c]

    def step_with_gates(self, inputs, states, training=False):
        """One step: the new `(h, c)` and the gates' values, `{"input": i,
        "forget": f, "output": o, "candidate": g}` (c = f c_prev + i g,
        h = o tanh(c)), each `(batch, units)`; `kerasseq.analysis.gate_trace`
        reads them."""
        h, c = states
        input_mask, recurrent_mask = self.step_masks(inputs, h, training)
        g = [a + b for a, b in zip(
            self.project(inputs, self.kernel, input_mask),
            self.project(h, self.recurrent_kernel, recurrent_mask),
        )]
        if self.use_bias:
            g = [a + b for a, b in zip(g, ops.split(self.bias, 4))]
        g_i, g_f, g_c, g_o = g
        gates = {"input": self.recurrent_activation(g_i), "forget": self.recurrent_activation(g_f),
                 "output": self.recurrent_activation(g_o), "candidate": self.activation(g_c)}
        c = gates["forget"] * c + gates["input"] * gates["candidate"]
        h = gates["output"] * self.activation(c)
        return (h, c), gates

    def fused_sequence(self, x, initial_state, mask):
        from kerasseq.layers.fused_loops import lstm_sequence

        hs, h_last, c_last = lstm_sequence(
            x, initial_state[0], initial_state[1], self.kernel,
            self.recurrent_kernel, self.bias_or_zeros(self.bias),
            activation=self.activation,
            recurrent_activation=self.recurrent_activation, mask=mask,
        )
        return hs, [h_last, c_last]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras.saving.register_keras_serializable(package="kerasseq")
class LSTM(RecurrentLayer):
    """Long short-term memory over a sequence (Hochreiter & Schmidhuber
    1997); a drop-in for Keras' `LSTM`.

    Runs `LSTMCell` (see its equations) over the time axis, as
    `keras.layers.RNN(LSTMCell(...))` does, with the arguments, defaults,
    weights and outputs of Keras' `LSTM`. Which loop runs, on the
    TensorFlow backend:

    - the cuDNN kernel, when all of these hold (the conditions of
      Keras' `LSTM`):
        1. TensorFlow sees a GPU when the layer is built;
        2. `use_cudnn` is `"auto"` or `True`;
        3. `activation` is `"tanh"` and `recurrent_activation` `"sigmoid"`;
        4. `use_bias=True`;
        5. `recurrent_dropout=0`;
        6. `unroll=False`;
        7. in training with `dropout`, `implementation=2` (one mask per
           gate does not fit the kernel);
        8. a mask, if any, is strictly right-padded and keeps a step in
           every row. cuDNN checks this as the layer runs; called eagerly,
           the layer then falls back to the fused loop, as Keras' layer
           falls back to its generic one.
      A model holding such a layer is not compiled with XLA
      (`jit_compile="auto"`), whose kernels cuDNN ops lack.
    - else a fused loop with hand-written backpropagation through time
      (`kerasseq.layers.fused_loops`), when both activations are `"tanh"`,
      `"sigmoid"`, `"relu"` or `"linear"`, `unroll=False` and, in
      training, `recurrent_dropout=0` and no per-gate masks
      (`implementation=1` with `dropout`);
    - otherwise the generic `keras.layers.RNN` loop, which steps the cell
      (also on the other backends).

    Args:
        units: Positive integer, size of the hidden state, the cell state
            and the output.
        activation: Activation of the candidate and of the cell state in
            the output, a name from `keras.activations` or a callable;
            `None` means linear. Default: `"tanh"`.
        recurrent_activation: Activation of the input, forget and output
            gates. Default: `"sigmoid"`.
        use_bias: Boolean, whether to add the bias. Default: `True`.
        kernel_initializer: Initializer for `kernel`. Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for `recurrent_kernel`. Default:
            `"orthogonal"`.
        bias_initializer: Initializer for `bias`. Default: `"zeros"`.
        unit_forget_bias: Boolean, if `True` the forget-gate block of the
            bias starts at 1, whatever `bias_initializer` (Jozefowicz et al.
            2015). Default: `True`.
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
            training, masks drawn once per sequence. Default: `0.0`.
        recurrent_dropout: Float in [0, 1), fraction of the state units
            dropped in training before the recurrent product. Default:
            `0.0`.
        seed: Integer, seed of the dropout masks. Default: `None`.
        return_sequences: Boolean, whether to return the output of every
            step, `(batch, timesteps, units)`, or only the last one,
            `(batch, units)`. Default: `False`.
        return_state: Boolean, whether to return the final states `h` and
            `c` after the output. Default: `False`.
        go_backwards: Boolean, if `True` process the sequence from its last
            step and return the reversed sequence. Default: `False`.
        stateful: Boolean, if `True` the final states of sample `i` in a
            batch are the initial states of sample `i` in the next batch,
            until `reset_state()`. Default: `False`.
        unroll: Boolean, if `True` unroll the loop into the graph (faster
            for short sequences, more memory; always the generic loop).
            Default: `False`.
        zero_output_for_mask: Boolean, if `True` masked steps output zeros;
            if `False` they repeat the previous output. Default: `False`.
        use_cudnn: `"auto"` uses cuDNN when the conditions above hold;
            `True` also, but raises a `ValueError` at build when conditions
            1 to 6 do not hold; `False` never uses it. Kept in `get_config`
            (Keras' layer leaves it out), so a reloaded layer makes the same
            choice. Default: `"auto"`.
        implementation: Keras' computation mode, `1` (one dropout mask per
            gate) or `2` (one for all gates); without dropout both give the
            same outputs. `recurrent_dropout > 0` sets it to `1` and the
            legacy `0` runs as `2`, as in Keras. See `LSTMCell`. Default:
            `2`.
        **kwargs: Base layer arguments, e.g. `name`, `dtype`, `trainable`.

    Call arguments:
        sequences: `(batch, timesteps, features)`. Integer inputs are cast
            to the layer's compute dtype, as Keras' layers do.
        initial_state: Optional list `[h, c]`, each of shape `(batch,
            units)`. Default: zeros (the carried states when `stateful`).
        mask: Optional boolean `(batch, timesteps)`; at a `False` step the
            states are kept. Default: `None`.
        training: Boolean, whether dropout applies. Default: `False`.

    Returns:
        The last output `(batch, units)`, or every output `(batch,
        timesteps, units)` with `return_sequences`; with `return_state`, a
        list of the output and the final states `h` and `c`.

    Example:
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> layer = LSTM(4)
    >>> layer.build(x.shape)
    >>> [tuple(w.shape) for w in layer.get_weights()]  # kernel, recurrent kernel, bias
    [(3, 16), (4, 16), (16,)]
    >>> outputs, h, c = LSTM(8, return_sequences=True, return_state=True)(x)
    >>> keras.ops.shape(outputs), keras.ops.shape(c)
    ((2, 5, 8), (2, 8))
    """

    cell_class = LSTMCell
    cudnn_capable = True

    def cudnn_loop(self, sequences, initial_state, mask):
        from keras.src import backend

        cell = self.cell
        return backend.lstm(
            sequences, initial_state[0], initial_state[1], mask,
            kernel=cell.kernel, recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias, activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards, unroll=self.unroll,
        )
