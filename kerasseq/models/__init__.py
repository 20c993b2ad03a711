"""Model builders: the recurrent encoder, forecasters and the baselines they are measured against."""

from kerasseq.models.baselines import WindowValues
from kerasseq.models.baselines import build_dense_model
from kerasseq.models.baselines import build_linear_model
from kerasseq.models.baselines import build_naive_model
from kerasseq.models.baselines import build_seasonal_naive_model
from kerasseq.models.baselines import fit_least_squares
from kerasseq.models.encoder import CELLS
from kerasseq.models.encoder import recurrent_encoder
from kerasseq.models.ensemble import build_ensemble
from kerasseq.models.forecast_head import check_windows
from kerasseq.models.weather import build_weather_model

__all__ = [
    "CELLS",
    "WindowValues",
    "build_dense_model",
    "build_ensemble",
    "build_linear_model",
    "build_naive_model",
    "build_seasonal_naive_model",
    "build_weather_model",
    "check_windows",
    "fit_least_squares",
    "recurrent_encoder",
]
