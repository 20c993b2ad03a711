"""`build_weather_model`: a recurrent forecaster over windows of weather data."""

import keras

from kerasseq.models import forecast_head as head
from kerasseq.models.encoder import recurrent_encoder
from kerasseq.validation import check_one_of

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
    residual=True,
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
        cell, units, depth, dropout, recurrent_dropout, bidirectional: the
            recurrent encoder, as in `kerasseq.models.recurrent_encoder`.
        horizons: the horizon(s) given to `forecast_dataset`; only their
            count matters here.
        output_steps: consecutive steps per horizon.
        target_index: position(s) of the forecast column(s) among the features.
        normalizer: an adapted `keras.layers.Normalization` over the features
            (e.g. `pipelines.fit_normalizer(train_rows)`), or None for inputs
            that are already scaled.
        residual: forecast the change from the last observed target value
            (a learned correction to the naive forecast; default). The
            model then starts at the naive forecast instead of at the
            target's mean, which matters most on smooth series. Pass False
            for the plain recurrent forecaster of the course notes.
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
    x = recurrent_encoder(
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
