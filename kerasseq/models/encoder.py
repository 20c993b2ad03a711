"""`recurrent_encoder`: stacked kerasseq recurrent layers, shared by every task's
head; `transfer_encoder` starts one encoder from another model's."""

import keras

from kerasseq import layers
from kerasseq.validation import ArgumentError
from kerasseq.validation import check_one_of
from kerasseq.validation import check_positive_int
from kerasseq.validation import check_rate

# Named cells; "gru_reset_before" is the course-notes GRU (reset gate
# applied to h before the recurrent matrix product), "elman_relu" the
# course report's Elman network (ReLU, trained with gradient clipping).
CELLS = {
    "elman": (layers.ElmanRNN, {}),
    "elman_relu": (layers.ElmanRNN, {"activation": "relu"}),
    "gru": (layers.GRU, {}),
    "gru_reset_before": (layers.GRU, {"reset_after": False}),
    "lstm": (layers.LSTM, {}),
}


def recurrent_encoder(
    inputs,
    *,
    cell="gru",
    units=32,
    depth=1,
    dropout=0.0,
    recurrent_dropout=0.0,
    bidirectional=False,
    return_sequences=False,
    stateful=False,
    owner="recurrent_encoder",
):
    """Runs `depth` stacked recurrent layers over `inputs`.

    Every layer but the last returns sequences; the last returns them only
    with `return_sequences=True` (for attention and language-model heads).
    Layers are named `{cell}_{i}` (`rnn_{i}` for a cell instance) and
    `bidirectional_{i}` when wrapped.

    Args:
        inputs: a tensor `(batch, timesteps, features)`.
        cell: "elman", "elman_relu", "gru", "gru_reset_before", "lstm" (see `CELLS`), or a
            recurrent cell instance, copied for each layer.
        units: hidden units per layer.
        depth: number of stacked layers.
        dropout: dropout rate of each layer's inputs.
        recurrent_dropout: dropout rate of each layer's recurrent state.
        bidirectional: wrap each layer in `keras.layers.Bidirectional`
            (outputs of both directions concatenated).
        return_sequences: whether the last layer returns every step.
        stateful: carry each layer's final state into the next batch
            (truncated BPTT over a long stream; `inputs` needs a fixed
            batch size).
        owner: the caller, named in errors.

    Returns:
        The last layer's output: `(batch, units)`, or `(batch, timesteps,
        units)` with `return_sequences`; `2 * units` features when
        bidirectional.

    Example:
    >>> x = keras.Input((10, 3))
    >>> recurrent_encoder(x, cell="lstm", units=8, depth=2).shape
    (None, 8)
    >>> recurrent_encoder(x, units=4, bidirectional=True, return_sequences=True).shape
    (None, 10, 8)
    """
    units = check_positive_int("units", units, owner=owner, example=f"{owner}(..., units=32)")
    depth = check_positive_int("depth", depth, owner=owner, example=f"{owner}(..., depth=2)")
    dropout = check_rate("dropout", dropout, owner=owner)
    recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout, owner=owner)
    if isinstance(cell, str):
        check_one_of("cell", cell, list(CELLS), owner=owner)
        layer_class, options = CELLS[cell]

        def make_layer(sequences, i):
            return layer_class(
                units, dropout=dropout, recurrent_dropout=recurrent_dropout,
                return_sequences=sequences, stateful=stateful, name=f"{cell}_{i}", **options,
            )
    elif isinstance(cell, keras.layers.Layer) and hasattr(cell, "state_size"):
        config = cell.get_config()

        def make_layer(sequences, i):
            return keras.layers.RNN(
                cell.__class__.from_config({**config, "name": None}),
                return_sequences=sequences, stateful=stateful, name=f"rnn_{i}",
            )
    else:
        raise ValueError(
            f"{owner} received cell={cell!r}. Expected one of {list(CELLS)} or a "
            "recurrent cell instance such as kerasseq.layers.GRUCell(32)."
        )
    x = inputs
    for i in range(depth):
        layer = make_layer(return_sequences or i < depth - 1, i)
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
    return x


def transfer_encoder(source, target, *, cell, depth, owner="transfer_encoder"):
    """Copies the recurrent layers of `source` into those of `target`.

    Both were built by `recurrent_encoder` with the same `cell` and `depth`
    (layers `{cell}_0` ... `{cell}_{depth-1}`), e.g. a language model that
    starts a classifier: same units, and input features of the same size.

    Args:
        source: the trained model, e.g. from `build_language_model`.
        target: the model to start, e.g. from `build_sentiment_model`.
        cell: the cell name both used.
        depth: the number of layers copied.
        owner: the caller, named in errors.

    Example:
    >>> a = keras.Model(x := keras.Input((None, 3)), recurrent_encoder(x, units=4))
    >>> b = keras.Model(y := keras.Input((None, 3)), recurrent_encoder(y, units=4))
    >>> transfer_encoder(a, b, cell="gru", depth=1)
    >>> bool((a.layers[1].get_weights()[0] == b.layers[1].get_weights()[0]).all())
    True
    """
    found = {layer.name: layer for layer in source.layers}
    for i in range(depth):
        name = f"{cell}_{i}"
        if name not in found:
            recurrent = [n for n, layer in found.items() if isinstance(layer, keras.layers.RNN)]
            raise ArgumentError(
                "encoder",
                f"{owner} received encoder={source.name!r}, which has no layer {name!r} (its "
                f"recurrent layers: {recurrent}). Build this model with the encoder's cell and "
                "depth, one way (not bidirectional).",
            )
        weights = found[name].get_weights()
        layer = target.get_layer(name)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [tuple(w.shape) for w in weights] != expected:
            raise ArgumentError(
                "encoder",
                f"{owner} received encoder={source.name!r}, whose layer {name!r} has weights of "
                f"shapes {[tuple(w.shape) for w in weights]}, not {expected}: pass the encoder's "
                "units (and, for the first layer, its embedding size).",
            )
        layer.set_weights(weights)
