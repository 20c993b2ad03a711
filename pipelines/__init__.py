"""Data pipelines: load, clean and split time series and window them for Keras;
load labeled texts and batch them by length; load corpora as token streams
and batch them for language models.

Names are imported on first use (PEP 562), so `import pipelines` loads
neither TensorFlow nor pandas until a function needs them.

Example:
>>> from pipelines import forecast_dataset, load_jena  # doctest: +SKIP
>>> df = load_jena()  # doctest: +SKIP
>>> ds = forecast_dataset(df, targets="T (degC)", past=120, horizons="24h")  # doctest: +SKIP
"""

import importlib

_EXPORTS = {
    "windowed_dataset": "windows",
    "forecast_dataset": "windows",
    "device_forecast_dataset": "windows",
    "WindowGather": "windows",
    "resolve_horizons": "windows",
    "load_csv": "tables",
    "interpolate_missing": "tables",
    "add_wind_vectors": "tables",
    "add_time_features": "tables",
    "load_jena": "weather",
    "load_nyc_weather": "weather",
    "chronological_split": "splits",
    "fit_normalizer": "splits",
    "load_imdb": "text",
    "load_text_classification": "text_files",
    "load_word_vectors": "text_files",
    "build_vectorizer": "text",
    "token_lengths": "text",
    "text_dataset": "text",
    "load_ptb": "lm",
    "load_shakespeare": "lm",
    "load_text": "lm",
    "bptt_dataset": "lm",
    "window_dataset": "lm",
    "Vocabulary": "lm",
    "data_dir": "data",
    "fetch": "data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
