"""Gated recurrent units: `GRUCell` and `GRU`, both reset-gate forms."""

import keras
from keras import ops

from kerasseq.layers.base import GatedCell
from kerasseq.layers.base import RecurrentLayer


@keras.saving.register_keras_serializable(package="kerasseq")
class GRUCell(GatedCell):
    """One GRU step (Cho et al. 2014), gates ordered (z, r, h) as in Keras.

        z = s(x Wz + h Uz + bz),  r = s(x Wr + h Ur + br)
        reset_after=True (Keras default, cuDNN):
            hh = act(x Wh + bh + r * (h Uh + bh'))
        reset_after=False (course notes; reset before the matrix product):
            hh = act(x Wh + (r * h) Uh + bh)
        h_t = z * h + (1 - z) * hh

    `bias` is `(2, 3 * units)` (input row, recurrent row) with
    `reset_after=True` and `(3 * units,)` otherwise, as in Keras' `GRUCell`.

    Args:
        units: positive int, size of the hidden state.
        activation: candidate activation, default `"tanh"`.
        recurrent_activation: gate activation, default `"sigmoid"`.
        reset_after: which form, see above.
        Other arguments as in `ElmanCell`.

    Example:
    >>> rnn = keras.layers.RNN(GRUCell(4, reset_after=False))
    >>> rnn(np.ones((2, 5, 3), "float32")).shape
    (2, 4)
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
        return h, ([h] if isinstance(states, (list, tuple)) else h)

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
    """GRU over a sequence; the arguments, defaults and weights of Keras' `GRU`.

    Takes every `GRUCell` argument by keyword (`reset_after=False` for the
    course-notes form) plus the `keras.layers.RNN` ones. On a GPU, when the
    configuration is one cuDNN supports, it runs the fused cuDNN kernel.

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: optional `[h]`.
        mask: optional `(batch, timesteps)` boolean.
        training: whether dropout applies.

    Example:
    >>> layer = GRU(8, return_state=True)
    >>> output, h = layer(np.ones((2, 5, 3), "float32"))
    >>> output.shape, h.shape
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
