"""Tests for `recurrent_encoder`, the recurrent stack every task's head shares."""

import keras
import numpy as np
import pytest

import kerasseq
from kerasseq.models import CELLS
from kerasseq.models import recurrent_encoder


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_shapes_and_layers(cell, return_sequences):
    inputs = keras.Input((7, 3))
    outputs = recurrent_encoder(inputs, cell=cell, units=4, depth=2,
                                return_sequences=return_sequences)
    assert tuple(outputs.shape) == ((None, 7, 4) if return_sequences else (None, 4))
    model = keras.Model(inputs, outputs)
    layer_class, options = CELLS[cell]
    first, last = model.get_layer(f"{cell}_0"), model.get_layer(f"{cell}_1")
    assert type(first) is layer_class and first.return_sequences
    assert last.return_sequences == return_sequences
    for name, value in options.items():
        # Compared through the config: an activation is stored as a function.
        assert first.cell.get_config()[name] == value


def test_bidirectional_concatenates_both_directions():
    inputs = keras.Input((5, 2))
    model = keras.Model(inputs, recurrent_encoder(inputs, units=3, bidirectional=True))
    assert model.output_shape == (None, 6)
    assert isinstance(model.get_layer("bidirectional_0").forward_layer, kerasseq.layers.GRU)


def test_dropouts_reach_every_layer():
    inputs = keras.Input((5, 2))
    model = keras.Model(inputs, recurrent_encoder(inputs, cell="lstm", units=3, depth=3,
                                                  dropout=0.1, recurrent_dropout=0.2))
    for i in range(3):
        cell = model.get_layer(f"lstm_{i}").cell
        assert (cell.dropout, cell.recurrent_dropout) == (0.1, 0.2)


def test_cell_instances_are_copied_per_layer():
    inputs = keras.Input((5, 2))
    template = kerasseq.layers.GRUCell(3, reset_after=False)
    model = keras.Model(inputs, recurrent_encoder(inputs, cell=template, depth=2))
    cells = [model.get_layer(f"rnn_{i}").cell for i in range(2)]
    assert cells[0] is not cells[1] and cells[0] is not template
    assert all(c.units == 3 and c.reset_after is False for c in cells)
    x = np.random.default_rng(0).normal(size=(2, 5, 2)).astype("float32")
    assert model(x).shape == (2, 3)


@pytest.mark.parametrize(
    "keywords, message",
    [
        (dict(units=0), "recurrent_encoder received units=0. `units` must be a positive integer"),
        (dict(depth=0), "recurrent_encoder received depth=0. `depth` must be a positive integer"),
        (dict(dropout=1.0), "recurrent_encoder received dropout=1.0. `dropout` is a fraction"),
        (dict(cell="rnn"), "recurrent_encoder received cell='rnn'. Expected one of 'elman', "
                           "'elman_relu', 'gru', 'gru_reset_before', 'lstm'."),
        (dict(cell=keras.layers.Dense(3)), "Expected one of ['elman', 'elman_relu', 'gru', "
                                           "'gru_reset_before', 'lstm'] or a recurrent cell"),
    ],
    ids=["units", "depth", "dropout", "cell_name", "cell_object"],
)
def test_errors_name_the_argument(keywords, message):
    with pytest.raises(ValueError) as error:
        recurrent_encoder(keras.Input((5, 2)), **keywords)
    assert message in str(error.value)
