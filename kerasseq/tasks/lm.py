"""The language-model task: a corpus, a recurrent LM, n-gram baselines, perplexity.

`LanguageModelTask` loads Penn Treebank, tiny Shakespeare or a user's text
at word or character level, builds the vocabulary on the training split
(saved with the run), trains a stateful recurrent LM by truncated BPTT
(or a stateless one on shuffled windows), and scores it and the n-gram
baselines on the same tokens: perplexity, nats per token and, at
character level, bits per character. Samples of generated text go into
`metrics.json` and `samples.txt`.
"""

import dataclasses
import math
import time

import numpy as np

from kerasseq.models.encoder import CELLS
from kerasseq.tasks import register
from kerasseq.tasks.base import Task
from kerasseq.tasks.base import TaskConfig
from kerasseq.tasks.base import option
from kerasseq.validation import ArgumentError
from kerasseq.validation import check_positive_int

# Baselines by name: (order, smoothing). The course notes' Markov models
# with add-one smoothing, and interpolated Kneser-Ney, the strong classic.
NGRAMS = {"unigram": (1, "laplace"), "bigram": (2, "laplace"), "trigram": (3, "laplace"),
          "kneser_ney": (None, "kneser_ney")}
VOCABULARY = "vocabulary.json"
SAMPLES = "samples.txt"


def _names(text):
    return [name for name in text.split(",") if name]


@dataclasses.dataclass
class LanguageModelConfig(TaskConfig):
    """Everything that defines a language-model run; saved as `config.json`.

    Fields are the keywords of `build_language_model` and of `pipelines.lm`,
    and the flags of `kerasseq train lm`.
    """

    epochs: int = option(20, group="training", help="most training epochs")
    batch_size: int = option(20, group="training", help="rows of the stream read side by side")
    patience: int = option(3, group="training",
                           help="epochs without a better validation perplexity before stopping "
                                "(the learning rate halves after half as many)")
    data: str = option("ptb", group="data",
                       help="'ptb', 'shakespeare', 'imdb' (the sentiment task's training reviews), "
                            "or a UTF-8 text file or train/valid/test folder")
    level: str = option("word", group="data", choices=["word", "char"], help="tokens: words or characters")
    validation_split: float = option(None, group="data", parse=float,
                                     help="share of a text file held out for validation (default: "
                                          "0.1; imdb: 0.2, the sentiment task's validation reviews)")
    test_split: float = option(0.0, group="data", help="share of a text file held out for test")
    max_tokens: int = option(None, group="data", parse=int,
                             help="vocabulary size, <unk> included (default: all training tokens; "
                                  "imdb: 20000, as the sentiment task)")
    seq_len: int = option(35, group="data", help="steps of backpropagation through time per batch")
    stateful: bool = option(True, help="carry the state across batches (truncated BPTT); "
                                       "--no-stateful trains on shuffled windows")
    embedding_dim: int = option(200, help="token embedding size")
    cell: str = option("lstm", choices=list(CELLS), help="recurrent cell")
    units: int = option(200, help="hidden units per recurrent layer")
    depth: int = option(2, help="stacked recurrent layers")
    dropout: float = option(0.0, help="variational dropout on the non-recurrent connections")
    tie_weights: bool = option(False, help="share the embedding matrix with the output layer")
    optimizer: str = option("adam", group="training", choices=["adam", "sgd"],
                            help="Adam, or plain SGD (Zaremba et al.: --learning-rate 1)")
    learning_rate: float = option(1e-3, group="training", help="the optimizer's learning rate")
    decay_after: int = option(None, group="training", parse=int,
                              help="after this many epochs, multiply the learning rate by --lr-decay "
                                   "every epoch (Zaremba et al.'s schedule; default: only on plateaus)")
    lr_decay: float = option(0.5, group="training", help="the factor of --decay-after")
    clipnorm: float = option(5.0, group="training", help="clip gradients to this global norm")
    baselines: list = option(list(NGRAMS), parse=_names,
                             help="comma-separated n-gram baselines, or '' for none")
    ngram_order: int = option(5, help="order of the kneser_ney baseline")
    samples: int = option(3, help="texts generated after training")
    sample_length: int = option(None, parse=int,
                                help="tokens per generated text (default: 60 words or 400 characters)")


def load_corpus(config):
    """Loads `config.data` at `config.level` as a `pipelines.lm.Corpus`."""
    from pipelines import lm

    # Options a corpus fixes itself: an error, not silently ignored.
    fixed = {"ptb": {"level": "word", "max_tokens": None, "validation_split": None, "test_split": 0.0},
             "imdb": {"level": "word", "test_split": 0.0}}.get(config.data, {})
    for field, value in fixed.items():
        if getattr(config, field) != value:
            raise ArgumentError(
                field, f"LanguageModelTask received {field}={getattr(config, field)!r} with "
                       f"data={config.data!r}, whose {field.replace('_', ' ')} is fixed. Leave "
                       f"{field} out (or pass {value!r}).")
    if config.data == "ptb":
        return lm.load_ptb()
    if config.data == "imdb":
        # The sentiment task's split and vocabulary size, so that its
        # validation reviews stay unseen and its words find their vectors.
        return lm.load_imdb_text(
            validation_split=0.2 if config.validation_split is None else config.validation_split,
            seed=config.seed, max_tokens=config.max_tokens or 20000,
        )
    splits = dict(validation_split=0.1 if config.validation_split is None else config.validation_split,
                  test_split=config.test_split)
    if config.data == "shakespeare":
        return lm.load_shakespeare(level=config.level, max_tokens=config.max_tokens, **splits)
    return lm.load_text(config.data, level=config.level, max_tokens=config.max_tokens, **splits)


@register("lm")
class LanguageModelTask(Task):
    """Predict the next word or character: corpus, vocabulary and models of
    one `LanguageModelConfig`.

    Every model, recurrent or n-gram, is scored on the same tokens: each
    token of a split after its first, predicted from what precedes it (a
    recurrent model reads the split as `batch_size` contiguous rows, each
    from a zero state).

    Args:
        config: a `LanguageModelConfig` (or a dict of its fields).
        corpus: optional `pipelines.lm.Corpus` to use instead of loading
            `config.data`.

    Example:
    >>> task = LanguageModelTask({"data": "ptb", "epochs": 1})  # doctest: +SKIP
    >>> model = task.build_model()  # doctest: +SKIP
    >>> task.fit(model)  # doctest: +SKIP
    >>> task.evaluate(model)["val"]["perplexity"]  # doctest: +SKIP
    """

    config_class = LanguageModelConfig
    monitor = "val_perplexity"
    plateau_monitor = "val_perplexity"
    baseline_names = tuple(NGRAMS)
    source_options = ("data", "level", "validation_split", "test_split", "max_tokens", "seed")
    example = ("kerasseq train lm --data ptb --units 200 --depth 2 --tie-weights --dropout 0.3 "
               "--out runs/ptb-lstm")

    def __init__(self, config, corpus=None):
        super().__init__(config)
        c = self.config
        owner = type(self).__name__
        for field in ("seq_len", "embedding_dim", "units", "depth", "ngram_order"):
            check_positive_int(field, getattr(c, field), owner=owner, example=f"{field}=2")
        if c.decay_after is not None:
            check_positive_int("decay_after", c.decay_after, owner=owner, example="decay_after=6")
        if isinstance(c.lr_decay, bool) or not isinstance(c.lr_decay, (int, float)) or not 0 < c.lr_decay <= 1:
            raise ArgumentError("lr_decay", f"{owner} received lr_decay={c.lr_decay!r}. Pass a factor in "
                                            "(0, 1], e.g. lr_decay=0.5.")
        if c.ensemble != 1:
            # The mean of members' logits is not a mixture of their
            # distributions, and each member would need its own state.
            raise ArgumentError("ensemble", f"{owner} received ensemble={c.ensemble}. Language models "
                                            "train one model per run: leave ensemble at 1.")
        if c.stateful and c.strategy != "default":
            # Checked before a run directory is made, so that the fix needs no --overwrite.
            from kerasseq.distribute import get_strategy

            _check_one_replica(get_strategy(c.strategy).num_replicas_in_sync)
        self.corpus = self.source = load_corpus(c) if corpus is None else corpus
        self.vocabulary = self.corpus.vocabulary
        self.splits = ("val", "test") if self.corpus.test is not None else ("val",)
        # Checked here, before a run directory exists, by building the batches.
        for split in ("train", *self.splits):
            self.dataset(split)
        # Generated texts, kept for summary() (written after write_plots).
        self._samples = []

    @property
    def model_name(self):
        return f"{self.config.cell}_lm"

    def dataset(self, split, *, shuffle=False, seed=None, batch_size=None):
        """Batches of `split`. Training: BPTT rows (a stateful model; the
        start offset drawn from `seed` when shuffled) or shuffled windows.
        Validation and test: every token once, `(x, y, weights)`.
        `batch_size` overrides the config's."""
        from pipelines.lm import bptt_dataset
        from pipelines.lm import window_dataset

        c = self.config
        ids = self.corpus.split(split)
        seed = c.seed if seed is None else seed
        batch_size = batch_size or c.batch_size
        if split != "train":
            return bptt_dataset(ids, batch_size=batch_size, seq_len=c.seq_len, drop_remainder=False)
        if not c.stateful:
            return window_dataset(ids, batch_size=batch_size, seq_len=c.seq_len, shuffle=shuffle,
                                  seed=seed)
        offset = int(np.random.default_rng(seed).integers(c.seq_len)) if shuffle else 0
        return bptt_dataset(ids, batch_size=batch_size, seq_len=c.seq_len, offset=offset)

    def build_model(self, *, seed=None, **overrides):
        """The configured recurrent LM, its initial weights drawn from `seed`."""
        import keras

        from kerasseq.models.language import build_language_model

        c = self.config
        keras.utils.set_random_seed(c.seed if seed is None else seed)
        keywords = dict(
            vocab_size=len(self.vocabulary), embedding_dim=c.embedding_dim, cell=c.cell, units=c.units,
            depth=c.depth, dropout=c.dropout, tie_weights=c.tie_weights, stateful=c.stateful,
            batch_size=c.batch_size if c.stateful else None, optimizer=c.optimizer,
            learning_rate=c.learning_rate,
            clipnorm=c.clipnorm,
        )
        keywords.update(overrides)
        return build_language_model(**keywords)

    def fit(self, model, *, seed=None, callbacks=(), directory=None, verbose=None, **kwargs):
        """`Task.fit`, with a stateful model's states zeroed at each epoch
        and around validation."""
        import keras

        from kerasseq.models.language import ResetStates

        if self.config.stateful:
            _check_one_replica(model.distribute_strategy.num_replicas_in_sync)
        callbacks = [ResetStates(), *callbacks]
        after, decay = self.config.decay_after, self.config.lr_decay
        if after is not None:
            # Relative to the rate the epoch starts with (plateaus may have
            # lowered it; a resumed fit restores it), so the two compose.
            callbacks.append(keras.callbacks.LearningRateScheduler(
                lambda epoch, rate: rate * decay if epoch >= after else rate))
        return super().fit(model, seed=seed, callbacks=callbacks, directory=directory, verbose=verbose,
                           **kwargs)

    def serving(self, model, assets):
        """Two signatures on raw prompts (`tf.string [batch]`, tokenized
        inside as the corpus was; an empty prompt starts a new line):
        `serving_default` gives the next token's `probabilities` over the
        vocabulary (ids as in `vocabulary.json`) and the `top_tokens` with
        their `top_probabilities`; `generate` (with `num_tokens`, int32)
        continues each prompt greedily and returns the `continuation` text
        and its `token_ids`. The vocabulary is `assets/vocabulary.txt`, one
        token per line (a line break as the two characters `\\n`)."""
        import tensorflow as tf

        from kerasseq.export import LINE_BREAKS
        from kerasseq.export import Serving
        from kerasseq.export import vocabulary_asset
        from kerasseq.models.language import stateless_copy

        vocabulary = self.vocabulary
        size = len(vocabulary)
        words = tf.constant(vocabulary.tokens)
        asset, _ = vocabulary_asset(vocabulary.tokens, assets)
        table = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
            asset, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), default_value=vocabulary.index.get("<unk>", 0))
        copy = stateless_copy(model)
        word_level = vocabulary.level == "word"
        start = vocabulary.index.get("<eos>" if word_level else "\n", 0)

        def lookup(pieces):
            for line_break, escaped in LINE_BREAKS.items():
                pieces = tf.where(pieces == line_break, escaped, pieces)
            return tf.cast(table.lookup(pieces), tf.int32)

        def encode(prompt):
            if word_level:
                pieces = tf.strings.split(tf.strings.regex_replace(prompt, "\r?\n", " <eos> "))
            else:
                pieces = tf.strings.unicode_split(prompt, "UTF-8")
            ids = tf.ragged.map_flat_values(lookup, pieces)
            lengths = tf.cast(ids.row_lengths(), tf.int32)
            # One column more, so that a batch of empty prompts has one.
            dense = tf.pad(ids.to_tensor(default_value=0), [[0, 0], [0, 1]])
            empty = lengths == 0
            first = tf.where(empty, start, dense[:, 0])
            dense = tf.concat([first[:, None], dense[:, 1:]], axis=1)
            return dense, tf.maximum(lengths, 1)

        def last_logits(ids, lengths):
            logits = tf.cast(copy(ids, training=False)[..., :size], tf.float32)
            return tf.gather(logits, lengths - 1, batch_dims=1)

        def next_token(prompt):
            probabilities = tf.nn.softmax(last_logits(*encode(prompt)))
            top = tf.math.top_k(probabilities, k=min(5, size))
            return {"probabilities": probabilities, "top_tokens": tf.gather(words, top.indices),
                    "top_probabilities": top.values}

        def generate(prompt, num_tokens):
            ids, lengths = encode(prompt)
            rows = tf.range(tf.shape(ids)[0])
            ids = tf.pad(ids, [[0, 0], [0, tf.maximum(num_tokens, 0)]])
            count = tf.maximum(num_tokens, 0)

            def step(i, ids, lengths, produced):
                token = tf.argmax(last_logits(ids, lengths), axis=-1, output_type=tf.int32)
                ids = tf.tensor_scatter_nd_update(ids, tf.stack([rows, lengths], axis=1), token)
                return i + 1, ids, lengths + 1, produced.write(i, token)

            # Keras' export traces without AutoGraph: the loop is explicit.
            _, _, _, produced = tf.while_loop(
                lambda i, *_: i < count, step,
                (tf.constant(0), ids, lengths, tf.TensorArray(tf.int32, size=count, element_shape=[None])),
                shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([None]),
                                  tf.TensorShape(None)))
            token_ids = tf.transpose(tf.reshape(produced.stack(), [-1, tf.shape(rows)[0]]))
            text = tf.strings.reduce_join(tf.gather(words, token_ids), axis=1,
                                          separator=" " if word_level else "")
            if word_level:
                text = tf.strings.regex_replace(text, " ?<eos> ?", "\n")
            return {"continuation": text, "token_ids": token_ids}

        prompt = tf.TensorSpec([None], tf.string, name="prompt")
        return Serving({"serving_default": (next_token, [prompt]),
                        "generate": (generate, [prompt, tf.TensorSpec([], tf.int32, name="num_tokens")])},
                       resources=(table, asset, copy))

    def build_baselines(self):
        """The configured n-gram models, unfitted."""
        from kerasseq.models.ngram import NGramLM

        baselines = {}
        for name in self.config.baselines:
            order, smoothing = NGRAMS[name]
            baselines[name] = NGramLM(order or self.config.ngram_order, smoothing)
        return baselines

    def fit_baseline(self, name, model, *, verbose=2):
        """Counts the n-grams of the training stream."""
        start = time.perf_counter()
        model.fit(self.corpus.train, vocab_size=len(self.vocabulary))
        return None, time.perf_counter() - start

    def evaluate(self, model, splits=None):
        """Perplexity and nats per token (bits and nats per character at
        character level) on each split, the same tokens for every model."""
        from kerasseq.models.language import evaluate_language_model

        results = {}
        for split in splits or self.splits:
            ids = self.corpus.split(split)
            if hasattr(model, "log_prob"):
                # The first token has no history; the recurrent models do
                # not score it either.
                nats = float(-np.mean(model.log_prob(ids)[1:]))
                scores = {"nats_per_token": nats, "perplexity": math.exp(nats), "tokens": len(ids) - 1}
            else:
                scores = evaluate_language_model(model, ids, batch_size=self.config.batch_size,
                                                 seq_len=self.config.seq_len)
            if self.vocabulary.level == "char":
                scores["nats_per_char"] = scores["nats_per_token"]
                scores["bits_per_char"] = scores["nats_per_token"] / math.log(2)
            results[split] = scores
        return results

    def save_model(self, model, path):
        if hasattr(model, "log_prob"):
            path = path.with_suffix(".npz")
            model.save(path)
            return path
        return super().save_model(model, path)

    def load_model(self, path):
        if path.suffix == ".npz":
            from kerasseq.models.ngram import NGramLM

            return NGramLM.load(path)
        return super().load_model(path)

    def save_assets(self, directory):
        """Saves the vocabulary as `vocabulary.json`."""
        self.vocabulary.save(directory / VOCABULARY)

    def check_assets(self, directory):
        """Raises if the run's vocabulary is not the one of this data."""
        from pipelines.lm import Vocabulary

        path = directory / VOCABULARY
        saved = Vocabulary.load(path) if path.is_file() else None
        if saved is not None and saved != self.vocabulary:
            raise ValueError(
                f"{path} ({len(saved):,} {saved.level} tokens) is not the vocabulary of "
                f"{self.config.data} ({len(self.vocabulary):,} {self.vocabulary.level} tokens): "
                "the data changed since the run was trained. Evaluate on the original data, or "
                "train a new run."
            )

    def summary(self):
        return {
            "level": self.vocabulary.level,
            "vocabulary_size": len(self.vocabulary),
            "num_tokens": {split: int(len(self.corpus.split(split)))
                           for split in ("train", *self.splits)},
            "samples": self._samples,
        }

    def write_plots(self, directory, models, histories):
        """Loss and perplexity curves (the n-gram baselines' validation
        perplexity as lines), and `samples` texts generated by the main
        model (also written to `samples.txt` in the run directory)."""
        from kerasseq import analysis
        from kerasseq.models.language import generate

        super().write_plots(directory, models, histories)
        curves = {name: h for name, h in histories.items() if h}
        if curves:
            ngrams = {name: self.evaluate(m, ("val",))["val"]["perplexity"]
                      for name, m in models.items() if hasattr(m, "log_prob")}
            analysis.plot_losses(curves, directory / "perplexity.png", metric="perplexity",
                                 references=ngrams)
        model = models.get(self.model_name)
        if model is None or not self.config.samples:
            return
        c = self.config
        length = c.sample_length or (60 if self.vocabulary.level == "word" else 400)
        prompts = self.sample_prompts()
        self._samples = [
            {"prompt": prompt, "temperature": 0.8, "seed": c.seed + i,
             "text": generate(model, self.vocabulary, prompt, length=length, temperature=0.8,
                              seed=c.seed + i)}
            for i, prompt in enumerate(prompts)
        ]
        text = "\n\n".join(f"--- prompt {s['prompt']!r}, temperature 0.8, seed {s['seed']}\n{s['text']}"
                           for s in self._samples)
        (directory.parent / SAMPLES).write_text(text + "\n")
        print(text)

    def analysis_examples(self, split="test", count=32, *, seed=None):
        """`Task.analysis_examples`: `count` windows of `seq_len` tokens of
        `split` at random places drawn from `seed`, and the tokens that
        follow each."""
        from pipelines.lm import window_dataset

        if split not in self.splits:
            raise ArgumentError("split", f"The corpus of this run has no {split} split. Pass split='val' "
                                         "(--split val).")
        ids = self.corpus.split(split)
        x, y = next(iter(window_dataset(ids, batch_size=count, seq_len=self.config.seq_len, shuffle=True,
                                        seed=self.config.seed if seed is None else seed)))
        return x, y

    def analysis_sequence(self, model, text=None, *, split="test", seed=None):
        """`Task.analysis_sequence`: the ids of `text` (default: a window
        of `seq_len` tokens of `split` drawn from `seed`) and its tokens."""
        vocabulary = self.vocabulary
        if text is None:
            x, _ = self.analysis_examples(split, 1, seed=seed)
            ids = np.asarray(x)[0]
        else:
            if not isinstance(text, str) or not text.strip():
                raise ArgumentError("text", f"analysis_sequence received text={text!r}. Pass a text with "
                                            "words in it.")
            ids = vocabulary.encode(vocabulary.tokenize_prompt(text))
        return np.asarray(ids, "int32")[None], vocabulary.decode(ids)

    def sample_prompts(self):
        """`samples` prompts: the first tokens of lines of the validation text."""
        vocabulary = self.vocabulary
        tokens = vocabulary.decode(self.corpus.validation[:20000])
        if vocabulary.level == "word":
            starts = [0] + [i + 1 for i, t in enumerate(tokens[:-4]) if t == "<eos>"]
            take = 3
        else:
            starts = [0] + [i + 1 for i, t in enumerate(tokens[:-20]) if t == "\n"]
            take = 12
        chosen = np.random.default_rng(self.config.seed).choice(
            len(starts), min(self.config.samples, len(starts)), replace=False)
        return [vocabulary.join(tokens[starts[i]: starts[i] + take]).strip() for i in sorted(chosen)]


def _check_one_replica(replicas):
    if replicas > 1:
        raise ArgumentError("strategy", f"A stateful language model carries its state from batch to batch, "
                                        f"which {replicas} replicas cannot share. Train with --no-stateful "
                                        "(shuffled windows) to distribute it, or in one process: "
                                        "--strategy default, without --workers/--local.")
