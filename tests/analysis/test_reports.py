"""Tests for `kerasseq.analysis.reports`: the metrics table and the plots."""

import pandas as pd

from kerasseq import analysis

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_metrics_table():
    table = analysis.metrics_table({
        "gru": {"params": 12345, "train_seconds": 61.26,
                "val": {"mae": 2.1234, "rmse": 2.9}, "test": {"mae": 2.3456, "rmse": 3.1}},
        "naive": {"params": 0, "train_seconds": 0.0,
                  "val": {"mae": 2.44, "rmse": 3.3}, "test": {"mae": 2.62, "rmse": 3.5}},
    })
    assert table.splitlines() == [
        "model               params  train s   val MAE  val RMSE  test MAE  test RMSE",
        "gru                 12,345     61.3     2.123     2.900     2.346      3.100",
        "naive                    0      0.0     2.440     3.300     2.620      3.500",
    ]


def test_plots_write_png_files(tmp_path):
    histories = {"gru": {"loss": [3.0, 2.0], "val_loss": [3.5, 2.5]},
                 "linear": {"loss": [4.0], "val_loss": [4.5]}}
    analysis.plot_losses(histories, tmp_path / "loss.png")
    index = pd.date_range("2020-01-01", periods=5, freq="h")
    stretches = {name: pd.DataFrame({"truth": range(5), "forecast": range(1, 6)}, index=index)
                 for name in ("gru", "naive")}
    analysis.plot_forecast(stretches, tmp_path / "forecast.png", ylabel="T (degC)")
    for name in ("loss.png", "forecast.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
