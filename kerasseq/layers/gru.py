"""Gated recurrent units: `GRUCell` and `GRU`, both reset-gate forms."""

import keras
from keras import ops

from kerasseq.layers.base import GatedCell
from kerasseq.layers.base import RecurrentLayer


@keras.saving.register_keras_serializable(package="kerasseq")
class GRUCell(GatedCell):
    """One GRU step (Cho et al. 2014), gates ordered (z, r, h) as in Keras.

    The cell of `GRU`, and a drop-in for Keras' `GRUCell`: same
    arguments, defaults and weights, so weights copy both ways. `kernel` W is
    `(features, 3 * units)` and `recurrent_kernel` U is `(units, 3 * units)`,
    each the blocks of the update gate z, the reset gate r and the
    candidate h side by side. With `s` = `recurrent_activation` and `act` =
    `activation`:

        z_t = s(x_t W_z + b_z + h_{t-1} U_z + c_z)
        r_t = s(x_t W_r + b_r + h_{t-1} U_r + c_r)
        reset_after=True (Keras' default, the cuDNN form): the reset gate
        scales the recurrent product:
            hh_t = act(x_t W_h + b_h + r_t * (h_{t-1} U_h + c_h))
        reset_after=False (the course-notes GRU): the reset gate is applied
        to h before the matrix product, and c = 0:
            hh_t = act(x_t W_h + b_h + (r_t * h_{t-1}) U_h)
        h_t = z_t * h_{t-1} + (1 - z_t) * hh_t

    `bias` is `(2, 3 * units)`, rows `b` (input) and `c` (recurrent), with
    `reset_after=True`, and `b` alone, `(3 * units,)`, otherwise, as in
    Keras' `GRUCell`. Dropout, in training, multiplies `x_t` and
    `h_{t-1}` by masks drawn once per sequence.

    Args:
        units: Positive integer, size of the hidden state `h`.
        activation: Activation of the candidate `hh`, a name from
            `keras.activations` or a callable; `None` means linear.
            Default: `"tanh"`.
        recurrent_activation: Activation of the gates z and r. Default:
            `"sigmoid"`.
        use_bias: Boolean, whether to add the biases `b` and `c`. Default:
            `True`.
        kernel_initializer: Initializer for `kernel` (W). Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for `recurrent_kernel` (U).
            Default: `"orthogonal"`.
        bias_initializer: Initializer for `bias`. Default: `"zeros"`.
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
            dropped in training before the products with U. Default: `0.0`.
        reset_after: Boolean, which form of the candidate, see above.
            Default: `True`.
        seed: Integer, seed of the dropout masks. Default: `None`.
        implementation: Keras' computation mode, `1` or `2`. `2` draws one
            dropout mask for all gates, `1` one mask per gate (so a seeded
            cell drops the units Keras' `GRUCell(implementation=1)`
            drops); without dropout both give the same outputs. As in
            Keras, `recurrent_dropout > 0` sets it to `1`, and the legacy
            value `0` runs as `2`. Default: `2`.
        **kwargs: Base layer arguments, e.g. `name`, `dtype`, `trainable`.

    Call arguments:
        inputs: One time step, `(batch, features)`.
        states: `[h_{t-1}]`, of shape `(batch, units)`.
        training: Boolean, whether dropout applies. Default: `False`.

    Returns:
        `(h_t, [h_t])`: the output and the new state, the same tensor.

    Example:
    >>> cell = GRUCell(1, reset_after=False, kernel_initializer="zeros",
    ...                recurrent_initializer="zeros")
    >>> h, states = cell(np.ones((1, 2), "float32"), [np.ones((1, 1), "float32")])
    >>> keras.ops.convert_to_numpy(h)  # z = 0.5, hh = 0: h = 0.5 * h_{t-1}
    array([[0.5]], dtype=float32)
    >>> rnn = keras.layers.RNN(GRUCell(4), return_sequences=True)
    >>> keras.ops.shape(rnn(np.ones((2, 5, 3), "float32")))
    (2, 5, 4)
    """

    gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def bias_shape(self):
        # (2, 3 * units) as in keras.layers.GRU, so weights load both ways.
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_bias(self):
        if self.bias is None:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def call(self, inputs, states, training=False):
        h, _ = self.step_with_gates(inputs, states, training=training)
        return h, ([h] if isinstance(states, (list, tuple)) else h)

    def step_with_gates(self, inputs, states, training=False):
        """One step: the new hidden state and the gates' values,
        `{"update": z, "reset": r, "candidate": h~}` (h = z h_prev + (1 - z) h~),
        each `(batch, units)`; `kerasseq.analysis.gate_trace` reads them."""
        h = states[0] if isinstance(states, (list, tuple)) else states
        input_mask, recurrent_mask = self.step_masks(inputs, h, training)
        x_z, x_r, x_h = self.project(inputs, self.kernel, input_mask)
        if self.bias is not None:
            x_z, x_r, x_h = (a + b for a, b in zip((x_z, x_r, x_h), ops.split(self.input_bias(), 3)))
        units = self.units
        if self.reset_after:
            m_z, m_r, m_h = self.project(h, self.recurrent_kernel, recurrent_mask)
            if self.bias is not None:
                m_z, m_r, m_h = (a + b for a, b in zip((m_z, m_r, m_h), ops.split(self.bias[1], 3)))
        else:
            masks = recurrent_mask if isinstance(recurrent_mask, list) else [recurrent_mask] * 3
            h_z, h_r, h_h = (h if m is None else h * m for m in masks)
            m_z = ops.matmul(h_z, self.recurrent_kernel[:, :units])
            m_r = ops.matmul(h_r, self.recurrent_kernel[:, units : 2 * units])
        z = self.recurrent_activation(x_z + m_z)
        r = self.recurrent_activation(x_r + m_r)
        if self.reset_after:
            hh = self.activation(x_h + r * m_h)
        else:
            hh = self.activation(x_h + ops.matmul(r * h_h, self.recurrent_kernel[:, 2 * units :]))
        h = z * h + (1 - z) * hh
        return h, {"update": z, "reset": r, "candidate": hh}

    def supports_cudnn(self):
        return super().supports_cudnn() and self.reset_after

    def fused_sequence(self, x, initial_state, mask):
        from kerasseq.layers.fused_loops import gru_sequence

        recurrent_bias = None
        if self.reset_after and self.bias is not None:
            recurrent_bias = self.bias[1]
        hs, h_last = gru_sequence(
            x, initial_state[0], self.kernel, self.recurrent_kernel,
            self.bias_or_zeros(self.input_bias()),
            self.bias_or_zeros(recurrent_bias), activation=self.activation,
            recurrent_activation=self.recurrent_activation,
            reset_after=self.reset_after, mask=mask,
        )
        return hs, [h_last]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


@keras.saving.register_keras_serializable(package="kerasseq")
class GRU(RecurrentLayer):
    """Gated recurrent unit over a sequence (Cho et al. 2014); a drop-in for
    Keras' `GRU`.

    Runs `GRUCell` (see its equations; `reset_after=False` is the
    course-notes GRU) over the time axis, as `keras.layers.RNN(GRUCell(...))`
    does, with the arguments, defaults, weights and outputs of
    Keras' `GRU`. Which loop runs, on the TensorFlow backend:

    - the cuDNN kernel, when all of these hold (the conditions of
      Keras' `GRU`):
        1. TensorFlow sees a GPU when the layer is built;
        2. `use_cudnn` is `"auto"` or `True`;
        3. `activation` is `"tanh"` and `recurrent_activation` `"sigmoid"`;
        4. `use_bias=True`;
        5. `reset_after=True`;
        6. `recurrent_dropout=0`;
        7. `unroll=False`;
        8. in training with `dropout`, `implementation=2` (one mask per
           gate does not fit the kernel);
        9. a mask, if any, is strictly right-padded and keeps a step in
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
        units: Positive integer, size of the hidden state and the output.
        activation: Activation of the candidate, a name from
            `keras.activations` or a callable; `None` means linear.
            Default: `"tanh"`.
        recurrent_activation: Activation of the update and reset gates.
            Default: `"sigmoid"`.
        use_bias: Boolean, whether to add the biases. Default: `True`.
        kernel_initializer: Initializer for `kernel`. Default:
            `"glorot_uniform"`.
        recurrent_initializer: Initializer for `recurrent_kernel`. Default:
            `"orthogonal"`.
        bias_initializer: Initializer for `bias`. Default: `"zeros"`.
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
            dropped in training before the recurrent products. Default:
            `0.0`.
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
        reset_after: Boolean, `True` for the cuDNN form, `False` for the
            course-notes GRU (reset gate applied to `h` before the matrix
            product; see `GRUCell`). Default: `True`.
        use_cudnn: `"auto"` uses cuDNN when the conditions above hold;
            `True` also, but raises a `ValueError` at build when conditions
            1 to 7 do not hold; `False` never uses it. Kept in `get_config`
            (Keras' layer leaves it out), so a reloaded layer makes the same
            choice. Default: `"auto"`.
        implementation: Keras' computation mode, `1` (one dropout mask per
            gate) or `2` (one for all gates); without dropout both give the
            same outputs. `recurrent_dropout > 0` sets it to `1` and the
            legacy `0` runs as `2`, as in Keras. See `GRUCell`. Default: `2`.
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
    >>> layer = GRU(4, reset_after=False)  # the reset gate before the matrix product
    >>> layer.build(x.shape)
    >>> [tuple(w.shape) for w in layer.get_weights()]  # kernel, recurrent kernel, bias
    [(3, 12), (4, 12), (12,)]
    >>> output, h = GRU(8, return_state=True)(x)
    >>> keras.ops.shape(output), keras.ops.shape(h)
    ((2, 8), (2, 8))
    """

    cell_class = GRUCell
    cudnn_capable = True

    def cudnn_loop(self, sequences, initial_state, mask):
        from keras.src import backend

        cell = self.cell
        return backend.gru(
            sequences, initial_state[0], mask,
            kernel=cell.kernel, recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias, activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards, unroll=self.unroll,
            reset_after=cell.reset_after,
        )
