"""The weather forecasting task, end to end: data, windows, models, metrics.

`WeatherTask` holds one configuration: which data, which columns, how far
ahead, which model. It loads and splits the data (chronologically, with
normalization statistics from the training rows only), builds the
recurrent model and its baselines, trains, and evaluates every model with
the same code. `kerasseq train weather` and `bench/quality_weather.py` run
through it, so their figures come from one place.
"""

import dataclasses

import numpy as np

from kerasseq.models.encoder import CELLS
from kerasseq.models.forecast_head import LOSSES
from kerasseq.tasks import register
from kerasseq.tasks.base import Task
from kerasseq.tasks.base import TaskConfig
from kerasseq.tasks.base import option
from kerasseq.validation import ArgumentError

# The data's natural choices when `target` is not given.
DEFAULT_TARGETS = {"nyc": "temp", "jena": "T (degC)"}
BASELINES = ("naive", "seasonal_naive", "linear", "dense")
YEAR_FEATURES = ("year_sin", "year_cos")
# Ridge penalties the least-squares linear baseline chooses from on
# validation: hundreds of collinear window values overfit the training rows.
RIDGE_PENALTIES = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _spans_less_than_a_year(index):
    import pandas as pd

    # Only a time index has a time of year; other indexes have no such columns to drop.
    if not isinstance(index, pd.DatetimeIndex):
        return False
    return len(index) < 2 or index[-1] - index[0] < pd.Timedelta(days=365)


def _horizon(text):
    """A horizon flag value: rows if a whole number ("24"), else a time ("24h")."""
    return int(text) if text.isdigit() else text


def _fractions(text):
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"expected three fractions such as 0.5,0.25,0.25, got {text!r}") from None


def _names(text):
    return [name for name in text.split(",") if name]


@dataclasses.dataclass
class WeatherConfig(TaskConfig):
    """Everything that defines a weather run; saved as the run's `config.json`.

    Fields are the keywords of `build_weather_model` and
    `pipelines.forecast_dataset` (`past` is the window length) and the
    flags of `kerasseq train weather`.
    """

    data: str = option("nyc", group="data",
                       help="'nyc' (embedded, offline), 'jena', or a CSV path")
    target: str = option(None, group="data", help="column to forecast (default: temp / T (degC))")
    features: list = option(None, group="data", parse=_names,
                            help="comma-separated input columns (default: all)")
    time_column: str = option(None, group="data", help="time column of a CSV file")
    missing: str = option("error", group="data", choices=["error", "interpolate", "drop"],
                          help="what to do with NaN or gaps in a CSV file")
    time_features: bool = option(True, group="data", help="add time-of-day/year sin/cos inputs")
    past: int = option(48, group="data", help="steps per input window")
    sampling_rate: int = option(1, group="data", help="rows between window steps")
    horizons: list = option(["24h"], group="data", flag="--horizon", parse=_horizon, repeat=True,
                            help="how far ahead, in rows or as time ('24h'); repeat for several")
    output_steps: int = option(1, group="data",
                               help="forecast the next N sampled steps from the horizon")
    split: tuple = option((0.5, 0.25, 0.25), group="data", parse=_fractions,
                          help="train,validation,test fractions, in time order")
    season: str = option("24h", group="data", help="period of the seasonal naive baseline")
    cell: str = option("gru", choices=list(CELLS), help="recurrent cell")
    units: int = option(32, help="hidden units per recurrent layer")
    depth: int = option(1, help="stacked recurrent layers")
    dropout: float = option(0.0, help="input dropout of each recurrent layer")
    recurrent_dropout: float = option(0.0, help="recurrent-state dropout")
    bidirectional: bool = option(False, help="read each window both ways")
    residual: bool = option(True, help="forecast the change from the last observed target value")
    baselines: list = option(list(BASELINES), parse=_names,
                             help="comma-separated baselines, or '' for none")
    learning_rate: float = option(1e-3, group="training", help="Adam's learning rate")
    loss: str = option("mse", group="training", choices=list(LOSSES),
                       help="training loss of the recurrent model")
    placement: str = option("auto", group="training", choices=["auto", "host", "device"],
                            help="where training windows are gathered: in the tf.data pipeline on the "
                                 "host, or on the accelerator, the series placed there once (auto: the "
                                 "accelerator when TensorFlow sees a GPU and the model has one replica)")


def load_frame(config):
    """Loads `config.data`: "nyc", "jena", or a CSV path."""
    from pipelines import add_time_features
    from pipelines import load_csv
    from pipelines import load_jena
    from pipelines import load_nyc_weather

    if config.data == "nyc":
        frame = load_nyc_weather()
    elif config.data == "jena":
        frame = load_jena()
    else:
        if not config.time_column:
            raise ArgumentError(
                "time_column",
                f"WeatherTask received data={config.data!r}, a CSV file, and no time_column: "
                "name its time column, e.g. time_column='Date Time'.",
            )
        columns = None
        if config.features:
            # Read only the chosen columns, so text columns elsewhere in the file are fine.
            chosen = [config.target, *config.features] if config.target else config.features
            columns = list(dict.fromkeys(chosen))
        frame = load_csv(
            config.data, time_column=config.time_column, columns=columns, missing=config.missing
        )
    if config.time_features:
        frame = add_time_features(frame)
    return frame


@register("weather")
class WeatherTask(Task):
    """Forecast a weather variable from past hours: data, splits and models
    of one `WeatherConfig`.

    Loads and splits the data chronologically, with normalization
    statistics from the training rows only; builds the recurrent forecaster
    and its baselines (naive, seasonal naive, linear by least squares,
    dense); trains and evaluates every model with the same code.
    `kerasseq train weather` and `bench/quality_weather.py` run through it.

    Args:
        config: a `WeatherConfig` (or a dict of its fields).
        frame: optional DataFrame to use instead of loading `config.data`.

    Example:
    >>> task = WeatherTask(WeatherConfig(data="nyc", epochs=1))  # doctest: +SKIP
    >>> model = task.build_model()  # doctest: +SKIP
    >>> task.fit(model)  # doctest: +SKIP
    >>> task.evaluate(model)["test"]["mae"]  # doctest: +SKIP
    """

    config_class = WeatherConfig
    # Runs are judged by MAE, so the epoch kept is the one with the best
    # validation MAE (the loss, MSE by default, weighs large errors more).
    monitor = "val_mae"
    keywords = {"columns": "features", "sequence_length": "past", "fractions": "split"}
    baseline_names = BASELINES
    source_options = ("data", "target", "features", "time_column", "missing", "time_features")
    example = ("kerasseq train weather --data nyc --target temp --past 48 --horizon 24h "
               "--cell gru --units 32 --epochs 30 --out runs/nyc-gru")

    def __init__(self, config, frame=None):
        from pipelines import chronological_split
        from pipelines import fit_normalizer
        from pipelines import resolve_horizons

        super().__init__(config)
        config = self.config
        frame = load_frame(config) if frame is None else frame
        target = config.target or DEFAULT_TARGETS.get(config.data)
        if target is None or target not in frame.columns:
            raise ArgumentError(
                "target",
                f"WeatherTask received target={target!r}, which is not a column of "
                f"{config.data}. Columns: {list(frame.columns)}.",
            )
        features = list(config.features or frame.columns)
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise ArgumentError(
                "features",
                f"WeatherTask received features={config.features!r}; {missing} are not "
                f"columns of {config.data}. Columns: {list(frame.columns)}.",
            )
        num_train, num_val, _ = chronological_split(len(frame), config.split)
        if not config.features and _spans_less_than_a_year(frame.index[:num_train]):
            # Every validation and test day would have a time-of-year phase
            # the model never saw in training: extrapolation, not a feature.
            features = [f for f in features if f not in YEAR_FEATURES]
        # The target goes first: target_index=0 for every builder.
        self.features = [target] + [f for f in features if f != target]
        self.target = target
        self.source = frame
        self.frame = frame[self.features]
        self.horizon_rows = resolve_horizons(
            self.horizons, index=frame.index, sampling_rate=config.sampling_rate,
            output_steps=config.output_steps,
        )
        try:
            self.season_rows = resolve_horizons(config.season, index=frame.index)[0]
        except ValueError as error:
            raise ArgumentError(
                "season",
                f"WeatherTask received season={config.season!r}, which is not a period of "
                f"{config.data}: {error}",
            ) from None
        self.bounds = {
            "train": (0, num_train),
            "val": (num_train, num_train + num_val),
            "test": (num_train + num_val, len(frame)),
        }
        self.normalizer = fit_normalizer(self.frame.to_numpy()[:num_train])

    @property
    def horizons(self):
        return self.config.horizons if len(self.config.horizons) > 1 else self.config.horizons[0]

    @property
    def model_name(self):
        return self.config.cell

    def dataset(self, split, *, shuffle=False, seed=None, batch_size=None):
        """The `(windows, targets)` dataset of `split` ("train", "val" or "test");
        `seed` (default: the config's) orders the shuffle."""
        from pipelines import forecast_dataset

        return forecast_dataset(self.frame, **self._window_keywords(split, shuffle, seed, batch_size))

    def _window_keywords(self, split, shuffle, seed, batch_size):
        start, end = self.bounds[split]
        return dict(
            targets=self.target, past=self.config.past, sampling_rate=self.config.sampling_rate,
            horizons=self.horizons, output_steps=self.config.output_steps,
            batch_size=batch_size or self.config.batch_size, shuffle=shuffle,
            seed=self.config.seed if seed is None else seed, start_index=start, end_index=end,
        )

    def _shape_keywords(self):
        return dict(
            num_features=len(self.features), sequence_length=self.config.past,
            horizons=self.horizons, output_steps=self.config.output_steps, target_index=0,
        )

    def build_model(self, *, seed=None, **overrides):
        """The configured recurrent forecaster, its initial weights drawn from
        `seed` (default: the config's); `overrides` replace builder keywords."""
        import keras

        from kerasseq.models import build_weather_model

        c = self.config
        # Seeded here, not only in fit: the initial weights are drawn now, and
        # a run is reproducible only if they are too.
        keras.utils.set_random_seed(c.seed if seed is None else seed)
        keywords = dict(
            cell=c.cell, units=c.units, depth=c.depth, dropout=c.dropout,
            recurrent_dropout=c.recurrent_dropout, bidirectional=c.bidirectional,
            residual=c.residual,
            learning_rate=c.learning_rate, loss=c.loss, normalizer=self.normalizer,
            **self._shape_keywords(),
        )
        keywords.update(overrides)
        return build_weather_model(**keywords)

    def output_names(self):
        """One name per forecast output, by its lead time: `forecast_24h`,
        `forecast_30min`, or `forecast_step_N` on an irregular index."""
        import pandas as pd

        index = self.frame.index
        step = pd.Series(index[1:] - index[:-1]).median() if isinstance(index, pd.DatetimeIndex) else None
        names = []
        for rows in self.horizon_rows:
            if step is None or pd.isna(step):
                names.append(f"forecast_step_{rows}")
                continue
            minutes = int((step * rows).total_seconds() // 60)
            names.append(f"forecast_{minutes // 60}h" if minutes % 60 == 0 else f"forecast_{minutes}min")
        return names

    def serving(self, model, assets):
        """`serving_default`: raw windows `[batch, past, features]` (float32,
        the columns of `features`, in their units; normalization is inside
        the model) to one forecast per lead time, in the target's units. A
        window with NaN or infinite values is an error, not a forecast."""
        import tensorflow as tf

        from kerasseq.export import Serving

        names = self.output_names()
        spec = tf.TensorSpec([None, self.config.past, len(self.features)], tf.float32, name="window")

        past, width = self.config.past, len(self.features)
        shape = f"[batch, {past}, {width}] (past steps, then the columns {self.features})"

        def serve(window):
            # The checks must run before the model: without the control
            # dependency a bad shape could fail first inside the graph, with
            # a message about internal ops instead of the fix.
            checks = [
                tf.debugging.assert_equal(tf.rank(window), 3, message=f"The window must be {shape}"),
            ]
            with tf.control_dependencies(checks):
                checks.append(tf.debugging.assert_equal(
                    tf.shape(window)[1:], tf.constant([past, width]),
                    message=f"The window must be {shape}"))
            with tf.control_dependencies(checks):
                window = tf.debugging.assert_all_finite(
                    window, "The window holds NaN or infinite values: fill the gaps (e.g. "
                            "interpolate) before forecasting")
            forecast = model(window, training=False)
            return {name: forecast[:, i, 0] for i, name in enumerate(names)}

        return Serving({"serving_default": (serve, [spec])})

    def build_baselines(self):
        """The configured baselines, by name; `seasonal_naive` only where one
        season back lies inside the window."""
        import keras

        from kerasseq import models

        keras.utils.set_random_seed(self.config.seed)
        shape = self._shape_keywords()
        builders = {
            "naive": lambda: models.build_naive_model(**shape),
            "seasonal_naive": lambda: models.build_seasonal_naive_model(
                num_features=shape["num_features"], sequence_length=self.config.past,
                horizon_rows=self.horizon_rows, sampling_rate=self.config.sampling_rate,
                season_rows=self.season_rows,
                target_index=0,
            ),
            "linear": lambda: models.build_linear_model(normalizer=self.normalizer,
                                                        residual=self.config.residual, **shape),
            "dense": lambda: models.build_dense_model(normalizer=self.normalizer, **shape),
        }
        baselines = {}
        for name in self.config.baselines:
            try:
                baselines[name] = builders[name]()
            except ValueError as error:
                if name != "seasonal_naive":
                    raise
                print(f"Skipping the seasonal naive baseline: {error}")
        seasonal = baselines.get("seasonal_naive")
        if "naive" in baselines and seasonal and not any(seasonal.get_layer("copy").lags):
            # A horizon that is a whole number of seasons: the value one
            # season before the target is the last observed one.
            print(f"Not listing seasonal_naive: with horizons {self.horizon_rows} rows ahead and "
                  f"a season of {self.config.season} it is the naive forecast.")
            del baselines["seasonal_naive"]
        return baselines

    @property
    def placement(self):
        """Where training windows are gathered: "host" or "device"."""
        if self.config.placement != "auto":
            return self.config.placement
        import tensorflow as tf

        return "device" if tf.config.list_logical_devices("GPU") else "host"

    def device_dataset(self, split, *, shuffle=False, seed=None, batch_size=None):
        """`dataset(split)` as window start rows and targets, for the task's
        `pipelines.WindowGather` (`self.window_gather`, made at the first
        call): the same samples, in the same order."""
        from pipelines import device_forecast_dataset

        dataset, self.window_gather = device_forecast_dataset(
            self.frame, **self._window_keywords(split, shuffle, seed, batch_size),
            gather=getattr(self, "window_gather", None))
        return dataset

    def fit(self, model, *, seed=None, train=None, validation=None, **kwargs):
        """`Task.fit`; where `placement` is "device", on the task's own
        splits, `model` trains behind a `pipelines.WindowGather` on window
        start rows (the same windows and order), and the checkpoints save
        `model` itself."""
        import keras

        from kerasseq import runs

        # auto keeps several replicas on host windows: one copy of the
        # series on the first GPU would be read by all of them.
        several = model.distribute_strategy.num_replicas_in_sync > 1 and self.config.placement == "auto"
        if self.placement == "host" or several or train is not None or validation is not None \
                or not model.trainable_weights:
            return super().fit(model, seed=seed, train=train, validation=validation, **kwargs)
        seed = self.config.seed if seed is None else seed
        batch_size = self.global_batch_size(model)
        validation = self.device_dataset("val", batch_size=batch_size)
        # In the model's strategy scope, so that the wrapper trains as it would.
        with model.distribute_strategy.scope():
            wrapper = keras.Sequential([keras.Input((), dtype="int64"), self.window_gather, model],
                                       name=f"{model.name}_on_device_windows")
            config = model.get_compile_config()
            wrapper.compile(optimizer=model.optimizer, loss=model.loss,
                            metrics=[keras.metrics.get(keras.saving.deserialize_keras_object(m))
                                     for m in config.get("metrics") or []])

        def train(epoch):
            return self.device_dataset("train", shuffle=True, seed=runs.epoch_seed(seed, epoch),
                                       batch_size=batch_size)

        return super().fit(wrapper, seed=seed, train=train, validation=validation, saved=model, **kwargs)

    def fit_baseline(self, name, model, *, verbose=2):
        """Fits the linear baseline by least squares (the best linear model of
        the window, in closed form, with the ridge penalty of `RIDGE_PENALTIES`
        that does best on validation); trains the others as the main model."""
        import time

        from kerasseq.models import fit_least_squares

        if name != "linear":
            if model.trainable_weights:
                print(f"Training the {name} baseline")
            return super().fit_baseline(name, model, verbose=verbose)
        start = time.perf_counter()
        fit = fit_least_squares(model, self.dataset("train"), l2=RIDGE_PENALTIES,
                                validation_data=self.dataset("val"))
        print(f"Linear baseline: least squares, ridge penalty {fit['l2']:g} chosen on validation")
        return None, time.perf_counter() - start

    def evaluate(self, model, splits=("val", "test")):
        """MAE and RMSE in the target's units, overall and per output time point."""
        from kerasseq.models import check_windows

        results = {}
        for split in splits:
            dataset = self.dataset(split)
            check_windows(model, dataset.element_spec[0].shape)
            errors = []
            for x, y in dataset:
                errors.append(model(x, training=False).numpy() - y.numpy())
            errors = np.concatenate(errors)
            per_output = np.abs(errors).mean(axis=(0, 2))
            results[split] = {
                "mae": float(np.abs(errors).mean()),
                "rmse": float(np.sqrt((errors**2).mean())),
                "mae_per_output": [float(v) for v in per_output],
                "num_windows": int(len(errors)),
            }
        return results

    def predict_stretch(self, model, split="test", num_windows=24 * 7):
        """Forecast and truth of the first output over `num_windows` consecutive windows."""
        import pandas as pd

        dataset = self.dataset(split).unbatch().take(num_windows).batch(num_windows)
        x, y = next(iter(dataset))
        start = self.bounds[split][0] + (self.config.past - 1) * self.config.sampling_rate
        times = self.frame.index[start + self.horizon_rows[0]:][:len(y)]
        return pd.DataFrame(
            {"truth": y.numpy()[:, 0, 0], "forecast": model(x, training=False).numpy()[:, 0, 0]},
            index=times,
        )

    def summary(self):
        return {"target": self.target, "horizon_rows": self.horizon_rows}

    def report(self, results):
        """The metrics table, with a note when the model loses to the naive
        forecast on validation."""
        table = super().report(results)
        model, naive = results.get(self.model_name), results.get("naive")
        if model and naive and model["val"]["mae"] > naive["val"]["mae"]:
            tries = ["more epochs or patience", "a larger learning_rate",
                     "a longer window (past)"]
            if not self.config.residual:
                tries.insert(0, "residual forecasts (residual=True)")
            table += (
                f"\nNote: {self.model_name} is worse than the naive forecast on validation "
                f"(MAE {model['val']['mae']:.3f} vs {naive['val']['mae']:.3f}). Try "
                f"{', '.join(tries[:-1])} or {tries[-1]}."
            )
        return table

    def write_plots(self, directory, models, histories):
        """Loss curves and a week of test forecasts of every model."""
        from kerasseq import analysis

        super().write_plots(directory, models, histories)
        stretches = {name: self.predict_stretch(m) for name, m in models.items()}
        analysis.plot_forecast(stretches, directory / "forecast.png", ylabel=self.target)
