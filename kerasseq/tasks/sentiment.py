"""The sentiment task: labeled texts, a raw-text recurrent classifier, its baselines.

`SentimentTask` loads IMDB (or a user's labeled texts), adapts the
vocabulary on the training texts only, batches raw texts by length, builds
the recurrent classifier (`build_sentiment_model`, vectorizer inside) and
the majority and bag-of-words baselines, and measures every model with
the same code: accuracy, precision, recall, F1 and ROC AUC, a confusion
matrix, ROC curves, and per-token explanations of a few test reviews.
"""

import dataclasses
import json
import sys
import weakref

import numpy as np

from kerasseq.models.encoder import CELLS
from kerasseq.models.sentiment import EXPLAINING_HEADS
from kerasseq.models.sentiment import HEADS
from kerasseq.tasks import register
from kerasseq.tasks.base import Task
from kerasseq.tasks.base import TaskConfig
from kerasseq.tasks.base import option
from kerasseq.validation import ArgumentError
from kerasseq.validation import check_positive_int

BASELINES = ("majority", "bag_of_words")
# The bag-of-words baseline: unigrams and bigrams, TF-IDF weighted, the
# classic strong linear model on IMDB ("bag of bigrams", Maas et al. 2011).
BAG_OF_WORDS_TOKENS = 100_000
EXPLAINED_REVIEWS = 6


def _names(text):
    return [name for name in text.split(",") if name]


@dataclasses.dataclass
class SentimentConfig(TaskConfig):
    """Everything that defines a sentiment run; saved as the run's `config.json`.

    Fields are the keywords of `build_sentiment_model` and of the text
    pipelines, and the flags of `kerasseq train sentiment`.
    """

    epochs: int = option(10, group="training", help="most training epochs")
    patience: int = option(2, group="training",
                           help="epochs without a better validation accuracy before stopping")
    data: str = option("imdb", group="data",
                       help="'imdb', or a CSV/TSV/JSONL file or folder-per-class of labeled texts")
    text_column: str = option("text", group="data", help="text column of a data file")
    label_column: str = option("label", group="data", help="label column of a data file")
    class_names: list = option(None, group="data", parse=_names,
                               help="the labels of class 0 and class 1, e.g. neg,pos "
                                    "(default: sorted; imdb: neg,pos)")
    validation_split: float = option(0.2, group="data",
                                     help="share of the training texts held out for validation")
    limit: int = option(None, group="data", parse=int,
                        help="use at most N texts of each split, drawn at random (a quick trial)")
    max_tokens: int = option(20000, group="data", help="vocabulary size (padding and unknown included)")
    max_length: int = option(400, group="data", help="most tokens read per text")
    truncate: str = option("end", group="data", choices=["end", "start"],
                           help="keep the end or the start of longer texts")
    word_vectors: str = option(None, group="model",
                               help="GloVe/word2vec text file to start the embeddings from")
    pretrained: str = option(None, group="model",
                             help="a `kerasseq train lm` run on these texts (e.g. --data imdb) whose "
                                  "embeddings and encoder start the model (same cell, units, depth)")
    embedding_dim: int = option(128, help="token embedding size (with --word-vectors: theirs)")
    cell: str = option("gru", choices=list(CELLS), help="recurrent cell")
    units: int = option(64, help="hidden units per recurrent layer")
    depth: int = option(1, help="stacked recurrent layers")
    bidirectional: bool = option(False, help="read each text both ways")
    head: str = option("attention", choices=list(HEADS), help="how the token states become a prediction")
    window: int = option(5, help="neighbours on each side for head windowed_attention")
    dropout: float = option(0.3, help="dropout on the embeddings and before the output")
    baselines: list = option(list(BASELINES), parse=_names,
                             help="comma-separated baselines, or '' for none")
    learning_rate: float = option(1e-3, group="training", help="Adam's learning rate")


def load_texts(config):
    """Loads `config.data` ("imdb", a file or a folder) as `TextClassificationData`."""
    from pipelines import text

    if config.data == "imdb":
        if config.class_names and tuple(config.class_names) != text.IMDB_CLASSES:
            raise ArgumentError(
                "class_names",
                f"SentimentTask received class_names={config.class_names!r} for imdb, whose "
                f"classes are {list(text.IMDB_CLASSES)} (0 = negative). Leave class_names out.",
            )
        return text.load_imdb(validation_split=config.validation_split, seed=config.seed)
    return text.load_text_classification(
        config.data, text_column=config.text_column, label_column=config.label_column,
        validation_split=config.validation_split, seed=config.seed,
        class_names=tuple(config.class_names) if config.class_names else None,
    )


def load_pretrained(config, vocabulary):
    """The embedding rows for `vocabulary` and the model of the language-model
    run `config.pretrained`, to start a classifier from: `(embeddings, model)`.

    On IMDB the language model must have read the training reviews of this
    split only (`kerasseq train lm --data imdb` with the same seed and
    validation split), so that validation reviews stay unseen."""
    import keras

    from kerasseq.models.language import transfer_embeddings
    from kerasseq.runs import RunDirectory
    from kerasseq.tasks.lm import VOCABULARY
    from pipelines.lm import Vocabulary

    directory = config.pretrained
    run = RunDirectory(directory)
    saved = run.read_config()
    if saved["task"] != "lm":
        raise ArgumentError("pretrained", f"SentimentTask received pretrained={str(directory)!r}, a "
                                          f"{saved['task']!r} run. Pass the directory of a `kerasseq "
                                          "train lm` run.")
    if config.data == "imdb":
        # The language model's IMDB split (None: the sentiment task's default).
        split = 0.2 if saved.get("validation_split") is None else saved["validation_split"]
        theirs = (saved.get("data"), saved.get("seed"), split)
        if theirs != ("imdb", config.seed, config.validation_split):
            read = (f"data={theirs[0]!r}, seed={theirs[1]}, validation_split={theirs[2]}"
                    if theirs[0] == "imdb" else f"data={theirs[0]!r}")
            raise ArgumentError(
                "pretrained",
                f"SentimentTask received pretrained={str(directory)!r}, a language model of {read}; "
                f"this run has data='imdb', seed={config.seed}, validation_split="
                f"{config.validation_split}. Its validation reviews must be unseen: train the "
                "language model with `kerasseq train lm --data imdb` and this run's --seed and "
                "--validation-split.",
            )
    model = keras.saving.load_model(run.model_path)
    embeddings, found = transfer_embeddings(model, Vocabulary.load(run.path / VOCABULARY), vocabulary)
    print(f"Pretrained: {found:,} of {len(vocabulary):,} tokens found in {run.path / VOCABULARY}; "
          f"encoder from {run.model_path}")
    return embeddings, model


@register("sentiment")
class SentimentTask(Task):
    """Classify texts as negative or positive: data, vocabulary and models of
    one `SentimentConfig`.

    The vocabulary is adapted on the training texts only; texts are
    batched raw, grouped by length; models take strings, so a saved model
    is complete. Every model is measured by `evaluate` with the same code.

    Args:
        config: a `SentimentConfig` (or a dict of its fields).
        data: optional `pipelines.text.TextClassificationData` to use
            instead of loading `config.data`.

    Example:
    >>> task = SentimentTask({"data": "imdb", "epochs": 1, "limit": 2000})  # doctest: +SKIP
    >>> model = task.build_model()  # doctest: +SKIP
    >>> task.fit(model)  # doctest: +SKIP
    >>> task.evaluate(model)["test"]["accuracy"]  # doctest: +SKIP
    """

    config_class = SentimentConfig
    monitor = "val_accuracy"
    monitor_mode = "max"
    baseline_names = BASELINES
    source_options = ("data", "text_column", "label_column", "class_names", "validation_split", "seed")
    keywords = {"keep": "truncate", "encoder": "pretrained"}
    example = ("kerasseq train sentiment --data imdb --cell gru --units 64 --head attention "
               "--out runs/imdb-gru")

    def __init__(self, config, data=None):
        from pipelines import text

        super().__init__(config)
        c = self.config
        owner = type(self).__name__
        for field in ("max_tokens", "max_length"):
            check_positive_int(field, getattr(c, field), owner=owner, example=f"{field}=400")
        if c.limit is not None:
            check_positive_int("limit", c.limit, owner=owner, example="limit=2000")
        data = self.source = load_texts(c) if data is None else data
        self.class_names = tuple(str(name) for name in data.class_names)
        # Precision, recall and F1 are those of class 1: say which one it is.
        print(f"Labels: 0 = {self.class_names[0]!r}, 1 = {self.class_names[1]!r} (the positive class)")
        rng = np.random.default_rng(c.seed)
        self.splits = {}
        for split in ("train", "val", "test"):
            texts, labels = data.split(split)
            if c.limit is not None and len(texts) > c.limit:
                chosen = np.sort(rng.choice(len(texts), c.limit, replace=False))
                texts, labels = texts[chosen], labels[chosen]
            if not len(texts):
                raise ValueError(f"{owner}: the {split} split of {c.data} is empty; "
                                 "give more texts or a larger validation_split.")
            self.splits[split] = (texts, np.asarray(labels, dtype="float32"))
        vectorizer = text.build_vectorizer(self.splits["train"][0], max_tokens=c.max_tokens)
        self.vocabulary = vectorizer.get_vocabulary()
        self.lengths = {
            split: text.token_lengths(vectorizer, texts, max_length=c.max_length)
            for split, (texts, _) in self.splits.items()
        }
        self.embeddings = None
        self.encoder = None
        if c.word_vectors and c.pretrained:
            raise ArgumentError("pretrained", f"{owner} received word_vectors={c.word_vectors!r} and "
                                              f"pretrained={c.pretrained!r}. Start the embeddings "
                                              "from one of them.")
        if c.word_vectors:
            self.embeddings, found = text.load_word_vectors(c.word_vectors, self.vocabulary)
            print(f"Word vectors: {found:,} of {len(self.vocabulary):,} tokens found "
                  f"in {c.word_vectors}")
        # Each model's last predictions, for the ROC curves drawn after evaluate.
        self._predictions = weakref.WeakKeyDictionary()

    @property
    def model_name(self):
        return f"{self.config.cell}_{self.config.head}"

    def vectorizer(self):
        """A new `TextVectorization` with the training vocabulary (token ids)."""
        import keras

        from pipelines.preprocessing import standardize_text

        return keras.layers.TextVectorization(
            standardize=standardize_text, vocabulary=self.vocabulary[2:], name="vectorizer",
        )

    def dataset(self, split, *, shuffle=False, seed=None, batch_size=None):
        """`(texts, labels)` batches of `split`, grouped by length; `seed`
        (default: the config's) orders the shuffle; `batch_size` overrides
        the config's."""
        from pipelines.text import text_dataset

        texts, labels = self.splits[split]
        return text_dataset(
            texts, labels, lengths=self.lengths[split], batch_size=batch_size or self.config.batch_size,
            shuffle=shuffle, seed=self.config.seed if seed is None else seed,
        )

    def build_model(self, *, seed=None, **overrides):
        """The configured classifier on raw text, its initial weights drawn
        from `seed` (default: the config's); `overrides` replace builder keywords."""
        import keras

        from kerasseq.models import build_sentiment_model

        c = self.config
        keras.utils.set_random_seed(c.seed if seed is None else seed)
        if c.pretrained and self.encoder is None:
            # Loaded when first needed: evaluating a finished run does not need it.
            self.embeddings, self.encoder = load_pretrained(c, self.vocabulary)
        keywords = dict(
            embedding_dim=c.embedding_dim, cell=c.cell, units=c.units, depth=c.depth,
            bidirectional=c.bidirectional, head=c.head, window=c.window, dropout=c.dropout,
            embeddings=self.embeddings, encoder=self.encoder, vectorizer=self.vectorizer(),
            max_length=c.max_length,
            truncate=c.truncate, learning_rate=c.learning_rate,
        )
        keywords.update(overrides)
        return build_sentiment_model(**keywords)

    def build_baselines(self):
        """The majority-class predictor and logistic regression on TF-IDF
        unigrams and bigrams, adapted on the training texts."""
        import keras

        from kerasseq import models
        from pipelines.text import build_vectorizer

        keras.utils.set_random_seed(self.config.seed)
        baselines = {}
        if "majority" in self.config.baselines:
            baselines["majority"] = models.build_majority_model(float(self.splits["train"][1].mean()))
        if "bag_of_words" in self.config.baselines:
            vectorizer = build_vectorizer(
                self.splits["train"][0], max_tokens=BAG_OF_WORDS_TOKENS, output_mode="tf_idf",
                ngrams=2, name="bag_of_ngrams",
            )
            baselines["bag_of_words"] = models.build_bag_of_words_model(vectorizer)
        return baselines

    def predict(self, model, split):
        """`(labels, probabilities)` of `split`, in the dataset's order."""
        labels, probabilities = [], []
        for texts, batch_labels in self.dataset(split):
            # predict_on_batch runs the traced predict function; calling the
            # model would step its recurrent loops eagerly, far slower.
            probabilities.append(np.asarray(model.predict_on_batch(texts)).reshape(-1))
            labels.append(batch_labels.numpy())
        return np.concatenate(labels).astype("int32"), np.concatenate(probabilities)

    def evaluate(self, model, splits=("val", "test")):
        """Accuracy, precision, recall, F1, ROC AUC and the confusion matrix."""
        from kerasseq.classification import binary_metrics

        results = {}
        for split in splits:
            labels, probabilities = self.predict(model, split)
            self._predictions.setdefault(model, {})[split] = (labels, probabilities)
            results[split] = binary_metrics(labels, probabilities)
        return results

    def serving(self, model, assets):
        """`serving_default`: raw texts (`tf.string [batch]`, vectorized
        inside the model) to the probability of `class_names[1]`; where the
        head weighs tokens, also each text's `tokens` and their `token_weights`
        (attention weights, or per-token scores of a token-scores head;
        an ensemble's mean over its members), padded with "" and 0. The
        vocabulary is `assets/vocabulary.txt`, one token per line from id 2
        (as in Keras' vocabulary files, without padding and `[UNK]`)."""
        import keras
        import tensorflow as tf

        from kerasseq import layers
        from kerasseq.export import Serving
        from kerasseq.export import vocabulary_asset

        spec = tf.TensorSpec([None], tf.string, name="text")
        members = [layer for layer in model.layers if isinstance(layer, keras.Model)] or [model]
        heads = [next((layer for layer in member.layers
                       if isinstance(layer, (layers.TokenScores, layers.AttentionPooling))), None)
                 for member in members]
        if None in heads:
            def serve(text):
                return {"probability": model(text, training=False)[:, 0]}

            return Serving({"serving_default": (serve, [spec])})
        probes = []
        for member, head in zip(members, heads):
            ids = next(layer for kind in (layers.TruncateTokens, keras.layers.TextVectorization)
                       for layer in member.layers if isinstance(layer, kind)).output
            probes.append(keras.Model(member.inputs, [member.outputs[0], ids, head.output[1]]))
        # As Keras writes vocabulary files: without the padding and OOV
        # tokens (ids 0 and 1), so that TextVectorization(vocabulary=path)
        # reads it back; token id k is on line k - 2.
        specials = self.vocabulary[:2]
        asset, _ = vocabulary_asset(self.vocabulary[2:], assets)
        words = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
            asset, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            tf.string, tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")

        def serve(text):
            # An ensemble's output is its members' mean (build_ensemble).
            outputs = [probe(text, training=False) for probe in probes]
            probability = tf.add_n([p for p, _, _ in outputs]) / len(outputs)
            weights = tf.add_n([w for _, _, w in outputs]) / len(outputs)
            token_ids = outputs[0][1]
            tokens = tf.where(token_ids >= 2, words.lookup(tf.cast(token_ids, tf.int64) - 2),
                              tf.gather(tf.constant(specials), tf.minimum(token_ids, 1)))
            return {"probability": probability[:, 0], "tokens": tokens,
                    "token_weights": tf.where(token_ids > 0, weights, 0.0)}

        return Serving({"serving_default": (serve, [spec])}, resources=(words, asset, *probes))

    def summary(self):
        return {
            "class_names": list(self.class_names),
            "vocabulary_size": len(self.vocabulary),
            "num_texts": {split: int(len(texts)) for split, (texts, _) in self.splits.items()},
        }

    def write_plots(self, directory, models, histories):
        """Loss curves, test ROC curves, and explanations of a few test
        reviews (`explain.html`, `explain.json`) where the head has them."""
        from kerasseq import analysis
        from kerasseq.classification import roc_auc
        from kerasseq.classification import roc_curve
        from kerasseq.models.explain import explain
        from kerasseq.models.explain import render_html
        from kerasseq.models.explain import render_terminal

        super().write_plots(directory, models, histories)
        curves = {}
        for name, model in models.items():
            labels, probabilities = self._predictions.get(model, {}).get("test") or self.predict(model, "test")
            curves[name] = (*roc_curve(labels, probabilities), roc_auc(labels, probabilities))
        analysis.plot_roc(curves, directory / "roc.png")
        model = models.get(self.model_name)
        if model is None or self.config.head not in EXPLAINING_HEADS:
            return
        texts = self.example_texts()
        explanations = explain(model, texts, class_names=self.class_names)
        (directory / "explain.html").write_text(render_html(explanations, title=f"{self.model_name}: test reviews"))
        (directory / "explain.json").write_text(json.dumps(explanations, indent=1))
        print(render_terminal(explanations[:2], color=sys.stdout.isatty()))

    def analysis_examples(self, split="test", count=32, *, seed=None):
        """`Task.analysis_examples`: `count` texts drawn from `seed` over
        the whole split (not one length bucket), and their labels
        `(count, 1)`."""
        texts, labels = self.splits[split]
        rng = np.random.default_rng(self.config.seed if seed is None else seed)
        chosen = np.sort(rng.choice(len(texts), min(count, len(texts)), replace=False))
        return (np.asarray([str(texts[i]) for i in chosen], dtype=object),
                np.asarray(labels)[chosen].astype("float32").reshape(-1, 1))

    def analysis_sequence(self, model, text=None, *, split="test", seed=None):
        """`Task.analysis_sequence`: `text` (default: a review of `split`
        of 80 tokens or fewer, drawn from `seed`) and the tokens the model
        reads from it, `[UNK]` for words it does not know."""
        import keras

        from kerasseq.analysis.stepping import analysed
        from kerasseq.models.sentiment import token_ids_layer
        from pipelines.text import check_texts

        if text is None:
            text = self.example_texts(1, split=split, seed=seed)[0]
        texts = check_texts([text], owner="analysis_sequence")
        # The model the gates are read from: an ensemble's first member.
        model, _ = analysed(model, None, owner="analysis_sequence")
        ids_layer = token_ids_layer(model)
        if ids_layer is None:
            raise ArgumentError("text", "analysis_sequence received a model without its vectorizer (it "
                                        "takes token ids). Pass a model from `kerasseq train sentiment`.")
        ids = np.asarray(keras.Model(model.inputs, ids_layer.output)([texts]))[0]
        if not (ids != 0).any():
            raise ArgumentError("text", f"The text {texts[0]!r:.60} has no token the model reads. Pass a "
                                        "text with words in it.")
        vocabulary = self.vocabulary
        return texts, [str(vocabulary[i]) for i in ids if i != 0]

    def analysis_labels(self, targets):
        """The reviews' classes (0 or 1)."""
        return np.asarray(targets).reshape(-1).astype(int)

    def example_texts(self, count=EXPLAINED_REVIEWS, *, split="test", seed=None):
        """A few short texts of `split` (80 tokens or fewer where there are
        enough), drawn from `seed` (default: the config's), for explanations."""
        texts, _ = self.splits[split]
        short = np.flatnonzero(self.lengths[split] <= 80)
        pool = short if len(short) >= count else np.arange(len(texts))
        rng = np.random.default_rng(self.config.seed if seed is None else seed)
        chosen = rng.choice(pool, min(count, len(pool)), replace=False)
        return [str(texts[i]) for i in sorted(chosen)]
