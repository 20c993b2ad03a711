"""The Elman recurrent network: `ElmanCell` and `ElmanRNN`."""

import keras
from keras import ops

from kerasseq.layers.base import RecurrentCell
from kerasseq.layers.base import RecurrentLayer


@keras.saving.register_keras_serializable(package="kerasseq")
class ElmanCell(RecurrentCell):
    """One Elman step: `h_t = activation(x_t W + h_{t-1} U + b)`.

    Weights are laid out as in Keras' `SimpleRNNCell` (`kernel`,
    `recurrent_kernel`, `bias`), so they copy both ways.

    Args:
        units: positive int, size of the hidden state.
        activation: default `"tanh"`.
        use_bias: whether to add `b`.
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: as in Keras.
        dropout: fraction of input units dropped (one mask per sequence).
        recurrent_dropout: fraction of state units dropped before `U`.
        seed: seed of the dropout masks.

    Call arguments:
        inputs: `(batch, features)`, one time step.
        states: `[h]`, `h` of shape `(batch, units)`.
        training: whether dropout applies.

    Returns:
        `(h_t, [h_t])`.

    Example:
    >>> rnn = keras.layers.RNN(ElmanCell(4))
    >>> rnn(np.ones((2, 5, 3), "float32")).shape
    (2, 4)
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
    """Elman network over a sequence: `keras.layers.RNN(ElmanCell(...))`, faster.

    Takes every `ElmanCell` argument by keyword, plus the `keras.layers.RNN`
    ones (`return_sequences`, `return_state`, `go_backwards`, `stateful`,
    `unroll`, `zero_output_for_mask`). Same defaults and weights as
    Keras' `SimpleRNN`.

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: optional `[h]`.
        mask: optional `(batch, timesteps)` boolean.
        training: whether dropout applies.

    Example:
    >>> layer = ElmanRNN(8, return_sequences=True)
    >>> layer(np.ones((2, 5, 3), "float32")).shape
    (2, 5, 8)
    """

    cell_class = ElmanCell
