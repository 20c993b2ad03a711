"""`build_ensemble`: the mean forecast of several trained models."""

import keras

from kerasseq.models import forecast_head as head


def build_ensemble(members, *, name="ensemble", compile=True):
    """Averages the forecasts of models that take the same windows.

    Members trained from different seeds make partly independent errors, so
    their mean forecast is more accurate than a typical member (a seed
    ensemble; `kerasseq train weather --ensemble N` trains one). The
    ensemble holds the members themselves: it saves and loads as one
    `.keras` file, and training it trains them all on the mean's loss.

    Args:
        members: two or more built `keras.Model`s with one input and one
            output, all of the same shapes. Members whose names clash (such
            as two calls of the same builder) are renamed `member_0`,
            `member_1`, ..., as a model needs unique layer names.
        name: the ensemble's name.
        compile: compile as the first member was compiled (with Adam,
            MSE loss and MAE metric if it was not), so that `evaluate`
            works as for a single model.

    Returns:
        A `keras.Model` from the members' input to the mean of their outputs.

    Example:
    >>> from kerasseq.models import build_weather_model
    >>> members = [build_weather_model(num_features=6, sequence_length=24)
    ...            for _ in range(3)]
    >>> build_ensemble(members).output_shape
    (None, 1, 1)
    """
    owner = "build_ensemble"
    members = list(members) if isinstance(members, (list, tuple)) else members
    if not isinstance(members, list) or len(members) < 2:
        raise ValueError(
            f"{owner} received members={members!r}. Pass a list of two or more "
            "built keras.Models, e.g. build_ensemble([model_a, model_b])."
        )
    for i, member in enumerate(members):
        if not isinstance(member, keras.Model) or not member.built or len(member.inputs or []) != 1 \
                or len(member.outputs or []) != 1:
            raise ValueError(
                f"{owner} received members[{i}]={member!r}. Each member must be a "
                "built keras.Model with one input and one output, such as "
                "build_weather_model(...)."
            )
    if len({id(m) for m in members}) != len(members):
        raise ValueError(
            f"{owner} received the same model more than once. Members must be "
            "distinct models (e.g. trained from different seeds)."
        )
    first = members[0]
    for i, member in enumerate(members[1:], start=1):
        for what, mine, theirs in (
            ("input", member.inputs[0].shape, first.inputs[0].shape),
            ("output", member.outputs[0].shape, first.outputs[0].shape),
        ):
            if tuple(mine) != tuple(theirs):
                raise ValueError(
                    f"{owner} received members with different {what} shapes: "
                    f"members[0] has {tuple(theirs)} and members[{i}] has {tuple(mine)}. "
                    "Build every member for the same windows and horizons."
                )
    if len({m.name for m in members}) != len(members):
        for i, member in enumerate(members):
            member.name = f"member_{i}"
    inputs = keras.Input(shape=first.inputs[0].shape[1:], dtype=first.inputs[0].dtype,
                         name=first.inputs[0].name.split(":")[0] or "inputs")
    outputs = keras.layers.Average(name="mean_forecast")([m(inputs) for m in members])
    model = keras.Model(inputs, outputs, name=name)
    if not compile:
        return model
    if first.compiled:
        # As the members were (loss, metrics, optimizer), e.g. a classifier's.
        model.compile_from_config(first.get_compile_config())
        return model
    return head.compile_forecaster(model)
