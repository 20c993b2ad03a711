"""Time-indexed tables: read a CSV into a clean DataFrame, add derived columns.

`load_csv` gives a numeric DataFrame on a sorted `DatetimeIndex` and says
what is wrong with the file (text columns, duplicate times, NaNs, gaps)
before a model trains on it. The `add_*` functions return new frames.
"""

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.validation import ArgumentError
from pipelines.validation import check_one_of

# How many timestamps an error message quotes.
_SHOWN = 3


def load_csv(path, *, time_column, columns=None, missing="error", time_format=None,
             duplicates="error"):
    """Reads a CSV of numeric columns into a DataFrame indexed by time.

    Rows are sorted by time. A step longer than the regular (median) step by
    at least one step is a gap: rows are missing there.

    Args:
        path: a `.csv`, `.csv.gz` or `.zip` file (the `.zip` holding one CSV).
        time_column: the column of timestamps; it becomes the index.
        columns: optional list of the columns to keep (all by default).
        missing: what to do with NaN values and gaps: `"error"` raises a
            `ValueError` that lists them, `"interpolate"` adds the missing
            rows on the regular grid and interpolates in time (see
            `interpolate_missing`), `"drop"` drops rows with NaN values and
            leaves gaps as they are.
        time_format: optional `strftime` format of the timestamps, e.g.
            `"%d.%m.%Y %H:%M:%S"`; inferred if `None`.
        duplicates: what to do with rows that repeat a timestamp: `"error"`
            raises a `ValueError`, `"drop"` keeps the first and counts the
            others in `df.attrs["duplicates_dropped"]`.

    Returns:
        A DataFrame of numeric columns on a sorted `DatetimeIndex` named
        `time_column`, with `df.attrs["source"]` set to the file's name.

    Example:
    >>> df = load_csv("jena_climate_2009_2016.csv", time_column="Date Time",
    ...               time_format="%d.%m.%Y %H:%M:%S")  # doctest: +SKIP
    """
    owner = "load_csv"
    check_one_of("missing", missing, ("error", "interpolate", "drop"), owner=owner)
    check_one_of("duplicates", duplicates, ("error", "drop"), owner=owner)
    source = Path(path).name
    frame = _read(path)
    if time_column not in frame.columns:
        raise ArgumentError(
            "time_column",
            f"{owner} received time_column={time_column!r}, which is not a "
            f"column of {source}. Columns: {list(frame.columns)}."
        )
    times = frame.pop(time_column)
    if columns is not None:
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise ArgumentError(
                "columns",
                f"{owner} received columns with {unknown}, which are not "
                f"columns of {source}. Columns: {list(frame.columns)}."
            )
        frame = frame[list(columns)]
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        numeric = [c for c in frame.columns if c not in text]
        raise ArgumentError(
            "columns",
            f"Columns {text} of {source} are not numeric. {owner}() reads "
            f"numeric columns only: select them with columns={numeric}."
        )
    try:
        frame.index = pd.DatetimeIndex(pd.to_datetime(times, format=time_format), name=time_column)
    except (ValueError, TypeError) as error:
        raise ArgumentError(
            "time_format",
            f"{owner} could not parse column {time_column!r} of {source} as "
            f"times with time_format={time_format!r} ({error}). Pass the "
            "format of the timestamps, e.g. time_format='%d.%m.%Y %H:%M:%S'."
        ) from None
    frame = frame.sort_index(kind="stable")
    frame.attrs["source"] = source

    repeated = frame.index.duplicated()
    if duplicates == "drop":
        frame = frame[~repeated]
        frame.attrs["duplicates_dropped"] = int(repeated.sum())
    elif repeated.any():
        shown = ", ".join(str(t) for t in frame.index[repeated][:_SHOWN])
        raise ArgumentError(
            "duplicates",
            f"{source} has {repeated.sum()} rows that repeat an earlier "
            f"timestamp (first: {shown}). Keep the first row of each time "
            "with duplicates='drop', or fix the file."
        )

    if missing == "error":
        _raise_if_missing(frame, source)
    elif missing == "interpolate":
        frame = interpolate_missing(frame)
    else:
        dropped = frame.isna().any(axis=1)
        frame = frame[~dropped]
        frame.attrs["dropped"] = int(dropped.sum())
    return frame


def interpolate_missing(df):
    """Fills gaps and NaN values by interpolating in time.

    The rows missing in each gap are added on the regular (median) step,
    counted from the row before the gap; then every NaN is interpolated
    linearly in time (`method="time"`), the first and last rows from their
    nearest values.

    Args:
        df: a DataFrame on a sorted `DatetimeIndex` without duplicates.

    Returns:
        A new DataFrame without NaN values, with `df.attrs["filled"]` set to
        a dict: column name -> number of values filled.

    Example:
    >>> df = pd.DataFrame({"T": [0.0, np.nan, 2.0, 5.0]},
    ...                   index=pd.to_datetime(["2020-01-01 00:00", "2020-01-01 01:00",
    ...                                         "2020-01-01 02:00", "2020-01-01 05:00"]))
    >>> interpolate_missing(df)["T"].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    """
    step, gaps, rows_missing = _gaps(df.index)
    added = [
        start + k * step
        for start, count in zip(df.index[:-1][gaps], rows_missing[gaps])
        for k in range(1, count + 1)
    ]
    filled = df.reindex(df.index.append(pd.DatetimeIndex(added, tz=df.index.tz)).sort_values())
    filled.index.name = df.index.name
    counts = filled.isna().sum()
    filled = filled.interpolate(method="time", limit_direction="both")
    filled.attrs = {**df.attrs, "filled": {str(c): int(n) for c, n in counts.items()}}
    return filled


def add_wind_vectors(df, speed, direction_degrees, prefix="wind"):
    """Replaces a wind speed and direction by the wind vector's components.

    A direction is an angle: 359 and 1 degrees are neighbours, and a model
    fed degrees sees them as far apart. The vector `(x, y)` = `speed *
    (cos, sin)(direction)`, as in the TensorFlow time-series tutorial, has no
    such seam and is 0 in calm air whatever the direction says.

    Args:
        df: a DataFrame.
        speed: the name of the wind speed column.
        direction_degrees: the name of the wind direction column, in degrees.
        prefix: the new columns are `f"{prefix}_x"` and `f"{prefix}_y"`.

    Returns:
        A new DataFrame without the two source columns, with the two new
        ones at the end (in the unit of `speed`).

    Example:
    >>> df = pd.DataFrame({"wv": [2.0], "wd": [90.0]})
    >>> add_wind_vectors(df, "wv", "wd").round(6).to_dict("list")
    {'wind_x': [0.0], 'wind_y': [2.0]}
    """
    missing = [c for c in (speed, direction_degrees) if c not in df.columns]
    if missing:
        raise ValueError(
            f"add_wind_vectors received columns {missing}, which are not in "
            f"the DataFrame. Columns: {list(df.columns)}."
        )
    radians = np.deg2rad(df[direction_degrees])
    out = df.drop(columns=[speed, direction_degrees])
    out[f"{prefix}_x"] = df[speed] * np.cos(radians)
    out[f"{prefix}_y"] = df[speed] * np.sin(radians)
    return out


def add_time_features(df):
    """Adds the time of day and of year as sine/cosine columns.

    Daily and yearly cycles drive weather; `day_sin`, `day_cos` (period 24
    hours) and `year_sin`, `year_cos` (period 365.2425 days) give a model
    the phase of both without a seam at midnight or New Year.

    Args:
        df: a DataFrame on a `DatetimeIndex`.

    Returns:
        A new DataFrame with the four columns added at the end.

    Example:
    >>> df = pd.DataFrame({"T": [1.0]}, index=pd.to_datetime(["2020-01-01 06:00"]))
    >>> add_time_features(df).round(6)["day_sin"].tolist()
    [1.0]
    """
    if not isinstance(df.index, pd.DatetimeIndex):
        raise ValueError(
            "add_time_features received a DataFrame indexed by "
            f"{type(df.index).__name__}. It needs a DatetimeIndex: "
            "df.set_index(pd.to_datetime(df['time'])), or load_csv()."
        )
    # From the instant for a tz-aware index: UTC has no daylight-saving
    # jumps, and a constant phase offset is nothing to a model.
    epoch = pd.Timestamp(0, tz="UTC" if df.index.tz else None)
    # Seconds as floats: pandas 3 may store times in s, ms, us or ns.
    seconds = ((df.index - epoch) / pd.Timedelta(seconds=1)).to_numpy()
    out = df.copy()
    for name, period in (("day", 24 * 60 * 60), ("year", 365.2425 * 24 * 60 * 60)):
        out[f"{name}_sin"] = np.sin(2 * np.pi * seconds / period)
        out[f"{name}_cos"] = np.cos(2 * np.pi * seconds / period)
    return out


def _read(path):
    source = Path(path).name
    try:
        frame = _read_csv(path)
    except pd.errors.EmptyDataError:
        # pandas says "No columns to parse from file", naming no file.
        raise ValueError(
            f"{source} is empty: load_csv() needs a header row naming the "
            "columns, then rows of values. An interrupted download or export "
            "leaves an empty file: make or fetch it again, or pass another path."
        ) from None
    if frame.empty:
        raise ValueError(
            f"{source} has a header but no rows. load_csv() needs at least one "
            "row of values: make or fetch the file again, or pass another path."
        )
    return frame


def _read_csv(path):
    if Path(path).suffix != ".zip":
        return pd.read_csv(path)
    # pandas reads a zip of exactly one file; archives made on macOS (like
    # Keras' jena_climate_2009_2016.csv.zip) also hold __MACOSX/ entries.
    with zipfile.ZipFile(path) as archive:
        members = [
            m for m in archive.namelist()
            if m.endswith(".csv") and not m.startswith("__MACOSX/")
        ]
        if len(members) != 1:
            raise ValueError(
                f"{Path(path).name} holds {len(members)} CSV files ({members}); "
                "expected one. Extract the one you want and pass its path."
            )
        with archive.open(members[0]) as file:
            return pd.read_csv(file)


def _gaps(index):
    """Returns (regular step, mask of steps that are gaps, rows missing per step)."""
    steps = index[1:] - index[:-1]
    step = steps.median()
    # A step of 1h10m in an hourly record shifts the phase but loses no row;
    # a gap is a step with at least one regular row missing.
    rows_missing = np.round(np.asarray(steps / step, dtype=float)).astype(int) - 1
    return step, rows_missing > 0, rows_missing


def _raise_if_missing(frame, source):
    problems = []
    nan_counts = frame.isna().sum()
    for column, count in nan_counts[nan_counts > 0].items():
        first = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
        problems.append(
            f"Column {column!r} of {source} has {count} NaN values (first at "
            f"row {first}, {frame.index[first]})."
        )
    if len(frame) > 1:
        step, gaps, rows_missing = _gaps(frame.index)
        if gaps.any():
            shown = ", ".join(str(t) for t in frame.index[:-1][gaps][:_SHOWN])
            problems.append(
                f"{source} has {gaps.sum()} gaps in time, {rows_missing[gaps].sum()} "
                f"rows missing at its regular step of {step} (first after: {shown})."
            )
    if problems:
        raise ArgumentError(
            "missing",
            " ".join(problems) + " load_csv() was asked for complete data "
            "(missing='error'): fill them (missing='interpolate') or drop the "
            "rows with NaN values and keep the gaps (missing='drop')."
        )
