import hashlib
import re
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

from pipelines import weather
from pipelines.weather import load_jena, load_nyc_weather

JENA_COLUMNS = [
    "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)", "VPact (mbar)",
    "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
]
HOURLY = "jena/jena_climate_2009_2016.hourly-6cols.csv.gz"


def test_load_jena_head_excerpt(data_file):
    df = load_jena(data_file("jena_climate_2009_2016.head-19rows-15cols.csv.gz"))
    assert len(df) == 19 and list(df.columns) == JENA_COLUMNS
    assert df.index.name == "Date Time"
    assert df.index[0] == pd.Timestamp("2009-01-01 00:10") and df.index[-1] == pd.Timestamp("2009-01-01 03:10")
    assert df.iloc[0][["p (mbar)", "T (degC)", "wd (deg)"]].tolist() == [996.52, -8.02, 152.3]
    assert df.iloc[-1][["rho (g/m**3)", "wv (m/s)", "max. wv (m/s)"]].tolist() == [1312.37, 0.07, 0.25]
    assert df.attrs["source"] == "jena_climate_2009_2016.head-19rows-15cols.csv.gz"


def test_load_jena_partial_excerpt(data_file):
    df = load_jena(data_file("jena_climate_2009_2016.partial-4000rows-12cols.csv.gz"))
    assert len(df) == 4000 and list(df.columns) == JENA_COLUMNS[:11]
    assert df.index[-1] == pd.Timestamp("2009-01-28 18:40")
    assert (df.index[1:] - df.index[:-1] == pd.Timedelta("10min")).all()
    assert df.iloc[-1][["p (mbar)", "T (degC)", "H2OC (mmol/mol)"]].tolist() == [994.41, -2.38, 4.66]


def test_load_jena_hourly_file(data_file):
    df = load_jena(data_file(HOURLY))
    assert len(df) == 70038
    assert list(df.columns) == ["T (degC)", "p (mbar)", "rh (%)", "VPmax (mbar)", "wv (m/s)", "Tdew (degC)"]
    assert df["T (degC)"].mean() == pytest.approx(9.4428, abs=1e-4)
    assert df["T (degC)"].std() == pytest.approx(8.4218, abs=1e-4)
    assert (df["T (degC)"].min(), df["T (degC)"].max()) == (-23.01, 36.87)
    assert df.index[-1] == pd.Timestamp("2016-12-31 23:50")


def jena_csv(tmp_path, name, rows):
    path = tmp_path / name
    header = "Date Time,T (degC),wv (m/s),max. wv (m/s)\n"
    path.write_text(header + "".join(r + "\n" for r in rows))
    return path


def test_load_jena_clips_wind_sentinels_and_drops_repeated_times(tmp_path):
    path = jena_csv(tmp_path, "mine.csv", [
        "01.01.2009 00:10:00,1.0,-9999.0,-9999.0",
        "01.01.2009 00:20:00,2.0,1.5,2.5",
        "01.01.2009 00:20:00,3.0,1.5,2.5",
    ])
    df = load_jena(path)
    assert df["T (degC)"].tolist() == [1.0, 2.0]
    assert df["wv (m/s)"].tolist() == [0.0, 1.5] and df["max. wv (m/s)"].tolist() == [0.0, 2.5]
    assert df.attrs["duplicates_dropped"] == 1


def test_load_jena_default_prefers_the_full_file_and_checks_it(tmp_path, monkeypatch, data_file):
    hourly = data_file(HOURLY)
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(tmp_path))
    (tmp_path / "jena").mkdir()
    shutil.copy(hourly, tmp_path / HOURLY)
    assert len(load_jena()) == 70038
    # A full CSV present is used first, and checked against its git blob id.
    jena_csv(tmp_path, "jena_climate_2009_2016.csv", ["01.01.2009 00:10:00,1.0,1.0,1.0"])
    with pytest.raises(ValueError, match=r"jena_climate_2009_2016.csv has git_blob_sha1 [0-9a-f]{40}, expected "
                                         r"3dc17139ed8afe4f693b3b88cbdd6e3a69e2de0c"):
        load_jena()


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_load_jena_reads_the_zip_in_place_and_checks_its_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(tmp_path))
    text = b"Date Time,T (degC)\n01.01.2009 00:10:00,1.0\n01.01.2009 00:20:00,2.0\n"
    # As Keras' archive, made on macOS: the CSV and its __MACOSX/ resource fork.
    with zipfile.ZipFile(tmp_path / "jena_climate_2009_2016.csv.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("jena_climate_2009_2016.csv", text)
        z.writestr("__MACOSX/._jena_climate_2009_2016.csv", "resource fork")
    with pytest.raises(ValueError, match=r"jena_climate_2009_2016.csv in .*jena_climate_2009_2016.csv.zip has "
                                         r"git_blob_sha1 [0-9a-f]{40}, expected 3dc17139"):
        load_jena()
    monkeypatch.setitem(weather.CHECKSUMS, "jena_climate_2009_2016.csv", ("git_blob_sha1", git_blob_sha1(text)))
    df = load_jena()
    assert df["T (degC)"].tolist() == [1.0, 2.0] and df.attrs["source"] == "jena_climate_2009_2016.csv.zip"
    # Nothing extracted: only the archive is in the data directory.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jena_climate_2009_2016.csv.zip"]


def test_load_jena_rejects_a_zip_without_the_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(tmp_path))
    archive = tmp_path / "jena_climate_2009_2016.csv.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("other.csv", "Date Time,T (degC)\n")
    with pytest.raises(ValueError) as error:
        load_jena()
    assert str(error.value) == (
        f"{archive} holds no jena_climate_2009_2016.csv: it is not Keras' Jena archive. Delete it, or put "
        f"jena_climate_2009_2016.csv itself in {tmp_path}."
    )


def test_load_jena_without_network_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(weather, "JENA_URL", (tmp_path / "nowhere.zip").as_uri())
    target = tmp_path / "data" / "jena_climate_2009_2016.csv.zip"
    with pytest.raises(FileNotFoundError, match=f"jena_climate_2009_2016.csv.zip is not in the data directory "
                                                f"and could not be downloaded from file://.* put it at {target}"):
        load_jena()
    assert list((tmp_path / "data").iterdir()) == []


def test_load_nyc_weather():
    df = load_nyc_weather()
    assert list(df.columns) == ["temp", "dewp", "humid", "precip", "pressure", "visib", "wind_x", "wind_y"]
    assert str(df.index.tz) == "UTC" and df.index.name == "time_hour"
    assert df.index[0] == pd.Timestamp("2013-01-01 06:00", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2013-12-30 23:00", tz="UTC")
    assert len(df) == 8730 and (df.index[1:] - df.index[:-1] == pd.Timedelta("1h")).all()
    assert not df.isna().any().any()
    # The first raw row: 39.02 F, wind 10.357 mph from 270 degrees.
    assert df["temp"].iloc[0] == 39.02
    np.testing.assert_allclose(df[["wind_x", "wind_y"]].iloc[0], [0.0, -10.35702], atol=1e-6)
    # 27 hours were missing, and pressure in 935 more; the 1048 mph reading is gone.
    assert df.attrs["filled"]["temp"] == 27 + 1
    assert df.attrs["filled"]["pressure"] == 27 + 935
    assert np.hypot(df["wind_x"], df["wind_y"]).max() < 60


def test_load_nyc_weather_interpolates_in_time():
    df = load_nyc_weather("EWR")
    # The raw EWR table has no 17:00 row; pressure is also missing at 18:00.
    hours = pd.date_range("2013-01-01 16:00", periods=4, freq="h", tz="UTC")
    np.testing.assert_allclose(df.loc[hours, "temp"], [41.0, 40.1, 39.2, 39.02])
    np.testing.assert_allclose(df.loc[hours, "pressure"], [1011.4, 1011.2, 1011.0, 1010.8])


def test_load_nyc_weather_rejects_unknown_station():
    with pytest.raises(ValueError, match=r"load_nyc_weather received station='ORD'\. Expected one of 'EWR', "
                                         r"'JFK', 'LGA'\."):
        load_nyc_weather("ORD")


def test_truncated_jena_zip_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(tmp_path))
    archive = tmp_path / "jena_climate_2009_2016.csv.zip"
    archive.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match=re.escape(
            f"{archive} is not a readable zip archive (a truncated download?). Delete it and "
            "fetch it again, or put jena_climate_2009_2016.csv itself in")):
        weather.load_jena()
