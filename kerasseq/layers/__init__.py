"""Recurrent cells and layers with the Keras contract (`keras.layers.RNN` runs the loop)."""

from kerasseq.layers.elman import ElmanCell
from kerasseq.layers.elman import ElmanRNN
from kerasseq.layers.gru import GRU
from kerasseq.layers.gru import GRUCell
from kerasseq.layers.lstm import LSTM
from kerasseq.layers.lstm import LSTMCell

__all__ = ["ElmanCell", "ElmanRNN", "GRUCell", "GRU", "LSTMCell", "LSTM"]
