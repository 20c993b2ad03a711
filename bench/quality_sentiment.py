"""Sentiment quality on IMDB: the full 25k/25k split, no pretrained weights.

Every row is trained through `kerasseq.tasks.sentiment.SentimentTask` (what
`kerasseq train sentiment` runs), with the equivalent CLI command. The
validation texts are 20% of the training reviews (5,000, stratified, seed
0); the 25,000 test reviews are scored once per row, after training.

Two tables:
- `main`: the majority and bag-of-words baselines, and every candidate for
  the headline (a kerasseq recurrent or attention model, the issue's goal),
  declared in CANDIDATES before it is trained;
- `course`: the course report's models (Elman ReLU 64, GRU 120, windowed
  attention with window 5, a softmax word-weighting head, the per-word
  sub-score head), with all four measures.

Results go to `results/sentiment.json`, one row per candidate (an
ensemble's members too), each written as soon as it is trained so that a
rerun skips it. The headline is chosen on validation: `"selected_by":
"val_accuracy"`, `"selected"` names the candidate (`"candidate": true`: a
`main` row that is not a baseline) with the highest validation accuracy,
once all of them are there; test figures play no part in it. A Markdown table is printed for the README.

Run: `python bench/quality_sentiment.py [--only NAME ...] [--tables main,course] [--rerun]`;
`--epochs N` / `--limit N` (a smoke run) write `results/sentiment.smoke.json` instead.
"""

import json
import os
import time
from pathlib import Path

from quality_common import chosen_rows
from quality_common import cli_command
from quality_common import kept_rows
from quality_common import machine
from quality_common import ordered_rows
from quality_common import quality_parser
from quality_common import row_head
from quality_common import train_candidate
from quality_common import train_rows

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = Path(__file__).resolve().parent.parent / "results" / "sentiment.json"

# The protocol: every row shares these.
PROTOCOL = dict(data="imdb", validation_split=0.2, seed=0, max_tokens=20000, batch_size=64,
                epochs=8, patience=2)
SELECTED_BY = "val_accuracy"
# Long enough for every review but the longest 1% (2,500 tokens at most):
# batches are grouped by length, so reading whole reviews costs little.
FULL = dict(max_length=1000)
CANDIDATES = {
    # name: (table, config overrides)
    "majority": ("main", dict(baselines=["majority"])),
    "bag_of_words": ("main", dict(baselines=["bag_of_words"])),
    # The task's defaults: GRU 64, attention pooling, 400 tokens (the end kept).
    "gru64_attention": ("main", dict()),
    "gru64_max_full": ("main", dict(head="max", **FULL)),
    "bigru64_max_full": ("main", dict(head="max", bidirectional=True, **FULL)),
    "bigru64_max_full_dropout05": ("main", dict(head="max", bidirectional=True, dropout=0.5, **FULL)),
    "bigru64_token_scores_full": ("main", dict(head="token_scores", bidirectional=True, **FULL)),
    "bigru64_windowed_attention_full": ("main", dict(head="windowed_attention", window=5,
                                                     bidirectional=True, **FULL)),
    # Added after a first pass stopped by a crash (see README): its models
    # overfit after one or two epochs, so a slower, more regularized one.
    "bigru64_max_full_dropout05_lr5e-4": ("main", dict(head="max", bidirectional=True, dropout=0.5,
                                                       learning_rate=5e-4, **FULL)),
    # Added with the language-model task: the task's defaults, its embedding
    # and GRU started from a GRU 64 language model trained for one epoch on
    # the same 20,000 training reviews (never the validation or test ones):
    #   kerasseq train lm --data imdb --cell gru --units 64 --depth 1 --embedding-dim 128
    #       --batch-size 64 --epochs 1 --baselines '' --out runs/imdb-lm
    "gru64_attention_pretrained": ("main", dict(pretrained="runs/imdb-lm")),
    # The course report's rows.
    "course_elman_relu64": ("course", dict(cell="elman_relu", units=64, head="last")),
    "course_gru120": ("course", dict(cell="gru", units=120, head="last")),
    "course_windowed_attention_w5": ("course", dict(head="windowed_attention", window=5)),
    "course_word_weighting": ("course", dict(head="attention", units=32)),
    "course_token_scores": ("course", dict(head="token_scores")),
}


def run_row(name, table, overrides, data, limit):
    """Trains and evaluates one candidate; an ensemble also gives one row per member."""
    from kerasseq.tasks.sentiment import SentimentConfig
    from kerasseq.tasks.sentiment import SentimentTask

    baseline = overrides.get("baselines")
    config = SentimentConfig(**{**PROTOCOL, "baselines": [], "limit": limit, **overrides})
    task = SentimentTask(config, data=data)
    return train_candidate(
        name, task, baseline and baseline[0],
        lambda row_name, model, seconds, epochs, member: result_row(
            row_name, table, model, task, seconds, epochs, member, baseline),
    )


def result_row(name, table, model, task, seconds, epochs, config, baseline):
    metrics = task.evaluate(model)
    command = cli_command(config, "sentiment", out="runs/imdb", baseline=baseline and baseline[0])
    row = {
        **row_head(name, table, is_candidate(name), model, seconds, epochs),
        **{f"val_{k}": round(v, 4) for k, v in metrics["val"].items() if isinstance(v, float)},
        **{f"test_{k}": round(v, 4) for k, v in metrics["test"].items() if isinstance(v, float)},
        "test_confusion_matrix": metrics["test"]["confusion_matrix"],
        "command": command,
    }
    print(json.dumps(row), flush=True)
    return row


def is_candidate(name):
    """Whether row `name` (an ensemble member's too) may be the headline: a
    `main` row of one of our models (the baselines are the reference it is
    measured against)."""
    table, overrides = CANDIDATES[name if name in CANDIDATES else name.rsplit("_seed", 1)[0]]
    return table == "main" and not overrides.get("baselines")


def select(rows):
    """The headline: the candidate with the highest validation accuracy."""
    candidates = [r for r in rows if r["candidate"]]
    return max(candidates, key=lambda r: r[SELECTED_BY])["name"] if candidates else None


def markdown(rows):
    lines = ["| model | params | epochs | train s | val acc | test acc | test F1 | test AUC |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['params']:,} | {r['epochs']} | {r['train_seconds']:.0f} "
            f"| {r['val_accuracy']:.4f} | {r['test_accuracy']:.4f} | {r['test_f1']:.4f} "
            f"| {r['test_auc']:.4f} |"
        )
    return "\n".join(lines)


def write_results(path, done, protocol):
    """Writes every finished row, in CANDIDATES order, and the selection once
    every `main` candidate has its row."""
    ordered, tables = ordered_rows(CANDIDATES, done)
    for row in ordered:
        # Derived here, not only when trained, so that every row follows the rule.
        row["candidate"] = is_candidate(row["name"])
    main = [n for n, (table, _) in CANDIDATES.items() if table == "main"]
    complete = all(n in done for n in main)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({
        "protocol": protocol,
        "machine": machine(),
        "selected_by": SELECTED_BY,
        "selection_rule": "the candidate row (a main-table row of a kerasseq model, not a "
                          "baseline; ensembles and their members included) with the highest "
                          "validation accuracy; every candidate trained is listed",
        "num_candidates": sum(r["candidate"] for r in ordered) if complete else None,
        "selected": select(ordered) if complete else None,
        "rows": ordered,
    }, indent=2) + "\n")
    return ordered


def main():
    parser = quality_parser(__doc__.splitlines()[0], tables="main,course")
    parser.add_argument("--limit", type=int, help="texts per split (smoke runs)")
    args = parser.parse_args()

    import kerasseq  # noqa: F401
    from kerasseq.tasks.sentiment import SentimentConfig
    from kerasseq.tasks.sentiment import load_texts

    results = RESULTS
    protocol = dict(PROTOCOL)
    if args.epochs or args.limit:
        # A smoke run: its figures go elsewhere, never over the real ones.
        protocol.update(epochs=args.epochs or protocol["epochs"], limit=args.limit)
        PROTOCOL.update(epochs=protocol["epochs"])
        results = RESULTS.with_name("sentiment.smoke.json")
    tables, names = chosen_rows(CANDIDATES, args)
    saved = json.loads(results.read_text()) if results.exists() else {}
    done = kept_rows(saved, protocol, names, rerun=args.rerun)
    data = load_texts(SentimentConfig(**{k: v for k, v in PROTOCOL.items()}))
    start = time.time()
    trained = train_rows(
        names, CANDIDATES, done, results,
        lambda name, table, overrides: run_row(name, table, overrides, data, args.limit),
        lambda name: write_results(results, done, protocol),
    )
    ordered = write_results(results, done, protocol)
    for table in tables:
        print(f"\n### {table}\n")
        print(markdown([r for r in ordered if r["table"] == table]))
    print(f"\n{trained} rows trained in {time.time() - start:.0f} s; selected by {SELECTED_BY}: "
          f"{select(ordered)}; written to {results}")


if __name__ == "__main__":
    main()
