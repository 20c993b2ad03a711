"""N-gram language models: the count-based baselines for word-level LMs.

`NGramLM` counts every n-gram of a token-id stream and smooths the counts
with add-one (Laplace, the course notes' Markov models), add-k, or
interpolated modified Kneser-Ney (Chen & Goodman 1998), the strongest
count-based baseline on Penn Treebank. Pure NumPy: counting and scoring are
sorts and binary searches over int64 keys, so an order-5 model of PTB fits
in seconds and imports no TensorFlow.

Storage: every order m keeps the sorted keys of its seen m-grams. An
m-gram's key is `prefix_id * vocab_size + w`, where `prefix_id` is the
index of its first m - 1 ids among the stored (m-1)-grams, so keys fit
int64 at any order (packing 5 ids of a 10,000-word vocabulary would not).
"""

import numbers

import numpy as np

from kerasseq.validation import ArgumentError
from kerasseq.validation import check_non_negative_int
from kerasseq.validation import check_one_of
from kerasseq.validation import check_positive_int

SMOOTHINGS = ("laplace", "add_k", "kneser_ney")
# KenLM's `--discount_fallback`: used where the closed-form estimate is
# undefined (a count-of-counts n1..n4 is zero) or out of range, as on toy corpora.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


class NGramLM:
    """An n-gram language model over integer token ids.

    p(w | h) conditions on the last `order - 1` ids h of the same stream;
    the first tokens of a stream use the shorter history they have (the
    first token a unigram). With V = `vocab_size` and c(h) = sum_w c(h, w):

    - "laplace": p(w | h) = (c(h, w) + 1) / (c(h) + V);
    - "add_k": p(w | h) = (c(h, w) + k) / (c(h) + k V);
      for both, a history never followed by anything in training gives the
      uniform 1 / V, as the formula does with zero counts;
    - "kneser_ney": interpolated modified Kneser-Ney,
      p(w | h) = max(c(h, w) - D(c(h, w)), 0) / c(h) + g(h) p(w | h'),
      g(h) = (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / c(h), where h' drops the
      oldest id of h, N_j(h) counts the words seen j times (3+: at least 3)
      after h, and p(w | h) = p(w | h') when c(h) = 0. The top order uses
      raw counts; lower orders use continuation counts (the number of
      distinct ids seen before the n-gram, a stream start counting as one);
      the unigram level interpolates with the uniform 1 / V, so every word
      has mass. Discounts per order come from that order's count-of-counts
      n1..n4: Y = n1 / (n1 + 2 n2), D1 = 1 - 2 Y n2 / n1,
      D2 = 2 - 3 Y n3 / n2, D3+ = 3 - 4 Y n4 / n3; where that is undefined
      or out of range, `FALLBACK_DISCOUNTS` (KenLM's). A short history
      uses the lower orders of this chain, as a backoff model queried with
      a short context does.

    Args:
        order: n, the number of ids in the longest n-gram (1 = unigram).
        smoothing: "laplace", "add_k" or "kneser_ney".
        k: the pseudo-count of "add_k".
        discounts: fixed (D1, D2, D3+) for every order, or an array of
            shape (order, 3) with one row per order from unigrams up,
            instead of the estimates ("kneser_ney" only).

    Attributes:
        order, smoothing, k: as given (k is 1 for "laplace").
        vocab_size: V, set by `fit`.
        discounts: float64 array (order, 3), row m - 1 for order m, once
            fitted ("kneser_ney"); None for the other smoothings.

    Example:
    >>> lm = NGramLM(order=2, smoothing="laplace").fit([0, 1, 0, 1, 2])
    >>> lm.distribution([0])  # (c(0, w) + 1) / (2 + 3): "0 1" was seen twice
    array([0.2, 0.6, 0.2])
    >>> kn = NGramLM(order=3).fit([0, 1, 0, 1, 2, 0, 1, 2], vocab_size=4)
    >>> float(kn.distribution([0, 1]).sum())
    1.0
    >>> kn.discounts[0]  # too few counts to estimate: the fallback
    array([0.5, 1. , 1.5])
    """

    def __init__(self, order, smoothing="kneser_ney", *, k=1.0, discounts=None):
        self.order = check_positive_int("order", order, owner="NGramLM", example="NGramLM(order=3)")
        self.smoothing = check_one_of("smoothing", smoothing, SMOOTHINGS, owner="NGramLM")
        if not _is_positive_number(k):
            raise ArgumentError(
                "k",
                f"NGramLM received k={k!r}. `k` (the pseudo-count added to every n-gram) "
                f"must be a positive number, e.g. NGramLM(order=3, smoothing='add_k', k=0.1).",
            )
        if k != 1.0 and smoothing != "add_k":
            raise ArgumentError(
                "k",
                f"NGramLM received k={k!r} with smoothing={smoothing!r}. `k` applies to "
                f"smoothing='add_k' only (laplace adds exactly 1): use "
                f"NGramLM(order={order}, smoothing='add_k', k={k!r}).",
            )
        self.k = float(k)
        self._fixed_discounts = None if discounts is None else self._check_discounts(discounts)
        self.discounts = self._fixed_discounts
        self.vocab_size = None
        self._keys = None

    def fit(self, tokens, vocab_size=None):
        """Counts the n-grams of `tokens`, replacing any earlier fit.

        Args:
            tokens: a 1-D array-like of token ids (one stream, e.g. PTB with
                an <eos> id per sentence), or a list of 1-D arrays (separate
                documents: no n-gram crosses two).
            vocab_size: V, the number of ids (default: the largest id + 1).

        Returns:
            self, so that `NGramLM(3).fit(train).perplexity(test)` reads.

        Example:
        >>> NGramLM(order=2).fit([[0, 1, 2], [2, 1]]).count_params()  # 3 unigrams; 0 1, 1 2, 2 1
        6
        """
        if vocab_size is not None:
            vocab_size = check_positive_int(
                "vocab_size", vocab_size, owner="NGramLM.fit", example="lm.fit(tokens, vocab_size=10000)"
            )
        tokens, positions = _streams(tokens, "tokens", "NGramLM.fit")
        largest = int(tokens.max())
        if vocab_size is not None and largest >= vocab_size:
            raise ArgumentError(
                "vocab_size",
                f"NGramLM.fit received token id {largest} with vocab_size={vocab_size}. Ids "
                f"must be below vocab_size: pass vocab_size={largest + 1} or more, or leave it "
                f"out to use the largest id + 1.",
            )
        self.vocab_size = largest + 1 if vocab_size is None else vocab_size
        self._keys, grams = [], []
        for length in range(1, self.order + 1):
            # A gram ending at i is inside its stream iff i is at least
            # length - 1 ids past the stream's start.
            inside = positions >= length - 1
            key = tokens if length == 1 else _shifted(grams[-1]) * self.vocab_size + tokens
            keys, inverse = np.unique(key[inside], return_inverse=True)
            gram = np.full(len(tokens), -1, dtype=np.int64)
            gram[inside] = inverse
            self._keys.append(keys)
            grams.append(gram)
        self._counts = []
        for length in range(1, self.order + 1):
            gram, keys = grams[length - 1], self._keys[length - 1]
            if self.smoothing == "kneser_ney" and length < self.order:
                counts = _continuation_counts(gram, grams[length], positions, length, len(keys))
            else:
                counts = np.bincount(gram[gram >= 0], minlength=len(keys))
            self._counts.append(counts)
        if self.smoothing == "kneser_ney":
            if self._fixed_discounts is None:
                self.discounts = np.array([_estimate_discounts(c) for c in self._counts])
            else:
                self.discounts = self._fixed_discounts
        self._build_tables()
        return self

    def log_prob(self, tokens):
        """Natural log p(t_i | up to order - 1 previous ids of t_i's stream).

        Args:
            tokens: a 1-D array-like of ids, or a list of 1-D arrays
                (documents), as in `fit`.

        Returns:
            A float64 array with one value per token; for several documents,
            their values one after another.

        Example:
        >>> lm = NGramLM(order=1, smoothing="laplace").fit([0, 0, 1])
        >>> np.exp(lm.log_prob([0, 1]))  # (c(w) + 1) / (3 + 2)
        array([0.6, 0.4])
        """
        self._check_fitted("log_prob")
        tokens, positions = _streams(tokens, "tokens", "NGramLM.log_prob", self.vocab_size)
        grams = self._gram_ids(tokens)
        uniform = np.full(len(tokens), 1.0 / self.vocab_size)
        probs = self._order_probs(1, np.zeros_like(tokens), tokens, uniform)
        for length in range(2, self.order + 1):
            # Tokens this close to their stream's start keep the lower order.
            reached = positions >= length - 1
            history = _shifted(grams[length - 2])[reached]
            probs[reached] = self._order_probs(length, history, tokens[reached], probs[reached])
        return np.log(probs)

    def distribution(self, history):
        """p(w | history) for every id w.

        Args:
            history: a 1-D array-like of ids, possibly empty; only the last
                order - 1 matter, and a shorter one gives the distribution
                of a stream's first tokens.

        Returns:
            A float64 array of shape (vocab_size,) that sums to 1.

        Example:
        >>> lm = NGramLM(order=2, smoothing="laplace").fit([0, 1, 0, 1, 2])
        >>> lm.distribution([])  # the unigram: (c(w) + 1) / (5 + 3)
        array([0.375, 0.375, 0.25 ])
        """
        self._check_fitted("distribution")
        history = _ids(history, "history", "NGramLM.distribution", self.vocab_size)
        history = history[max(0, len(history) - (self.order - 1)):]
        grams = self._gram_ids(history)
        words = np.arange(self.vocab_size)
        uniform = np.full(self.vocab_size, 1.0 / self.vocab_size)
        probs = self._order_probs(1, np.zeros_like(words), words, uniform)
        for length in range(2, len(history) + 2):
            context = np.full(self.vocab_size, grams[length - 2][-1])
            probs = self._order_probs(length, context, words, probs)
        return probs

    def perplexity(self, tokens):
        """exp(-mean log p) over all `tokens`, as `log_prob` scores them.

        Args:
            tokens: as in `log_prob`.

        Returns:
            The perplexity, a float.

        Example:
        >>> lm = NGramLM(order=1, smoothing="laplace").fit([0, 1])
        >>> lm.perplexity([1, 0, 1])  # every p is 1/2
        2.0
        """
        self._check_fitted("perplexity")
        return float(np.exp(-np.mean(self.log_prob(tokens))))

    def generate(self, length, *, prompt=(), temperature=1.0, seed=None):
        """Samples `length` new ids, each given the ones before it.

        Args:
            length: the number of ids to sample.
            prompt: ids that condition the first samples (not returned).
            temperature: divides the log probabilities before sampling:
                below 1 sharpens the distribution, above 1 flattens it.
            seed: seed of the NumPy generator, for reproducible samples.

        Returns:
            An int64 array of `length` ids.

        Example:
        >>> lm = NGramLM(order=2).fit([0, 1, 2, 0, 1, 2])
        >>> lm.generate(4, prompt=[0], seed=0).shape
        (4,)
        """
        self._check_fitted("generate")
        length = check_non_negative_int(
            "length", length, owner="NGramLM.generate", example="lm.generate(20)"
        )
        if not _is_positive_number(temperature):
            raise ArgumentError(
                "temperature",
                f"NGramLM.generate received temperature={temperature!r}. `temperature` must be "
                f"a positive number, e.g. lm.generate(20, temperature=0.7).",
            )
        ids = list(_ids(prompt, "prompt", "NGramLM.generate", self.vocab_size))
        rng = np.random.default_rng(seed)
        for _ in range(length):
            logits = np.log(self.distribution(ids)) / temperature
            probs = np.exp(logits - logits.max())
            ids.append(int(rng.choice(self.vocab_size, p=probs / probs.sum())))
        return np.array(ids[len(ids) - length:], dtype=np.int64)

    def count_params(self):
        """The number of stored n-gram entries, all orders together.

        Returns:
            An int, like Keras' `count_params`, to print a model's size.

        Example:
        >>> NGramLM(order=2).fit([0, 1, 0, 1]).count_params()  # 2 unigrams + "0 1", "1 0"
        4
        """
        self._check_fitted("count_params")
        return int(sum(len(keys) for keys in self._keys))

    def save(self, path):
        """Writes the counts and settings to one `.npz` file (no pickle).

        Args:
            path: a file name ending in ".npz".

        Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "lm.npz")
        >>> NGramLM(order=2).fit([0, 1, 0]).save(path)
        >>> NGramLM.load(path).count_params()
        4
        """
        self._check_fitted("save")
        if not str(path).endswith(".npz"):
            raise ArgumentError(
                "path",
                f"NGramLM.save received path={str(path)!r}. The file name must end in "
                f"'.npz' (np.savez would add it, and load would not find the file), "
                f"e.g. lm.save('ptb_kn5.npz').",
            )
        arrays = {f"keys_{m + 1}": keys for m, keys in enumerate(self._keys)}
        arrays.update({f"counts_{m + 1}": counts for m, counts in enumerate(self._counts)})
        no_discounts = np.zeros((0, 3))
        np.savez(
            path,
            order=self.order,
            smoothing=self.smoothing,
            k=self.k,
            vocab_size=self.vocab_size,
            discounts=no_discounts if self.discounts is None else self.discounts,
            fixed_discounts=no_discounts if self._fixed_discounts is None else self._fixed_discounts,
            **arrays,
        )

    @classmethod
    def load(cls, path):
        """Reads a model written by `save`.

        Args:
            path: the `.npz` file.

        Returns:
            A fitted `NGramLM`.

        Example:
        >>> lm = NGramLM.load("ptb_kn5.npz")  # doctest: +SKIP
        """
        with np.load(path, allow_pickle=False) as data:
            if "keys_1" not in data.files:
                raise ValueError(
                    f"NGramLM.load received {str(path)!r}, which holds no n-gram counts (no "
                    f"'keys_1' array). Load a file written by NGramLM.save."
                )
            fixed = data["fixed_discounts"]
            lm = cls(
                int(data["order"]),
                str(data["smoothing"]),
                k=float(data["k"]),
                discounts=fixed if len(fixed) else None,
            )
            lm.vocab_size = int(data["vocab_size"])
            lm._keys = [data[f"keys_{m}"] for m in range(1, lm.order + 1)]
            lm._counts = [data[f"counts_{m}"] for m in range(1, lm.order + 1)]
            if lm.smoothing == "kneser_ney":
                lm.discounts = data["discounts"]
        lm._build_tables()
        return lm

    def _check_discounts(self, discounts):
        if self.smoothing != "kneser_ney":
            raise ArgumentError(
                "discounts",
                f"NGramLM received discounts with smoothing={self.smoothing!r}. `discounts` "
                f"apply to smoothing='kneser_ney' only: drop them, or use "
                f"NGramLM(order={self.order}, smoothing='kneser_ney', discounts=(0.5, 1.0, 1.5)).",
            )
        try:
            table = np.array(discounts, dtype=np.float64)
        except (TypeError, ValueError):
            table = np.array([])
        if table.shape == (3,):
            table = np.tile(table, (self.order, 1))
        if table.shape != (self.order, 3):
            raise ArgumentError(
                "discounts",
                f"NGramLM received discounts={discounts!r}. `discounts` must be 3 numbers "
                f"(D1, D2, D3+) for every order, or an array of shape ({self.order}, 3) with "
                f"one row per order from unigrams up, e.g. discounts=(0.5, 1.0, 1.5).",
            )
        if not np.all((table > 0) & (table <= [1.0, 2.0, 3.0])):
            raise ArgumentError(
                "discounts",
                f"NGramLM received discounts={discounts!r}. D1, D2 and D3+ must lie in (0, 1], "
                f"(0, 2] and (0, 3], so that no discounted count is negative and lower orders "
                f"keep some mass, e.g. discounts=(0.5, 1.0, 1.5).",
            )
        return table

    def _check_fitted(self, method):
        if self._keys is None:
            raise ValueError(
                f"NGramLM.{method} was called before fit. Fit the model on training ids "
                f"first, e.g. lm = NGramLM(order=3).fit(train_ids)."
            )

    def _build_tables(self):
        # Per order: counts and history tables with a trailing 0, so that
        # index -1 (an unseen n-gram or history) reads a zero count.
        self._padded_counts, self._totals, self._backoff = [], [], []
        for m, (keys, counts) in enumerate(zip(self._keys, self._counts)):
            histories = keys // self.vocab_size
            num_histories = 1 if m == 0 else len(self._keys[m - 1])
            totals = np.bincount(histories, weights=counts, minlength=num_histories)
            self._padded_counts.append(np.append(counts, 0))
            self._totals.append(np.append(totals, 0.0))
            if self.smoothing == "kneser_ney":
                # Mass freed by discounting, given to the lower order: g(h) c(h).
                discounts = self._discount(m + 1, counts)
                freed = np.bincount(histories, weights=discounts, minlength=num_histories)
                backoff = np.divide(freed, totals, out=np.zeros_like(freed), where=totals > 0)
                self._backoff.append(np.append(backoff, 0.0))

    def _discount(self, order, counts):
        return np.array([0.0, *self.discounts[order - 1]])[np.minimum(counts, 3)]

    def _gram_ids(self, tokens):
        """grams[L - 1][i]: index of the L-gram ending at i among the stored
        L-grams, for L < order; -1 if unseen. Where that gram would cross a
        stream start the value is meaningless: callers read only grams that
        lie inside their stream."""
        grams = []
        for length in range(1, self.order):
            if length == 1:
                key = tokens
            else:
                prefix = _shifted(grams[-1])
                key = np.where(prefix >= 0, prefix * self.vocab_size + tokens, -1)
            grams.append(_lookup(self._keys[length - 1], key))
        return grams

    def _order_probs(self, order, histories, words, lower):
        """p(words | histories) at one order: `histories` index the stored
        (order-1)-grams (-1: unseen), `lower` is p at order - 1."""
        keys = np.where(histories >= 0, histories * self.vocab_size + words, -1)
        counts = self._padded_counts[order - 1][_lookup(self._keys[order - 1], keys)]
        totals = self._totals[order - 1][histories]
        if self.smoothing != "kneser_ney":
            return (counts + self.k) / (totals + self.k * self.vocab_size)
        kept = np.maximum(counts - self._discount(order, counts), 0.0)
        seen = totals > 0
        return np.where(
            seen,
            kept / np.where(seen, totals, 1.0) + self._backoff[order - 1][histories] * lower,
            lower,
        )


def _is_positive_number(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and 0 < value < np.inf


def _shifted(grams):
    # The gram ending one position earlier; -1 before the first position.
    shifted = np.full(len(grams), -1, dtype=np.int64)
    shifted[1:] = grams[:-1]
    return shifted


def _lookup(keys, queries):
    """Index of each query in the sorted `keys`, -1 where absent."""
    if len(keys) == 0:
        return np.full(len(queries), -1, dtype=np.int64)
    index = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    return np.where(keys[index] == queries, index, -1)


def _continuation_counts(gram, longer, positions, length, num_grams):
    """For each stored m-gram, the number of distinct ids seen before it,
    a stream start counting as one more (it is an m-gram's only left
    context there, as <s> is in toolkits that mark sentences)."""
    extended = longer >= 0
    # One occurrence per distinct (m+1)-gram, i.e. per (left id, m-gram) pair.
    _, first = np.unique(longer[extended], return_index=True)
    counts = np.bincount(gram[extended][first], minlength=num_grams)
    counts[np.unique(gram[positions == length - 1])] += 1
    return counts


def _estimate_discounts(counts):
    """Chen & Goodman's (D1, D2, D3+) from the count-of-counts n1..n4."""
    n1, n2, n3, n4 = (np.count_nonzero(counts == j) for j in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return FALLBACK_DISCOUNTS
    y = n1 / (n1 + 2 * n2)
    estimate = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if all(0 < d <= j for d, j in zip(estimate, (1, 2, 3))):
        return estimate
    return FALLBACK_DISCOUNTS


def _streams(tokens, name, owner, vocab_size=None):
    """Concatenates one stream or a list of documents; returns the ids and
    each id's position in its own stream."""
    # The first element decides, so that a long list of ints is not scanned.
    documents = isinstance(tokens, (list, tuple)) and len(tokens) > 0 and np.ndim(tokens[0]) > 0
    streams = list(tokens) if documents else [tokens]
    arrays = [_ids(stream, name, owner, vocab_size) for stream in streams]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    if lengths.sum() == 0:
        raise ArgumentError(
            name,
            f"{owner} received empty {name}. Pass at least one token id, e.g. np.array([4, 0, 7]).",
        )
    ids = np.concatenate(arrays)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return ids, np.arange(len(ids)) - starts


def _ids(values, name, owner, vocab_size=None):
    """`values` as a 1-D int64 array of ids in [0, vocab_size)."""
    try:
        shape = np.shape(values)
    except ValueError:
        shape = "ragged"
    if len(shape) != 1:
        documents = (
            ", or a list of them, one per document, e.g. [np.array([4, 0, 7]), np.array([2, 5])]"
            if name == "tokens" else ""
        )
        raise ArgumentError(
            name,
            f"{owner} received {name} with shape {shape}. Pass a 1-D sequence of token ids, "
            f"e.g. np.array([4, 0, 7]){documents}.",
        )
    if shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        raise ArgumentError(
            name,
            f"{owner} received {name} of dtype {array.dtype}. `{name}` must hold integer "
            f"token ids, e.g. np.array([4, 0, 7]): map words to ids first (whole-number "
            f"floats: .astype('int64')).",
        )
    array = array.astype(np.int64)
    smallest, largest = int(array.min()), int(array.max())
    if smallest < 0:
        raise ArgumentError(
            name,
            f"{owner} received token id {smallest} (first at position "
            f"{int(np.argmax(array < 0))} of its stream). Token ids must be non-negative "
            f"integers, as a vocabulary lookup gives.",
        )
    if vocab_size is not None and largest >= vocab_size:
        raise ArgumentError(
            name,
            f"{owner} received token id {largest} (first at position "
            f"{int(np.argmax(array >= vocab_size))} of its stream), but the model was fitted "
            f"with vocab_size={vocab_size}. Map out-of-vocabulary words to an <unk> id, or "
            f"fit with vocab_size={largest + 1} or more.",
        )
    return array
