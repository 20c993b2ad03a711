"""`explain`: which tokens drove a sentiment prediction, as data, terminal and HTML.

A model with an attention head weighs its tokens (softmax weights summing
to 1); a token-scores head adds per-token scores in logit space (positive
pushes towards the positive class). `explain` reads whichever the head
has; `render_terminal` and `render_html` show them over the text.
"""

import html

import keras
import numpy as np

from kerasseq import layers
from kerasseq.models.sentiment import EXPLAINING_HEADS
from kerasseq.models.sentiment import token_ids_layer

# The heads whose per-token weights explain a prediction.
_HEADS = (layers.TokenScores, layers.AttentionPooling)


def _explained_model(model):
    """`model`, or the first member of an ensemble, if its head has per-token weights."""
    for candidate in [model, *(layer for layer in model.layers if isinstance(layer, keras.Model))]:
        if any(isinstance(layer, _HEADS) for layer in candidate.layers):
            return candidate
    raise ValueError(
        f"explain received model {model.name!r}, whose head has no per-token weights. "
        f"Use a model built with head in {list(EXPLAINING_HEADS)}."
    )


def explain(model, texts, *, vocabulary=None, class_names=("negative", "positive")):
    """Per-token contributions to each prediction of a sentiment model.

    Args:
        model: a model of `build_sentiment_model` with head "attention",
            "windowed_attention" or "token_scores" (of an ensemble: its
            first member's weights and prediction).
        texts: raw strings (for a raw-text model), or token id arrays.
        vocabulary: the token of each id, for a model that takes ids
            (a raw-text model has its own).
        class_names: names of class 0 and class 1.

    Returns:
        One dict per text: `text`, `probability` (of class 1), `label`
        (the predicted class name), `kind` ("attention" weights or
        "token_scores"), and `tokens`: a list of `(token, value)` pairs for
        the tokens the model read (padding left out).

    Example:
    >>> explain(model, ["A wonderful, moving film."])[0]["tokens"]  # doctest: +SKIP
    [('a', 0.01), ('wonderful', 0.62), ('moving', 0.30), ('film', 0.07)]
    """
    model = _explained_model(model)
    head = next(layer for layer in model.layers if isinstance(layer, _HEADS))
    raw = model.inputs[0].dtype == "string"
    if raw:
        from pipelines.text import check_texts

        ids_output = token_ids_layer(model).output
        vocabulary = next(layer for layer in model.layers
                          if isinstance(layer, keras.layers.TextVectorization)).get_vocabulary()
        # Object arrays: Keras' predict rejects NumPy's fixed-width str dtypes.
        inputs = check_texts(texts, owner="explain")
    else:
        if vocabulary is None:
            raise ValueError(
                "explain received a model that takes token ids and no vocabulary: pass "
                "vocabulary=vectorizer.get_vocabulary()."
            )
        ids_output = model.inputs[0]
        inputs = keras.utils.pad_sequences(texts, padding="post")
    weights_output = head.output[1]
    probe = keras.Model(model.inputs, [model.outputs[0], ids_output, weights_output])
    probabilities, ids, weights = (np.asarray(v) for v in probe.predict(inputs, verbose=0))
    results = []
    for k, row in enumerate(ids):
        keep = row != 0
        probability = float(probabilities[k, 0])
        results.append({
            "text": texts[k] if raw else " ".join(vocabulary[i] for i in row[keep]),
            "probability": probability,
            "label": class_names[int(probability >= 0.5)],
            "kind": "token_scores" if isinstance(head, layers.TokenScores) else "attention",
            "tokens": [(str(vocabulary[i]), float(w)) for i, w in zip(row[keep], weights[k][keep])],
        })
    return results


def _shade(explanation, value):
    """A value scaled to [-1, 1]: signed for token scores, [0, 1] for
    attention weights (relative to the row's largest)."""
    values = [abs(v) for _, v in explanation["tokens"]] or [1.0]
    return value / (max(values) or 1.0)


def render_terminal(explanations, *, color=True):
    """The explanations as text, tokens colored by their weight (ANSI):
    green towards positive, red towards negative, brighter for more weight.

    Example:
    >>> print(render_terminal([{"probability": 0.9, "label": "positive", "kind": "token_scores",
    ...     "tokens": [("good", 2.0), ("film", 0.1)]}], color=False))
    positive (p=0.900): good[+2.00] film[+0.10]
    """
    lines = []
    for e in explanations:
        parts = []
        for token, value in e["tokens"]:
            shade = _shade(e, value)
            if not color:
                parts.append(f"{token}[{value:+.2f}]")
                continue
            # 256-color background ramps: greens 22..46, reds 52..196.
            level = min(4, int(abs(shade) * 5))
            positive = value >= 0 if e["kind"] == "token_scores" else e["probability"] >= 0.5
            background = [22, 28, 34, 40, 46][level] if positive else [52, 88, 124, 160, 196][level]
            parts.append(f"\033[48;5;{background}m{token}\033[0m" if level else token)
        lines.append(f"{e['label']} (p={e['probability']:.3f}): " + " ".join(parts))
    return "\n".join(lines)


def render_html(explanations, *, title="Explanations"):
    """The explanations as a standalone HTML page, tokens highlighted by
    weight (hover shows the value).

    Example:
    >>> "<mark" in render_html([{"probability": 0.2, "label": "negative", "kind": "attention",
    ...     "tokens": [("dull", 0.8)]}])
    True
    """
    rows = []
    for e in explanations:
        spans = []
        for token, value in e["tokens"]:
            shade = abs(_shade(e, value))
            positive = value >= 0 if e["kind"] == "token_scores" else e["probability"] >= 0.5
            rgb = "40, 160, 60" if positive else "200, 40, 40"
            spans.append(f'<mark style="background: rgba({rgb}, {shade:.2f})" '
                         f'title="{value:+.4f}">{html.escape(token)}</mark>')
        rows.append(f"<p><b>{html.escape(e['label'])}</b> (p = {e['probability']:.3f}, "
                    f"{e['kind'].replace('_', ' ')})<br>{' '.join(spans)}</p>")
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body>\n<h1>{html.escape(title)}</h1>\n" + "\n".join(rows)
            + "\n</body></html>\n")
