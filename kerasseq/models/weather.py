"""`build_weather_model`: a recurrent forecaster over windows of weather data."""

import keras

from kerasseq import layers
from kerasseq.models import forecast_head as head
from kerasseq.validation import check_one_of
from kerasseq.validation import check_positive_int
from kerasseq.validation import check_rate

# Named cells; "gru_reset_before" is the course-notes GRU (reset gate
# applied to h before the recurrent matrix product).
CELLS = {
    "elman": (layers.ElmanRNN, {}),
    "gru": (layers.GRU, {}),
    "gru_reset_before": (layers.GRU, {"reset_after": False}),
    "lstm": (layers.LSTM, {}),
}


def recurrent_stack(x, *, cell, units, depth, dropout, recurrent_dropout, bidirectional, owner):
    """`depth` recurrent layers; all but the last return sequences.

    Args:
        x: input tensor `(batch, timesteps, features)`.
        cell: a name in `CELLS` or a cell instance (copied per layer).
        units, depth, dropout, recurrent_dropout, bidirectional: as in
            `build_weather_model`.
        owner: the caller, named in errors.

    Returns:
        The last layer's output, `(batch, units)` (or `2 * units` bidirectional).
    """
    units = check_positive_int("units", units, owner=owner, example=f"{owner}(..., units=32)")
    depth = check_positive_int("depth", depth, owner=owner, example=f"{owner}(..., depth=2)")
    dropout = check_rate("dropout", dropout, owner=owner)
    recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout, owner=owner)
    if isinstance(cell, str):
        check_one_of("cell", cell, list(CELLS), owner=owner)
        layer_class, options = CELLS[cell]

        def make_layer(last, i):
            return layer_class(
                units, dropout=dropout, recurrent_dropout=recurrent_dropout,
                return_sequences=not last, name=f"{cell}_{i}", **options,
            )
    elif isinstance(cell, keras.layers.Layer) and hasattr(cell, "state_size"):
        config = cell.get_config()

        def make_layer(last, i):
            return keras.layers.RNN(
                cell.__class__.from_config({**config, "name": None}),
                return_sequences=not last, name=f"rnn_{i}",
            )
    else:
        raise ValueError(
            f"{owner} received cell={cell!r}. Expected one of {list(CELLS)} or a "
            "recurrent cell instance such as kerasseq.layers.GRUCell(32)."
        )
    for i in range(depth):
        layer = make_layer(i == depth - 1, i)
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
    return x


def build_weather_model(
    *,
    num_features,
    sequence_length=None,
    cell="gru",
    units=32,
    depth=1,
    dropout=0.0,
    recurrent_dropout=0.0,
    bidirectional=False,
    horizons=1,
    output_steps=1,
    target_index=0,
    normalizer=None,
    residual=False,
    learning_rate=1e-3,
    loss="mse",
    compile=True,
):
    """Builds a recurrent weather forecaster from kerasseq layers.

    The model takes raw windows `(batch, sequence_length, num_features)`,
    normalizes them with `normalizer`'s training statistics, runs `depth`
    recurrent layers and returns `(batch, num_outputs, num_targets)`
    forecasts in the data's units: the shapes `pipelines.forecast_dataset`
    yields for the same `horizons` and `output_steps`.

    Args:
        num_features: number of input columns.
        sequence_length: window length, or None for any length.
        cell: "elman", "gru", "gru_reset_before", "lstm", or a cell instance.
        units: hidden units per recurrent layer.
        depth: number of stacked recurrent layers.
        dropout, recurrent_dropout: dropout rates of the recurrent layers.
        bidirectional: wrap each recurrent layer in `keras.layers.Bidirectional`.
        horizons: the horizon(s) given to `forecast_dataset`; only their
            count matters here.
        output_steps: consecutive steps per horizon.
        target_index: position(s) of the forecast column(s) among the features.
        normalizer: an adapted `keras.layers.Normalization` over the features
            (e.g. `pipelines.fit_normalizer(train_rows)`), or None for inputs
            that are already scaled.
        residual: forecast the change from the last observed target value
            (a learned correction to the naive forecast).
        learning_rate: Adam's learning rate.
        loss: "mse" (default), "mae" (trains for the metric the forecasts
            are judged by) or "huber".
        compile: compile with Adam, MSE loss and MAE metric.

    Returns:
        A `keras.Model`.

    Example:
    >>> model = build_weather_model(num_features=6, sequence_length=120)
    >>> model.output_shape
    (None, 1, 1)
    >>> model = build_weather_model(num_features=6, cell="lstm", units=64, depth=2,
    ...                             horizons=["1h", "6h", "12h"])
    >>> model.output_shape
    (None, 3, 1)
    """
    owner = "build_weather_model"
    inputs = head.window_input(sequence_length, num_features, owner=owner)
    num_features = inputs.shape[-1]
    targets = head.target_positions(target_index, num_features, owner=owner)
    num_outputs = head.count_outputs(horizons, output_steps, owner=owner)
    statistics = None
    if normalizer is not None:
        statistics = head.normalizer_statistics(normalizer, num_features, owner=owner)
    scaled = head.scale_inputs(inputs, statistics)
    x = recurrent_stack(
        scaled, cell=cell, units=units, depth=depth, dropout=dropout,
        recurrent_dropout=recurrent_dropout, bidirectional=bidirectional, owner=owner,
    )
    outputs = head.forecast_head(
        x, num_outputs=num_outputs, targets=targets, statistics=statistics,
        last_values=scaled if residual else None,
    )
    name = cell if isinstance(cell, str) else type(cell).__name__.lower()
    model = keras.Model(inputs, outputs, name=f"{name}_forecaster")
    check_one_of("loss", loss, head.LOSSES, owner=owner)
    return head.compile_forecaster(model, learning_rate, loss) if compile else model
