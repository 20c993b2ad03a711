"""A sentiment model looked into: the gates of a GRU around negations,
how its final hidden states cluster on test reviews, and its gradient flow.

Trains (or resumes, or reuses) one run, a unidirectional GRU whose last
state is the classifier's input, on the full IMDB data:

    kerasseq train sentiment --data imdb --cell gru --units 64 --head last --epochs 6
        --baselines '' --out runs/analysis-imdb-gru

then runs `kerasseq analyze` on it (the same code, `analyze_run`):
`gates` for a few short texts with and without a negation, `clusters` on
5,000 test reviews and `gradients` on 32. The numbers go to
`results/analysis_imdb.json`, the plots to `results/plots/imdb_*.png`.

Usage: python bench/analysis_imdb.py [--run DIR] [--out FILE]
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "analysis_imdb.json"
OPTIONS = ["--data", "imdb", "--cell", "gru", "--units", "64", "--head", "last", "--epochs", "6",
           "--baselines", ""]
# Pairs that differ by a negation (or by the sentiment word alone).
TEXTS = {
    "good": "the acting was good and the story was good",
    "not_good": "the acting was not good and the story was not good",
    "bad": "the acting was bad and the story was bad",
    "not_bad": "the acting was not bad and the story was not bad",
}
CLUSTER_SAMPLES = 5000


def negation_effect(traces):
    """How much "not" moves the update gates at the word it negates: the
    mean over units of |z(word after "not") - z(the same word without
    "not")|, next to how much the sentiment word itself moves them (|z at
    "good" - z at "bad"| in the texts without "not")."""
    def update_at(name, word):
        trace = traces[name]
        return [trace["gates"]["update"][i] for i, token in enumerate(trace["steps"]) if token == word]

    effect = {}
    for word in ("good", "bad"):
        negated, plain = update_at(f"not_{word}", word), update_at(word, word)
        # Both texts read the word as often, as a known token.
        assert len(negated) == len(plain) > 0, (word, negated, plain)
        effect[f"not_{word}_vs_{word}"] = round(float(np.mean([np.abs(a - b).mean()
                                                               for a, b in zip(negated, plain)])), 4)
    effect["good_vs_bad"] = round(float(np.mean([np.abs(a - b).mean() for a, b in
                                                 zip(update_at("good", "good"), update_at("bad", "bad"))])), 4)
    return effect


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "analysis-imdb-gru")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file; the plots go beside it")
    args = parser.parse_args(argv)
    plots = args.out.parent / "plots"

    import keras

    from kerasseq import cli
    from kerasseq.analysis.commands import analyze_run
    from quality_common import machine

    command = ["train", "sentiment", *OPTIONS, "--out", str(args.run)]
    if (args.run / "metrics.json").is_file():
        # A finished run is reused only if it is this command's.
        given = cli._given_options(cli.build_parser().parse_args(command))
        saved = json.loads((args.run / "config.json").read_text())
        differ = sorted(k for k, v in given.items() if saved.get(k) != v)
        if differ:
            raise SystemExit(f"{args.run} holds another run ({', '.join(differ)} differ): pass another --run.")
    else:
        # Trains, or resumes an interrupted run of the same command.
        assert cli.main(command) == 0
    metrics = json.loads((args.run / "metrics.json").read_text())["models"]
    model_name, scores = next(iter(metrics.items()))
    model = keras.saving.load_model(args.run / "model.keras")
    plots.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": machine(),
        "command": " ".join(["kerasseq", *(o or "''" for o in command[:-1]),
                             str(args.run.relative_to(ROOT) if args.run.is_relative_to(ROOT) else args.run)]),
        "model": model_name, "val_accuracy": scores["val"]["accuracy"],
        "test_accuracy": scores["test"]["accuracy"], "train_seconds": scores["train_seconds"],
        "gates": {},
    }
    traces = {}
    for name, text in TEXTS.items():
        trace = traces[name] = analyze_run(args.run, "gates", text=text)
        shutil.copy(args.run / "analysis" / "gates.png", plots / f"imdb_gates_{name}.png")
        probability = float(model.predict(np.array([text], dtype=object), verbose=0)[0, 0])
        result["gates"][name] = {
            "text": text, "tokens": trace["steps"], "probability_positive": round(probability, 4),
            **{f"mean_{gate}": [round(float(v), 4) for v in values]
               for gate, values in trace["mean_over_units"].items()},
        }
    result["negation"] = negation_effect(traces)
    clusters = analyze_run(args.run, "clusters", samples=CLUSTER_SAMPLES)
    shutil.copy(args.run / "analysis" / "clusters.png", plots / "imdb_clusters.png")
    result["clusters"] = {k: clusters[k] for k in ("samples", "units", "k", "silhouette", "dunn",
                                                   "davies_bouldin", "bic", "adjusted_rand", "best_k",
                                                   "labels")}
    flow = analyze_run(args.run, "gradients")
    shutil.copy(args.run / "analysis" / "gradients.png", plots / "imdb_gradients.png")
    result["gradients"] = {k: flow[k] for k in ("samples", "shortest", "grad_norm_last", "grad_norm_first",
                                                "decay_per_step", "jacobian_norm_median")}
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "clusters"}, indent=1))


if __name__ == "__main__":
    main()
