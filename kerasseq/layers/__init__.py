"""Recurrent cells and layers with the Keras contract (`keras.layers.RNN` runs
the loop), attention and pooling layers over sequences, the tied
embedding of language models, and the text preprocessing layer that
raw-text models contain."""

from kerasseq.layers.attention import AttentionPooling
from kerasseq.layers.attention import TokenScores
from kerasseq.layers.attention import WindowedAttention
from kerasseq.layers.base import portable_loops
from kerasseq.layers.elman import ElmanCell
from kerasseq.layers.elman import ElmanRNN
from kerasseq.layers.embedding import TiedEmbedding
from kerasseq.layers.gru import GRU
from kerasseq.layers.gru import GRUCell
from kerasseq.layers.lstm import LSTM
from kerasseq.layers.lstm import LSTMCell
from kerasseq.layers.pooling import MaskedGlobalPooling1D
# Registered here for `keras.saving.load_model`: text models contain them.
from pipelines.preprocessing import TruncateTokens
from pipelines.preprocessing import standardize_text  # noqa: F401

__all__ = [
    "ElmanCell", "ElmanRNN", "GRUCell", "GRU", "LSTMCell", "LSTM",
    "WindowedAttention", "AttentionPooling", "TokenScores", "MaskedGlobalPooling1D",
    "TiedEmbedding", "TruncateTokens", "portable_loops",
]
