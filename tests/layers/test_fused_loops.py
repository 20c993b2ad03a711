"""`fused_loops`: which loops compile with XLA (their numbers are checked
against Keras through the layers, in test_elman/test_gru/test_lstm)."""

import numpy as np
import pytest
import tensorflow as tf

from kerasseq.layers import GRU
from kerasseq.layers import LSTM
from kerasseq.layers import ElmanRNN
from kerasseq.layers import base


def _xla_calls(graph):
    return [
        op for op in graph.get_operations()
        if "_XlaMustCompile" in op.node_def.attr and op.get_attr("_XlaMustCompile")
    ]


@pytest.mark.parametrize("cls, compiled", [(GRU, True), (ElmanRNN, False), (LSTM, False)])
def test_only_the_traced_gru_forward_compiles_with_xla(monkeypatch, cls, compiled):
    # bench/cells.py measured XLA faster for the GRU step only.
    monkeypatch.setattr(base, "gpu_available", lambda: False)
    layer = cls(3, return_sequences=True)
    inputs = tf.constant(np.ones((2, 4, 3), "float32"))
    layer.build(inputs.shape)

    def train_step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x))
        return tape.gradient(loss, [x, *layer.trainable_weights])

    graph = tf.function(train_step).get_concrete_function(inputs).graph
    assert bool(_xla_calls(graph)) is compiled
