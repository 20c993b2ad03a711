"""Language-model quality: Penn Treebank (words) and tiny Shakespeare (characters).

Every row is trained through `kerasseq.tasks.lm.LanguageModelTask` (what
`kerasseq train lm` runs), with the equivalent CLI command. Two tables:
- `ptb`: Mikolov's PTB split (929k / 74k / 82k tokens, 10k words); the
  n-gram baselines (unigram, bigram and trigram with add-one smoothing,
  interpolated modified Kneser-Ney 3- and 5-gram) and the recurrent
  candidates, declared in CANDIDATES before they are trained. Every model
  predicts the same tokens: each token of a split after its first.
- `shakespeare`: tiny Shakespeare at character level, the first 90% of
  lines to train, the last 10% to validate (no test split); nats per
  character.

Results go to `results/lm.json`, one row per candidate, each written as
soon as it is trained so that a rerun skips it; a recurrent row keeps
checkpoints in `runs/quality_lm/NAME/`, so a killed script resumes it. The
PTB headline is chosen on validation: `"selected_by": "val_perplexity"`,
`"selected"` the recurrent PTB candidate with the lowest validation
perplexity once all are there; test figures play no part in it.

Run: `python bench/quality_lm.py [--only NAME ...] [--tables ptb,shakespeare] [--rerun]`;
`--epochs N` (a smoke run) writes `results/lm.smoke.json` instead.
"""

import json
import os
import shutil
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

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "lm.json"
CHECKPOINTS = ROOT / "runs" / "quality_lm"

# What every row of a table shares.
PROTOCOLS = {
    "ptb": dict(data="ptb", level="word", seed=0, seq_len=35),
    "shakespeare": dict(data="shakespeare", level="char", validation_split=0.1, test_split=0.0,
                        seed=0, seq_len=100),
}
SELECTED_BY = "val_perplexity"
CANDIDATES = {
    # name: (table, config overrides)
    "unigram_laplace": ("ptb", dict(baselines=["unigram"])),
    "bigram_laplace": ("ptb", dict(baselines=["bigram"])),
    "trigram_laplace": ("ptb", dict(baselines=["trigram"])),
    "kneser_ney_3": ("ptb", dict(baselines=["kneser_ney"], ngram_order=3)),
    "kneser_ney_5": ("ptb", dict(baselines=["kneser_ney"], ngram_order=5)),
    # Sized to train in under 2 hours on 2 CPU cores: 2x400 LSTM, the
    # output tied to the embeddings, variational dropout, Adam, batches of 64.
    # Declared with 25 epochs; after two epochs took 6-7 minutes each (tests
    # ran beside it), cut to 18 with the rate halved from the 14th; after
    # nine, its validation perplexity (173, falling about 4% an epoch) showed
    # it would not reach the goal in the session, and it was cut to the 10
    # epochs it had trained, to leave time for the next row. The epochs
    # trained are the same under all three settings (resumed from them).
    "lstm400x2_tied_dropout04": ("ptb", dict(units=400, embedding_dim=400, tie_weights=True,
                                             dropout=0.4, batch_size=64, epochs=10, patience=3)),
    # Added after the row above: TensorFlow's classic PTB "small" recipe
    # (Zaremba et al. 2014: 2x200 LSTM, no dropout, SGD at rate 1 clipped to
    # norm 5, batches of 20 x 35, 13 epochs, the rate halved after the 4th;
    # test perplexity 115.9 there), on our layers and pipeline. A first try
    # took rate 1 and norm 5 as they are and was stopped after its first
    # epoch (validation 667, against about 179 there): their loss is summed
    # over the 35 steps, ours is the mean per token, so the same steps are
    # rate 35 and norm 5/35 here, as in the row after it.
    "lstm200x2_sgd_lr1": ("ptb", dict(units=200, embedding_dim=200, batch_size=20, optimizer="sgd",
                                      learning_rate=1.0, epochs=1, patience=13, decay_after=4,
                                      lr_decay=0.5)),
    # Declared with the recipe's 13 epochs; cut to the 9 it had trained
    # when the session ran short, after validation stopped improving (115.2
    # at the 7th, 115.4 at the 8th). The best epoch is kept either way.
    "lstm200x2_sgd_small": ("ptb", dict(units=200, embedding_dim=200, batch_size=20, optimizer="sgd",
                                        learning_rate=35.0, clipnorm=5 / 35, epochs=9, patience=13,
                                        decay_after=4, lr_decay=0.5)),
    # Added in a later session, aimed at the goal (test <= 100) within the
    # 2-hour budget: the recipe above at 2x400, the output tied to the
    # embeddings (Press & Wolf 2017) and variational dropout 0.4 against the
    # overfitting that stopped the small model at its 7th epoch; the rate
    # multiplied by 0.6 every epoch after the 5th, so that it anneals within
    # the 11 epochs that fit in the budget (about 9 minutes each, estimated).
    "lstm400x2_tied_sgd_dropout04": ("ptb", dict(units=400, embedding_dim=400, tie_weights=True,
                                                 dropout=0.4, batch_size=20, optimizer="sgd",
                                                 learning_rate=35.0, clipnorm=5 / 35, epochs=11,
                                                 patience=3, decay_after=5, lr_decay=0.6)),
    "char_trigram_laplace": ("shakespeare", dict(baselines=["trigram"])),
    "char_kneser_ney_5": ("shakespeare", dict(baselines=["kneser_ney"], ngram_order=5)),
    "char_lstm256x2": ("shakespeare", dict(units=256, embedding_dim=64, dropout=0.1, batch_size=64,
                                           epochs=15, patience=3, learning_rate=2e-3)),
}


def run_row(name, table, overrides, corpus, epochs):
    """Trains and evaluates one candidate."""
    from kerasseq.tasks.lm import LanguageModelConfig
    from kerasseq.tasks.lm import LanguageModelTask

    baseline = overrides.get("baselines")
    values = {**PROTOCOLS[table], "baselines": [], "samples": 0, **overrides}
    if epochs:
        values["epochs"] = epochs
    task = LanguageModelTask(LanguageModelConfig(**values), corpus=corpus)
    return train_candidate(
        name, task, baseline and baseline[0],
        lambda row_name, model, seconds, trained, member: result_row(
            row_name, table, model, task, seconds, trained, member, baseline),
        directory=None if baseline else CHECKPOINTS / name,
    )


def result_row(name, table, model, task, seconds, epochs, config, baseline):
    from kerasseq.models.language import generate

    metrics = task.evaluate(model)
    command = cli_command(config, "lm", always=("data", "level"), out=f"runs/{table}",
                          baseline=baseline and baseline[0])
    row = row_head(name, table, is_candidate(name), model, seconds, epochs)
    for split, scores in metrics.items():
        row.update({f"{split}_{k}": round(v, 4) for k, v in scores.items() if k != "tokens"})
        row[f"{split}_tokens"] = scores["tokens"]
    if not baseline:
        prompt = "the company said" if table == "ptb" else "ROMEO:\n"
        row["sample"] = generate(model, task.vocabulary, prompt, length=40 if table == "ptb" else 300,
                                 temperature=0.8, seed=0)
    row["command"] = command
    print(json.dumps(row), flush=True)
    return row


def is_candidate(name):
    """Whether row `name` may be the headline: a recurrent PTB model (the
    n-gram rows are the reference it is measured against)."""
    table, overrides = CANDIDATES[name]
    return table == "ptb" and not overrides.get("baselines")


def select(rows):
    """The headline: the candidate with the lowest validation perplexity."""
    candidates = [r for r in rows if r["candidate"]]
    return min(candidates, key=lambda r: r[SELECTED_BY])["name"] if candidates else None


def markdown(rows, table):
    if table == "ptb":
        lines = ["| model | params | epochs | train s | val perplexity | test perplexity |",
                 "|---|---:|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['name']} | {r['params']:,} | {r['epochs']} | {r['train_seconds']:.0f} "
                         f"| {r['val_perplexity']:.1f} | {r['test_perplexity']:.1f} |")
    else:
        lines = ["| model | params | epochs | train s | val nats/char | val bits/char |",
                 "|---|---:|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['name']} | {r['params']:,} | {r['epochs']} | {r['train_seconds']:.0f} "
                         f"| {r['val_nats_per_char']:.3f} | {r['val_bits_per_char']:.3f} |")
    return "\n".join(lines)


def write_results(path, done, protocol):
    """Writes every finished row, in CANDIDATES order, and the selection once
    every PTB candidate has its row."""
    ordered, _ = ordered_rows(CANDIDATES, done)
    complete = all(n in done for n in CANDIDATES if is_candidate(n))
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({
        "protocol": protocol,
        "machine": machine(),
        "selected_by": SELECTED_BY,
        "selection_rule": "the recurrent PTB row with the lowest validation perplexity; every "
                          "candidate trained is listed",
        "selected": select(ordered) if complete else None,
        "rows": ordered,
    }, indent=2) + "\n")
    return ordered


def main():
    parser = quality_parser(__doc__.splitlines()[0], tables="ptb,shakespeare")
    args = parser.parse_args()

    import kerasseq  # noqa: F401
    from kerasseq.tasks.lm import LanguageModelConfig
    from kerasseq.tasks.lm import load_corpus

    results = RESULTS
    protocol = {"tables": PROTOCOLS}
    if args.epochs:
        # A smoke run: its figures go elsewhere, never over the real ones.
        protocol["epochs"] = args.epochs
        results = RESULTS.with_name("lm.smoke.json")
    tables, names = chosen_rows(CANDIDATES, args)
    saved = json.loads(results.read_text()) if results.exists() else {}
    done = kept_rows(saved, protocol, names, rerun=args.rerun)
    corpora = {}

    def train(name, table, overrides):
        if table not in corpora:
            corpora[table] = load_corpus(LanguageModelConfig(**PROTOCOLS[table]))
        return run_row(name, table, overrides, corpora[table], args.epochs)

    def written(name):
        write_results(results, done, protocol)
        # Written down: the checkpoints that would resume the row can go.
        shutil.rmtree(CHECKPOINTS / name, ignore_errors=True)

    start = time.time()
    trained = train_rows(names, CANDIDATES, done, results, train, written)
    ordered = write_results(results, done, protocol)
    for table in tables:
        print(f"\n### {table}\n")
        print(markdown([r for r in ordered if r["table"] == table], table))
    print(f"\n{trained} rows trained in {time.time() - start:.0f} s; selected by {SELECTED_BY}: "
          f"{select(ordered)}; written to {results}")


if __name__ == "__main__":
    main()
