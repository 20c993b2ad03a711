"""Model builders: the recurrent encoder, forecasters, sentiment classifiers,
language models and the baselines they are measured against; `explain`
for per-token weights, `generate` for text."""

from kerasseq.models.baselines import WindowValues
from kerasseq.models.baselines import build_dense_model
from kerasseq.models.baselines import build_linear_model
from kerasseq.models.baselines import build_naive_model
from kerasseq.models.baselines import build_seasonal_naive_model
from kerasseq.models.baselines import fit_least_squares
from kerasseq.models.encoder import CELLS
from kerasseq.models.encoder import recurrent_encoder
from kerasseq.models.ensemble import build_ensemble
from kerasseq.models.explain import explain
from kerasseq.models.explain import render_html
from kerasseq.models.explain import render_terminal
from kerasseq.models.forecast_head import check_windows
from kerasseq.models.language import build_language_model
from kerasseq.models.language import evaluate_language_model
from kerasseq.models.language import generate
from kerasseq.models.language import stateful_copy
from kerasseq.models.ngram import NGramLM
from kerasseq.models.sentiment import HEADS
from kerasseq.models.sentiment import build_bag_of_words_model
from kerasseq.models.sentiment import build_majority_model
from kerasseq.models.sentiment import build_sentiment_model
from kerasseq.models.weather import build_weather_model

__all__ = [
    "CELLS",
    "HEADS",
    "NGramLM",
    "WindowValues",
    "build_dense_model",
    "build_ensemble",
    "build_language_model",
    "build_bag_of_words_model",
    "build_linear_model",
    "build_majority_model",
    "build_naive_model",
    "build_seasonal_naive_model",
    "build_sentiment_model",
    "build_weather_model",
    "check_windows",
    "evaluate_language_model",
    "explain",
    "fit_least_squares",
    "generate",
    "recurrent_encoder",
    "render_html",
    "render_terminal",
    "stateful_copy",
]
