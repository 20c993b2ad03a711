"""Labeled texts for classification: IMDB, vectorization, length-bucketed batches.

`load_imdb` reads the Large Movie Review Dataset (archive or folder) into a
`TextClassificationData`; `build_vectorizer` adapts a
`keras.layers.TextVectorization` on training texts only (markup stripped by
`standardize_text`); `TruncateTokens` cuts long reviews to their start or
end; `text_dataset` batches raw texts with length bucketing, so the padded
length follows each batch. Models take raw strings: the vectorizer sits
inside them, which is what a saved model and serving need.

A user's own CSV/TSV/JSONL or folder-per-class files: `load_text_classification`;
word vectors for an `Embedding`: `load_word_vectors` (both in
`pipelines.text_files`, exported here).
"""

import dataclasses
import functools
import re
import tarfile
from pathlib import Path

import keras
import numpy as np

from pipelines.data import fetch
from pipelines.data import find
from pipelines.preprocessing import TruncateTokens  # noqa: F401 (exported)
from pipelines.preprocessing import standardize_text
from pipelines.validation import ArgumentError
from pipelines.validation import check_positive_int

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_ARCHIVES = ("aclImdb_v1.tar.gz", "aclImdb_v1.tar.xz")
IMDB_CLASSES = ("neg", "pos")
# Folder names in aclImdb/<split>/: label folders, then the unlabeled reviews.
_IMDB_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(neg|pos|unsup)/(\d+)_(\d+)\.txt$")


@dataclasses.dataclass(frozen=True)
class TextClassificationData:
    """Texts and integer labels of each split, and what the labels mean.

    Attributes:
        train, validation, test: `(texts, labels)`: a NumPy array of `str`
            and one of int32 class indices (`test` may be None).
        class_names: the name of each class index (`("neg", "pos")`: 0 is
            negative), saved with a run.
        unlabeled: texts without labels (IMDB's `unsup`), or None.
        source: where the data came from, for messages.
    """

    train: tuple
    validation: tuple
    test: tuple
    class_names: tuple
    unlabeled: np.ndarray = None
    source: str = ""

    def split(self, name):
        """`(texts, labels)` of "train", "val" (or "validation") or "test"."""
        name = "validation" if name == "val" else name
        split = getattr(self, name)
        if split is None:
            raise ValueError(f"{self.source} has no {name} split.")
        return split


def load_imdb(path=None, *, validation_split=0.2, seed=0, unlabeled=False):
    """Loads the Large Movie Review Dataset (Maas et al., 2011): 25k train and
    25k test reviews, 0 (negative) or 1 (positive).

    The validation split is carved from the training reviews (stratified,
    drawn from `seed`); the test reviews are for the final figure only.

    Args:
        path: the archive (`aclImdb_v1.tar.gz` or `.tar.xz`) or an extracted
            folder (`aclImdb/` or the folder holding it). Default: the one
            in the data directory, else downloaded from Stanford (MD5
            checked) into it.
        validation_split: fraction of the training reviews held out.
        seed: seed of the validation draw.
        unlabeled: also return the 50k unlabeled `unsup` reviews.

    Returns:
        A `TextClassificationData` with class names `("neg", "pos")`.

    Example:
    >>> data = load_imdb()  # doctest: +SKIP
    >>> texts, labels = data.train  # doctest: +SKIP
    >>> len(texts), len(data.test[0])  # doctest: +SKIP
    (20000, 25000)
    """
    source = _imdb_source(path)
    reviews = _read_imdb(str(source))
    if unlabeled and not len(reviews["unsup"][0]):
        raise FileNotFoundError(
            f"{source} has no unlabeled reviews (aclImdb/train/unsup/): this copy left "
            "them out. Use the original archive from "
            f"{IMDB_URL}, or unlabeled=False."
        )
    train, validation = split_validation(*reviews["train"], validation_split, seed=seed,
                                         owner="load_imdb")
    return TextClassificationData(
        train=train, validation=validation, test=reviews["test"], class_names=IMDB_CLASSES,
        unlabeled=reviews["unsup"][0] if unlabeled else None, source=str(source),
    )


def _imdb_source(path):
    if path is not None:
        path = Path(path)
        if path.is_dir():
            return path / "aclImdb" if (path / "aclImdb").is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(
                f"load_imdb received path={str(path)!r}, which is neither an aclImdb folder "
                "nor an archive. Pass aclImdb_v1.tar.gz (or .tar.xz) or its extracted folder."
            )
        return fetch(path.name, url=IMDB_URL, path=path)
    for name in IMDB_ARCHIVES:
        local = find(name)
        if local is not None:
            return fetch(name, url=IMDB_URL, path=local)
    folder = find("aclImdb/README")
    if folder is not None:
        return folder.parent
    return fetch(IMDB_ARCHIVES[0], url=IMDB_URL)


@functools.lru_cache(maxsize=2)
def _read_imdb(source):
    """`{split: (texts, labels)}` for train, test and unsup (labels -1),
    in (label, id) order; read once per process (tests load it often)."""
    found = {"train": [], "test": [], "unsup": []}

    def add(name, read):
        match = _IMDB_MEMBER.search("aclImdb/" + name.split("aclImdb/", 1)[-1])
        if match:
            split, label, index, _ = match.groups()
            split = "unsup" if label == "unsup" else split
            label = -1 if label == "unsup" else IMDB_CLASSES.index(label)
            found[split].append((label, int(index), read().decode("utf-8")))

    root = Path(source)
    if root.is_dir():
        # Named from the folder itself, which may have been renamed from aclImdb.
        for file in root.glob("*/*/*.txt"):
            add("aclImdb/" + file.relative_to(root).as_posix(), file.read_bytes)
    else:
        try:
            with tarfile.open(root) as archive:
                for member in archive:
                    if member.isfile():
                        add(member.name, archive.extractfile(member).read)
        except (tarfile.TarError, EOFError, OSError) as error:
            raise ValueError(
                f"{root} is not a readable aclImdb archive ({error}): it is truncated or "
                "another file. Delete it and fetch it again."
            ) from None
    if not found["train"] or not found["test"]:
        raise ValueError(
            f"{source} holds no aclImdb/train/ and aclImdb/test/ reviews: pass the archive "
            "from " + IMDB_URL + " or its extracted aclImdb folder."
        )
    result = {}
    for split, rows in found.items():
        rows.sort(key=lambda row: (row[0], row[1]))
        result[split] = (np.array([r[2] for r in rows], dtype=object),
                         np.array([r[0] for r in rows], dtype="int32"))
    return result


def split_validation(texts, labels, fraction, *, seed=0, owner="split_validation"):
    """Holds out `fraction` of each class (stratified), drawn from `seed`.

    Args:
        texts: array of texts.
        labels: array of class indices.
        fraction: the share held out, in [0, 1).
        seed: seed of the draw.
        owner: the caller, named in errors.

    Returns:
        `((train_texts, train_labels), (val_texts, val_labels))`, each in
        the original order.

    Example:
    >>> (t, _), (v, _) = split_validation(np.array(list("abcdefgh")), np.array([0, 1] * 4), 0.5)
    >>> len(t), len(v)
    (4, 4)
    """
    if isinstance(fraction, bool) or not 0 <= fraction < 1:
        raise ArgumentError(
            "validation_split",
            f"{owner} received validation_split={fraction!r}. Expected a fraction in "
            "[0, 1), e.g. validation_split=0.2.",
        )
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        held[rng.permutation(members)[: int(round(fraction * len(members)))]] = True
    return (texts[~held], labels[~held]), (texts[held], labels[held])


def build_vectorizer(texts, *, max_tokens=20000, output_mode="int", ngrams=None, name="vectorizer"):
    """A `keras.layers.TextVectorization` adapted on `texts` (train only).

    Args:
        texts: the training texts.
        max_tokens: vocabulary size, padding and `[UNK]` included.
        output_mode: "int" (token ids, 0 = padding, 1 = unknown), or
            "multi_hot" / "count" / "tf_idf" for bag-of-words models.
        ngrams: None, or n (or a tuple) for n-gram tokens.
        name: the layer's name.

    Returns:
        The adapted layer; "int" mode pads each batch to its longest text.

    Example:
    >>> v = build_vectorizer(["a good film", "a bad film"], max_tokens=10)  # doctest: +SKIP
    >>> v.get_vocabulary()[:3]  # doctest: +SKIP
    ['', '[UNK]', 'film']
    """
    check_positive_int("max_tokens", max_tokens, owner="build_vectorizer",
                       example="build_vectorizer(texts, max_tokens=20000)")
    texts = check_texts(texts, owner="build_vectorizer")
    if not len(texts):
        raise ValueError("build_vectorizer received no texts: adapt on the training texts.")
    layer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize_text, output_mode=output_mode,
        ngrams=ngrams, name=name,
    )
    layer.adapt(keras.ops.convert_to_tensor(texts.astype(str)), batch_size=1024)
    return layer


def check_texts(texts, *, owner):
    """Returns `texts` as a NumPy object array of `str`, or raises a
    `TypeError` naming the first value that is not a string."""
    texts = np.asarray(texts, dtype=object).reshape(-1)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"{owner} received a {type(text).__name__} at position {i} ({text!r:.40}): "
                "expected strings. Convert the texts first, e.g. [str(t) for t in texts], "
                "or drop the missing ones."
            )
    return texts


def token_lengths(vectorizer, texts, *, max_length=None, batch_size=1024):
    """Number of tokens of each text under `vectorizer` (capped at `max_length`).

    Counted on ragged ids, so one very long text costs its own length, not
    that length times the batch.

    Example:
    >>> token_lengths(vectorizer, ["a good film", ""])  # doctest: +SKIP
    array([3, 0])
    """
    config = vectorizer.get_config()
    ragged = keras.layers.TextVectorization(
        standardize=config["standardize"], split=config["split"], ragged=True,
        vocabulary=vectorizer.get_vocabulary(),
    )
    texts = check_texts(texts, owner="token_lengths")
    lengths = [
        ragged(keras.ops.convert_to_tensor(texts[start:start + batch_size].astype(str))).row_lengths().numpy()
        for start in range(0, len(texts), batch_size)
    ]
    lengths = np.concatenate(lengths) if lengths else np.zeros(0, "int64")
    return lengths if max_length is None else np.minimum(lengths, max_length)


def text_dataset(texts, labels=None, *, lengths, batch_size=32, shuffle=False, seed=None,
                 num_buckets=8):
    """A `tf.data.Dataset` of raw-text batches, grouped by length.

    With `shuffle`, examples are shuffled and then batched within length
    buckets (`tf.data.Dataset.bucket_by_sequence_length`, boundaries at
    length quantiles), so a batch's padded length is close to its texts'.
    Without, texts are sorted by length and batched in that order, which
    is deterministic and pads least (metrics do not depend on order).

    Args:
        texts: array of strings.
        labels: array of labels, or None for texts only.
        lengths: each text's token count (see `token_lengths`).
        batch_size: texts per batch.
        shuffle: shuffle (each call with its own `seed`).
        seed: seed of the shuffle.
        num_buckets: length buckets when shuffling.

    Returns:
        A dataset of `(texts, labels)` batches (`texts` alone without labels).

    Example:
    >>> ds = text_dataset(texts, labels, lengths=token_lengths(v, texts))  # doctest: +SKIP
    """
    import tensorflow as tf

    check_positive_int("batch_size", batch_size, owner="text_dataset",
                       example="text_dataset(..., batch_size=32)")
    texts = check_texts(texts, owner="text_dataset").astype(str)
    lengths = np.asarray(lengths, dtype="int64")
    if len(lengths) != len(texts) or (labels is not None and len(labels) != len(texts)):
        raise ValueError(
            f"text_dataset received {len(texts)} texts, {len(lengths)} lengths and "
            f"{'no' if labels is None else len(labels)} labels: one of each per text."
        )
    if not len(texts):
        raise ValueError("text_dataset received no texts: the split is empty.")
    columns = (texts,) if labels is None else (texts, np.asarray(labels))
    if not shuffle:
        order = np.argsort(lengths, kind="stable")
        ds = tf.data.Dataset.from_tensor_slices(tuple(c[order] for c in columns))
        ds = ds.batch(batch_size)
    else:
        ds = tf.data.Dataset.from_tensor_slices((lengths, *columns))
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=False)
        boundaries = np.unique(np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1]).astype(int) + 1)
        ds = ds.bucket_by_sequence_length(
            lambda length, *rest: tf.cast(length, "int32"),
            bucket_boundaries=[int(b) for b in boundaries],
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
        ds = ds.map(lambda length, *rest: rest if len(rest) > 1 else rest[0])
    return ds.prefetch(tf.data.AUTOTUNE)


def __getattr__(name):
    # The file readers live in their own module; exported here by name.
    if name in ("load_text_classification", "load_word_vectors"):
        from pipelines import text_files

        return getattr(text_files, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
