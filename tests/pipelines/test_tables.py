import gzip
import zipfile

import numpy as np
import pandas as pd
import pytest

from pipelines.tables import add_time_features, add_wind_vectors, interpolate_missing, load_csv

HEADER = "time,T,p\n"


def write(tmp_path, rows, name="w.csv", header=HEADER):
    path = tmp_path / name
    path.write_text(header + "".join(row + "\n" for row in rows))
    return path


HOURLY = [f"2020-01-01 {h:02d}:00:00,{h}.0,{1000 + h}.0" for h in range(6)]


def test_load_csv_sorts_times_and_selects_columns(tmp_path):
    path = write(tmp_path, [HOURLY[2], HOURLY[0], HOURLY[1], *HOURLY[3:]])
    df = load_csv(path, time_column="time")
    assert list(df.columns) == ["T", "p"]
    assert df.index.name == "time" and df.index.is_monotonic_increasing
    assert df["T"].tolist() == [0, 1, 2, 3, 4, 5]
    assert df.attrs["source"] == "w.csv"
    assert list(load_csv(path, time_column="time", columns=["p"]).columns) == ["p"]


def test_load_csv_reads_gzip_and_zip_with_macos_entries(tmp_path):
    text = HEADER + "".join(row + "\n" for row in HOURLY)
    gz = tmp_path / "w.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    archive = tmp_path / "w.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("w.csv", text)
        z.writestr("__MACOSX/._w.csv", "resource fork")
    expected = load_csv(write(tmp_path, HOURLY), time_column="time")
    pd.testing.assert_frame_equal(load_csv(gz, time_column="time"), expected)
    pd.testing.assert_frame_equal(load_csv(archive, time_column="time"), expected)


@pytest.mark.parametrize("content", [b"", b"\n\n", gzip.compress(b"")], ids=["empty", "blank", "empty-gz"])
def test_load_csv_empty_file_names_the_file(tmp_path, content):
    path = tmp_path / ("w.csv.gz" if content.startswith(b"\x1f\x8b") else "w.csv")
    path.write_bytes(content)
    with pytest.raises(ValueError) as error:
        load_csv(path, time_column="time")
    assert str(error.value) == (
        f"{path.name} is empty: load_csv() needs a header row naming the columns, then rows of values. "
        "An interrupted download or export leaves an empty file: make or fetch it again, or pass another path."
    )


def test_load_csv_header_without_rows(tmp_path):
    with pytest.raises(ValueError) as error:
        load_csv(write(tmp_path, []), time_column="time")
    assert str(error.value) == (
        "w.csv has a header but no rows. load_csv() needs at least one row of values: make or fetch the "
        "file again, or pass another path."
    )


def test_load_csv_time_format(tmp_path):
    path = write(tmp_path, ["01.02.2009 00:10:00,1,2", "01.02.2009 00:20:00,3,4"])
    df = load_csv(path, time_column="time", time_format="%d.%m.%Y %H:%M:%S")
    assert df.index[0] == pd.Timestamp("2009-02-01 00:10")
    with pytest.raises(ValueError, match=r"could not parse column 'time' of w.csv as times with "
                                         r"time_format='%Y-%m-%d'"):
        load_csv(path, time_column="time", time_format="%Y-%m-%d")


def test_load_csv_rejects_non_numeric_columns(tmp_path):
    path = write(tmp_path, [r + ",EWR" for r in HOURLY], header="time,T,p,station\n")
    with pytest.raises(ValueError, match=r"Columns \['station'\] of w.csv are not numeric\. load_csv\(\) reads "
                                         r"numeric columns only: select them with columns=\['T', 'p'\]\."):
        load_csv(path, time_column="time")
    assert list(load_csv(path, time_column="time", columns=["T", "p"]).columns) == ["T", "p"]


def test_load_csv_unknown_columns(tmp_path):
    path = write(tmp_path, HOURLY)
    with pytest.raises(ValueError, match=r"time_column='Date Time', which is not a column of w.csv"):
        load_csv(path, time_column="Date Time")
    with pytest.raises(ValueError, match=r"columns with \['rh'\], which are not columns of w.csv"):
        load_csv(path, time_column="time", columns=["T", "rh"])
    with pytest.raises(ValueError, match=r"load_csv received missing='fill'\. Expected one of 'error', "
                                         r"'interpolate', 'drop'\."):
        load_csv(path, time_column="time", missing="fill")


def test_load_csv_duplicate_timestamps(tmp_path):
    path = write(tmp_path, [*HOURLY, "2020-01-01 01:00:00,9,9", "2020-01-01 03:00:00,9,9"])
    with pytest.raises(ValueError, match=r"w.csv has 2 rows that repeat an earlier timestamp \(first: "
                                         r"2020-01-01 01:00:00, 2020-01-01 03:00:00\)\. Keep the first row"):
        load_csv(path, time_column="time")
    df = load_csv(path, time_column="time", duplicates="drop")
    assert df["T"].tolist() == [0, 1, 2, 3, 4, 5]
    assert df.attrs["duplicates_dropped"] == 2


def test_load_csv_nan_values(tmp_path):
    rows = list(HOURLY)
    rows[1] = "2020-01-01 01:00:00,,1001.0"
    rows[4] = "2020-01-01 04:00:00,,"
    path = write(tmp_path, rows)
    with pytest.raises(ValueError) as error:
        load_csv(path, time_column="time")
    assert str(error.value) == (
        "Column 'T' of w.csv has 2 NaN values (first at row 1, 2020-01-01 01:00:00). "
        "Column 'p' of w.csv has 1 NaN values (first at row 4, 2020-01-01 04:00:00). "
        "load_csv() was asked for complete data (missing='error'): fill them "
        "(missing='interpolate') or drop the rows with NaN values and keep the gaps (missing='drop')."
    )
    dropped = load_csv(path, time_column="time", missing="drop")
    assert dropped["T"].tolist() == [0, 2, 3, 5] and dropped.attrs["dropped"] == 2
    filled = load_csv(path, time_column="time", missing="interpolate")
    assert filled["T"].tolist() == [0, 1, 2, 3, 4, 5]
    assert filled["p"].tolist() == [1000, 1001, 1002, 1003, 1004, 1005]
    assert filled.attrs["filled"] == {"T": 2, "p": 1}


def test_load_csv_gaps(tmp_path):
    # Rows at 0-3, 6-8 hours and 10:40: two gaps, 2 + 2 hourly rows missing.
    rows = [f"2020-01-01 {h:02d}:00:00,{h}.0,{1000 + h}.0" for h in (0, 1, 2, 3, 6, 7, 8)]
    path = write(tmp_path, rows + ["2020-01-01 10:40:00,10.666666666666666,1010.6666666666666"])
    with pytest.raises(ValueError, match=r"w.csv has 2 gaps in time, 4 rows missing at its regular step of "
                                         r"0 days 01:00:00 \(first after: 2020-01-01 03:00:00, 2020-01-01 08:00:00\)"
                                         r"\. .*\(missing='interpolate'\)"):
        load_csv(path, time_column="time")
    # missing='drop' drops NaN rows only: the gaps stay.
    assert len(load_csv(path, time_column="time", missing="drop")) == 8
    filled = load_csv(path, time_column="time", missing="interpolate")
    assert [t.strftime("%H:%M") for t in filled.index] == [f"{h:02d}:00" for h in range(11)] + ["10:40"]
    # Interpolated in time: 9:00 is 3/8 of the way from 8:00 to 10:40.
    np.testing.assert_allclose(filled["T"], [*range(11), 10 + 2 / 3])
    assert filled.attrs["filled"] == {"T": 4, "p": 4}


def test_a_step_that_shifts_the_phase_is_not_a_gap(tmp_path):
    # As in the hourly Jena file: 1 h 10 min once, no hourly row missing.
    rows = ["2020-01-01 00:10:00,0,0", "2020-01-01 01:10:00,1,1", "2020-01-01 02:20:00,2,2",
            "2020-01-01 03:20:00,3,3"]
    assert len(load_csv(write(tmp_path, rows), time_column="time")) == 4


def test_add_wind_vectors_is_pure():
    df = pd.DataFrame({"wv": [2.0, 2.0, 1.0, 3.0], "T": [1.0] * 4, "wd": [0.0, 90.0, 180.0, 270.0]})
    out = add_wind_vectors(df, "wv", "wd")
    assert list(out.columns) == ["T", "wind_x", "wind_y"]
    np.testing.assert_allclose(out["wind_x"], [2, 0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(out["wind_y"], [0, 2, 0, -3], atol=1e-12)
    assert list(df.columns) == ["wv", "T", "wd"]
    assert list(add_wind_vectors(df, "wv", "wd", prefix="gust").columns) == ["T", "gust_x", "gust_y"]
    with pytest.raises(ValueError, match=r"add_wind_vectors received columns \['wd \(deg\)'\], which are not in"):
        add_wind_vectors(df, "wv", "wd (deg)")


def test_add_time_features_is_pure():
    index = pd.to_datetime(["2021-01-01 00:00:00", "2021-01-01 06:00:00", "2021-01-01 12:00:00", "2022-01-01 05:49:12"])
    df = pd.DataFrame({"T": [0.0, 1.0, 2.0, 3.0]}, index=index)
    out = add_time_features(df)
    assert list(out.columns) == ["T", "day_sin", "day_cos", "year_sin", "year_cos"]
    np.testing.assert_allclose(out["day_sin"][:3], [0, 1, 0], atol=1e-9)
    np.testing.assert_allclose(out["day_cos"][:3], [1, 0, -1], atol=1e-9)
    # One year of 365.2425 days later, the year phase is back.
    np.testing.assert_allclose(out[["year_sin", "year_cos"]].iloc[3], out[["year_sin", "year_cos"]].iloc[0],
                               atol=1e-9)
    assert list(df.columns) == ["T"]
    # The same instants in another time zone give the same features.
    utc = add_time_features(df.tz_localize("UTC").tz_convert("America/New_York"))
    np.testing.assert_allclose(utc.to_numpy(), out.to_numpy(), atol=1e-9)
    with pytest.raises(ValueError, match=r"add_time_features received a DataFrame indexed by RangeIndex"):
        add_time_features(df.reset_index(drop=True))


def test_interpolate_missing_keeps_time_zone():
    index = pd.date_range("2020-03-08", periods=6, freq="h", tz="UTC").delete([2, 3])
    df = pd.DataFrame({"T": [0.0, 1.0, 4.0, 5.0]}, index=index)
    out = interpolate_missing(df)
    assert str(out.index.tz) == "UTC" and len(out) == 6
    assert out["T"].tolist() == [0, 1, 2, 3, 4, 5]
