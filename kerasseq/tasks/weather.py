"""The weather forecasting task, end to end: data, windows, models, metrics.

`WeatherTask` holds one configuration: which data, which columns, how far
ahead, which model. It loads and splits the data (chronologically, with
normalization statistics from the training rows only), builds the
recurrent model and its baselines, trains, and evaluates every model with
the same code. `kerasseq train weather` and `bench/quality_weather.py` run
through it, so their figures come from one place.
"""

import dataclasses
import time

import numpy as np

from kerasseq.validation import check_positive_int

# The data's natural choices when --target is not given.
DEFAULT_TARGETS = {"nyc": "temp", "jena": "T (degC)"}
BASELINES = ("naive", "seasonal_naive", "linear", "dense")
YEAR_FEATURES = ("year_sin", "year_cos")


def _spans_less_than_a_year(index):
    import pandas as pd

    # Only a time index has a time of year; other indexes have no such columns to drop.
    if not isinstance(index, pd.DatetimeIndex):
        return False
    return len(index) < 2 or index[-1] - index[0] < pd.Timedelta(days=365)


@dataclasses.dataclass
class WeatherConfig:
    """Everything that defines a weather run; saved as the run's `config.json`.

    Attributes mirror the `kerasseq train weather` flags and the keywords of
    `build_weather_model` / `pipelines.forecast_dataset`.
    """

    data: str = "nyc"
    target: str = None
    features: list = None
    time_column: str = None
    missing: str = "error"
    time_features: bool = True
    past: int = 48
    sampling_rate: int = 1
    horizons: list = dataclasses.field(default_factory=lambda: ["24h"])
    output_steps: int = 1
    split: tuple = (0.5, 0.25, 0.25)
    season: str = "24h"
    cell: str = "gru"
    units: int = 32
    depth: int = 1
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    bidirectional: bool = False
    residual: bool = False
    learning_rate: float = 1e-3
    loss: str = "mse"
    epochs: int = 30
    batch_size: int = 64
    patience: int = 5
    seed: int = 0
    ensemble: int = 1
    baselines: list = dataclasses.field(default_factory=lambda: list(BASELINES))

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values):
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


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
            raise ValueError(
                f"--data {config.data} is a CSV file: name its time column with "
                "--time-column, e.g. --time-column 'Date Time'."
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


class WeatherTask:
    """Data, splits and models of one weather configuration.

    Args:
        config: a `WeatherConfig`.
        frame: optional DataFrame to use instead of loading `config.data`.

    Example:
    >>> task = WeatherTask(WeatherConfig(data="nyc", epochs=1))  # doctest: +SKIP
    >>> model = task.build_model()  # doctest: +SKIP
    >>> task.fit(model)  # doctest: +SKIP
    >>> task.evaluate(model)["test"]["mae"]  # doctest: +SKIP
    """

    def __init__(self, config, frame=None):
        from pipelines import chronological_split
        from pipelines import fit_normalizer
        from pipelines import resolve_horizons

        self.config = config
        check_positive_int("epochs", config.epochs, owner="WeatherTask", example="--epochs 10")
        check_positive_int("ensemble", config.ensemble, owner="WeatherTask", example="--ensemble 3")
        # Checked on entry: build_baselines runs after the recurrent model trains.
        unknown = [b for b in config.baselines if b not in BASELINES]
        if unknown:
            raise ValueError(
                f"--baselines names {unknown}, which are not baselines. Choose from "
                f"{list(BASELINES)}, e.g. --baselines naive,linear."
            )
        frame = load_frame(config) if frame is None else frame
        target = config.target or DEFAULT_TARGETS.get(config.data)
        if target is None or target not in frame.columns:
            raise ValueError(
                f"--target {target!r} is not a column of {config.data}. "
                f"Columns: {list(frame.columns)}."
            )
        features = list(config.features or frame.columns)
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise ValueError(
                f"--features names {missing}, which {config.data} does not have. "
                f"Columns: {list(frame.columns)}."
            )
        num_train, num_val, _ = chronological_split(len(frame), config.split)
        if not config.features and _spans_less_than_a_year(frame.index[:num_train]):
            # Every validation and test day would have a time-of-year phase
            # the model never saw in training: extrapolation, not a feature.
            features = [f for f in features if f not in YEAR_FEATURES]
        # The target goes first: target_index=0 for every builder.
        self.features = [target] + [f for f in features if f != target]
        self.target = target
        self.frame = frame[self.features]
        self.horizon_rows = resolve_horizons(
            config.horizons if len(config.horizons) > 1 else config.horizons[0],
            index=frame.index, sampling_rate=config.sampling_rate,
            output_steps=config.output_steps,
        )
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
    def seeds(self):
        """One seed per ensemble member: `seed`, `seed + 1`, ..."""
        return [self.config.seed + k for k in range(self.config.ensemble)]

    def dataset(self, split, *, shuffle=False, seed=None):
        """The `(windows, targets)` dataset of `split` ("train", "val" or "test");
        `seed` (default: the config's) orders the shuffle."""
        from pipelines import forecast_dataset

        start, end = self.bounds[split]
        return forecast_dataset(
            self.frame, targets=self.target, past=self.config.past,
            sampling_rate=self.config.sampling_rate, horizons=self.horizons,
            output_steps=self.config.output_steps, batch_size=self.config.batch_size,
            shuffle=shuffle, seed=self.config.seed if seed is None else seed,
            start_index=start, end_index=end,
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

    def build_baselines(self):
        """The configured baselines, by name; `seasonal_naive` only where one
        season back lies inside the window."""
        import keras

        from pipelines import resolve_horizons

        from kerasseq import models

        keras.utils.set_random_seed(self.config.seed)
        shape = self._shape_keywords()
        builders = {
            "naive": lambda: models.build_naive_model(**shape),
            "seasonal_naive": lambda: models.build_seasonal_naive_model(
                num_features=shape["num_features"], sequence_length=self.config.past,
                horizon_rows=self.horizon_rows, sampling_rate=self.config.sampling_rate,
                season_rows=resolve_horizons(self.config.season, index=self.frame.index)[0],
                target_index=0,
            ),
            "linear": lambda: models.build_linear_model(normalizer=self.normalizer, **shape),
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
        return baselines

    def fit(self, model, *, seed=None, callbacks=(), verbose=1):
        """Trains `model` with early stopping on validation MAE (the best
        epoch's weights restored) and a halved learning rate on plateaus;
        `seed` (default: the config's) orders the shuffle and the dropout.
        Returns `(history, seconds)`."""
        import keras

        if not model.trainable_weights:
            return None, 0.0
        seed = self.config.seed if seed is None else seed
        keras.utils.set_random_seed(seed)
        # Runs are judged by MAE, so the epoch kept is the one with the best
        # validation MAE (the loss, MSE, weighs large errors more).
        stop = keras.callbacks.EarlyStopping(
            monitor="val_mae", patience=self.config.patience, restore_best_weights=True
        )
        # Halving the step size once validation stalls settles the last epochs.
        slow_down = keras.callbacks.ReduceLROnPlateau(
            factor=0.5, patience=max(1, self.config.patience // 2), verbose=verbose
        )
        start = time.perf_counter()
        history = model.fit(
            self.dataset("train", shuffle=True, seed=seed), validation_data=self.dataset("val"),
            epochs=self.config.epochs, callbacks=[stop, slow_down, *callbacks], verbose=verbose,
            shuffle=False,  # the training dataset shuffles itself
        )
        return history, time.perf_counter() - start

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
