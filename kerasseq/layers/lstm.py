"""Long short-term memory: `LSTMCell` and `LSTM`."""

import keras
from keras import initializers
from keras import ops

from kerasseq.layers.base import GatedCell
from kerasseq.layers.base import RecurrentLayer


@keras.saving.register_keras_serializable(package="kerasseq")
class LSTMCell(GatedCell):
    """One LSTM step (Hochreiter & Schmidhuber 1997), gates ordered (i, f, c, o).

        [i, f, g, o] = x W + h U + b
        i, f, o = s(i), s(f), s(o);  g = act(g)
        c_t = f * c + i * g;  h_t = o * act(c_t)

    Args:
        units: positive int, size of the hidden and cell states.
        recurrent_activation: gate activation, default `"sigmoid"`.
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et
            al. 2015), as Keras' `LSTMCell` does by default.
        Other arguments as in `ElmanCell`.

    Call arguments:
        inputs: `(batch, features)`.
        states: `[h, c]`.

    Example:
    >>> rnn = keras.layers.RNN(LSTMCell(4))
    >>> rnn(np.ones((2, 5, 3), "float32")).shape
    (2, 4)
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
        h, c = states
        input_mask, recurrent_mask = self.step_masks(inputs, h, training)
        g = [a + b for a, b in zip(
            self.project(inputs, self.kernel, input_mask),
            self.project(h, self.recurrent_kernel, recurrent_mask),
        )]
        if self.use_bias:
            g = [a + b for a, b in zip(g, ops.split(self.bias, 4))]
        g_i, g_f, g_c, g_o = g
        c = self.recurrent_activation(g_f) * c + self.recurrent_activation(g_i) * self.activation(g_c)
        h = self.recurrent_activation(g_o) * self.activation(c)
        return h, [h, c]

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
    """LSTM over a sequence; the arguments, defaults and weights of Keras' `LSTM`.

    Takes every `LSTMCell` argument by keyword plus the `keras.layers.RNN`
    ones. On a GPU, when the configuration is one cuDNN supports, it runs
    the fused cuDNN kernel.

    Example:
    >>> layer = LSTM(8, return_sequences=True, return_state=True)
    >>> outputs, h, c = layer(np.ones((2, 5, 3), "float32"))
    >>> outputs.shape, c.shape
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
