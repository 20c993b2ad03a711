"""Tests for `NGramLM`, the n-gram language-model baselines."""

import gzip
import re
from collections import Counter
from collections import defaultdict

import numpy as np
import pytest

from kerasseq.models.ngram import FALLBACK_DISCOUNTS
from kerasseq.models.ngram import SMOOTHINGS
from kerasseq.models.ngram import NGramLM

# Ids 0 1 0 1 2 with V = 4: id 3 is never seen. Counts used below:
#   unigrams   c(0) = 2, c(1) = 2, c(2) = 1, c(3) = 0, N = 5
#   bigrams    c(0 1) = 2, c(1 0) = 1, c(1 2) = 1
#   histories  c(0 .) = 2, c(1 .) = 2, c(2 .) = 0 (2 ends the stream)
TOY = [0, 1, 0, 1, 2]
FIXED = (0.5, 1.0, 1.5)


def _markov_chain(length, vocab_size, seed):
    # Each id prefers a few successors, so context helps and held-out text
    # has n-grams that training lacks.
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.full(vocab_size, 0.1), size=vocab_size)
    ids = [0]
    for _ in range(length - 1):
        ids.append(rng.choice(vocab_size, p=transitions[ids[-1]]))
    return np.array(ids)


def _lm(order, smoothing, **kwargs):
    return NGramLM(order, smoothing, k=0.3 if smoothing == "add_k" else 1.0, **kwargs)


def test_laplace_bigram_by_hand():
    lm = NGramLM(order=2, smoothing="laplace").fit(TOY, vocab_size=4)
    # p(w | 0) = (c(0 w) + 1) / (2 + 4): 1/6, 3/6, 1/6, 1/6.
    np.testing.assert_allclose(lm.distribution([0]), [1 / 6, 1 / 2, 1 / 6, 1 / 6])
    # p(w | 1) = (c(1 w) + 1) / (2 + 4): 2/6, 1/6, 2/6, 1/6.
    np.testing.assert_allclose(lm.distribution([1]), [1 / 3, 1 / 6, 1 / 3, 1 / 6])
    # 2 only ends the stream and 3 never occurs: c(h) = 0, uniform.
    np.testing.assert_allclose(lm.distribution([2]), [0.25] * 4)
    np.testing.assert_allclose(lm.distribution([3]), [0.25] * 4)
    # The first token is a unigram: (c(w) + 1) / (5 + 4) = 3/9, 3/9, 2/9, 1/9.
    np.testing.assert_allclose(lm.distribution([]), [3 / 9, 3 / 9, 2 / 9, 1 / 9])
    np.testing.assert_allclose(np.exp(lm.log_prob([0, 1, 2])), [3 / 9, 1 / 2, 1 / 3])
    assert lm.discounts is None and lm.k == 1.0


def test_add_k_by_hand():
    lm = NGramLM(order=2, smoothing="add_k", k=0.5).fit(TOY, vocab_size=4)
    # p(w | 0) = (c(0 w) + 0.5) / (2 + 0.5 * 4): 0.5/4, 2.5/4, 0.5/4, 0.5/4.
    np.testing.assert_allclose(lm.distribution([0]), [0.125, 0.625, 0.125, 0.125])
    # Unigram: (c(w) + 0.5) / (5 + 2) = 2.5/7, 2.5/7, 1.5/7, 0.5/7.
    np.testing.assert_allclose(lm.distribution([]), np.array([2.5, 2.5, 1.5, 0.5]) / 7)


# Kneser-Ney on TOY with D1, D2, D3+ = 0.5, 1, 1.5 at every order.
# Unigram continuation counts (distinct ids before w, a stream start
# counting as one): 0 after {start, 1} = 2, 1 after {0} = 1 (raw count 2),
# 2 after {1} = 1, 3: 0; total 4. Freed mass D2 + 2 D1 = 2, g = 2/4, so
#   p1 = ((2 - 1) / 4, 0.5 / 4, 0.5 / 4, 0) + 0.5 / 4 = (0.375, 0.25, 0.25, 0.125).
P1 = [0.375, 0.25, 0.25, 0.125]
# Bigram, h = 0: c(0 1) = 2 keeps (2 - D2) / 2 = 0.5, g = D2 / 2 = 0.5:
#   p(. | 0) = 0.5 p1 + (0, 0.5, 0, 0) = (0.1875, 0.625, 0.125, 0.0625).
P2_AFTER_0 = [0.1875, 0.625, 0.125, 0.0625]
# Bigram, h = 1: c(1 0) = c(1 2) = 1 keep 0.5 / 2 each, g = 2 D1 / 2 = 0.5:
#   p(. | 1) = 0.5 p1 + (0.25, 0, 0.25, 0) = (0.4375, 0.125, 0.375, 0.0625).
P2_AFTER_1 = [0.4375, 0.125, 0.375, 0.0625]


def test_kneser_ney_bigram_by_hand():
    lm = NGramLM(order=2, discounts=FIXED).fit(TOY, vocab_size=4)
    np.testing.assert_allclose(lm.distribution([]), P1)
    np.testing.assert_allclose(lm.distribution([0]), P2_AFTER_0)
    np.testing.assert_allclose(lm.distribution([1]), P2_AFTER_1)
    # c(2 .) = 0 and 3 is unseen: the unigram level alone.
    np.testing.assert_allclose(lm.distribution([2]), P1)
    np.testing.assert_allclose(lm.distribution([3]), P1)
    np.testing.assert_array_equal(lm.discounts, [FIXED, FIXED])


def test_kneser_ney_trigram_by_hand():
    # The bigram level now uses continuation counts: (0 1) follows {start, 1},
    # (1 0) and (1 2) follow {0}, so its counts equal the bigram model's
    # above, and so do P2_AFTER_0 and P2_AFTER_1. Trigram discounts 0.25,
    # 0.5, 0.75 (the third row) show each order reads its own row.
    discounts = [FIXED, FIXED, (0.25, 0.5, 0.75)]
    lm = NGramLM(order=3, discounts=discounts).fit(TOY, vocab_size=4)
    # h = 0 1: c(0 1 0) = c(0 1 2) = 1 keep 0.75 / 2 each, g = 2 * 0.25 / 2:
    #   p = 0.25 p(. | 1) + (0.375, 0, 0.375, 0).
    np.testing.assert_allclose(lm.distribution([0, 1]), [0.484375, 0.03125, 0.46875, 0.015625])
    # h = 1 0: c(1 0 1) = 1 keeps 0.75, g = 0.25: p = 0.25 p(. | 0) + (0, 0.75, 0, 0).
    np.testing.assert_allclose(lm.distribution([1, 0]), [0.046875, 0.90625, 0.03125, 0.015625])
    # h = 1 2 ends the stream (c = 0), and (2) has no successor: p1.
    np.testing.assert_allclose(lm.distribution([1, 2]), P1)
    # Only the last two ids matter.
    np.testing.assert_array_equal(lm.distribution([3, 3, 0, 1]), lm.distribution([0, 1]))
    # A stream's first two tokens use the unigram and bigram levels.
    np.testing.assert_allclose(np.exp(lm.log_prob([0, 1, 0])), [0.375, 0.625, 0.484375])


def test_discounts_follow_chen_and_goodman():
    # Unigram counts: ids 0-3 once, 4 and 5 twice, 6 three times, 7 four
    # times: n1..n4 = 4, 2, 1, 1, Y = 4 / (4 + 4) = 0.5,
    # D1 = 1 - 2 * 0.5 * 2 / 4 = 0.5, D2 = 2 - 3 * 0.5 * 1 / 2 = 1.25,
    # D3+ = 3 - 4 * 0.5 * 1 / 1 = 1.
    tokens = [0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 7]
    lm = NGramLM(order=1).fit(tokens)
    np.testing.assert_allclose(lm.discounts, [[0.5, 1.25, 1.0]])
    # p(7) = (4 - D3+) / 15 + g / 8, g = (4 * 0.5 + 2 * 1.25 + 2 * 1) / 15.
    assert lm.distribution([])[7] == pytest.approx(3 / 15 + 6.5 / 15 / 8)


def test_discounts_fall_back_without_count_of_counts():
    # No id occurs 3 or 4 times: the estimate is undefined.
    lm = NGramLM(order=2).fit(TOY)
    np.testing.assert_array_equal(lm.discounts, [FALLBACK_DISCOUNTS] * 2)


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_distributions_sum_to_one(order, smoothing):
    train = _markov_chain(400, vocab_size=12, seed=0)
    lm = _lm(order, smoothing).fit(train, vocab_size=13)
    histories = [
        [],
        train[:1],
        train[100:110],  # seen
        train[-4:],  # ends the stream: seen, never followed
        [12, 12, 12, 12],  # id 12 never occurs
        [int(train[7]), 12, int(train[8])],
    ]
    for history in histories:
        probs = lm.distribution(history)
        assert probs.shape == (13,) and probs.dtype == np.float64
        assert np.all(probs > 0)
        assert abs(probs.sum() - 1.0) < 1e-9, (history, probs.sum())


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_log_prob_matches_distribution_at_every_position(order, smoothing):
    lm = _lm(order, smoothing).fit(_markov_chain(400, vocab_size=10, seed=1), vocab_size=11)
    documents = [_markov_chain(30, vocab_size=11, seed=2), np.array([10, 3, 10, 10, 4, 5])]
    log_probs = lm.log_prob(documents)
    expected = [
        np.log(lm.distribution(document[:i])[document[i]])
        for document in documents
        for i in range(len(document))
    ]
    assert log_probs.dtype == np.float64 and log_probs.shape == (36,)
    np.testing.assert_allclose(log_probs, expected, rtol=1e-12)
    assert lm.perplexity(documents) == pytest.approx(np.exp(-np.mean(expected)))


def _reference_kneser_ney(documents, order, vocab_size, discounts):
    """Dict-based interpolated modified Kneser-Ney, one probability at a time."""
    counts = [Counter() for _ in range(order)]
    left_contexts = [defaultdict(set) for _ in range(order)]
    for document in documents:
        for end in range(len(document)):
            for m in range(1, min(order, end + 1) + 1):
                gram = tuple(document[end - m + 1:end + 1])
                counts[m - 1][gram] += 1
                left_contexts[m - 1][gram].add(document[end - m] if end >= m else "start")
    for m in range(1, order):
        counts[m - 1] = Counter({gram: len(ids) for gram, ids in left_contexts[m - 1].items()})

    def prob(history, word):
        p = 1.0 / vocab_size
        for m in range(1, len(history) + 2):
            context = tuple(history[len(history) - (m - 1):])
            following = {g: c for g, c in counts[m - 1].items() if g[:-1] == context}
            total = sum(following.values())
            if total == 0:
                continue
            discount = [0.0, *discounts[m - 1]]
            count = following.get(context + (word,), 0)
            freed = sum(discount[min(c, 3)] for c in following.values())
            p = max(count - discount[min(count, 3)], 0) / total + freed / total * p
        return p

    return prob


@pytest.mark.parametrize("order", [2, 3, 4])
def test_kneser_ney_matches_a_dict_reference(order):
    documents = [list(_markov_chain(120, 6, seed=3)), list(_markov_chain(60, 6, seed=4))]
    lm = NGramLM(order).fit(documents, vocab_size=7)
    prob = _reference_kneser_ney(documents, order, 7, lm.discounts)
    test = list(_markov_chain(25, vocab_size=7, seed=5))
    expected = [np.log(prob(test[max(0, i - order + 1):i], test[i])) for i in range(len(test))]
    np.testing.assert_allclose(lm.log_prob(test), expected, rtol=1e-12)


def test_documents_do_not_share_ngrams():
    separate = NGramLM(order=2, smoothing="laplace").fit([[0, 1], [2, 3]])
    joined = NGramLM(order=2, smoothing="laplace").fit([0, 1, 2, 3])
    # 4 unigrams; bigrams 0 1 and 2 3, but "1 2" only when joined.
    assert separate.count_params() == 6 and joined.count_params() == 7
    np.testing.assert_allclose(separate.distribution([1]), [0.25] * 4)
    assert joined.distribution([1])[2] == pytest.approx(2 / 5)
    # Scored as documents, 2 starts a stream: the unigram (1 + 1) / (4 + 4).
    log_probs = separate.log_prob([np.array([0, 1]), np.array([2, 3])])
    assert np.exp(log_probs[2]) == pytest.approx(0.25)
    assert np.exp(separate.log_prob([0, 1, 2, 3])[2]) == pytest.approx(0.25)  # c(1 .) = 0
    assert np.exp(joined.log_prob([0, 1, 2, 3])[2]) == pytest.approx(0.4)


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_save_load_round_trip(tmp_path, smoothing):
    train, test = _markov_chain(300, 9, seed=6), _markov_chain(50, 9, seed=7)
    lm = _lm(3, smoothing).fit([train[:200], train[200:]], vocab_size=9)
    path = tmp_path / "lm.npz"
    lm.save(path)
    loaded = NGramLM.load(path)
    assert (loaded.order, loaded.smoothing, loaded.k, loaded.vocab_size) == (3, smoothing, lm.k, 9)
    assert loaded.count_params() == lm.count_params()
    np.testing.assert_array_equal(loaded.log_prob(test), lm.log_prob(test))
    if smoothing == "kneser_ney":
        np.testing.assert_array_equal(loaded.discounts, lm.discounts)
    # Fixed discounts survive a refit of the loaded model.
    fixed = NGramLM(2, discounts=FIXED).fit(TOY)
    fixed.save(tmp_path / "fixed.npz")
    refit = NGramLM.load(tmp_path / "fixed.npz").fit(train)
    np.testing.assert_array_equal(refit.discounts, [FIXED, FIXED])


def test_generate_is_reproducible_and_in_range():
    lm = NGramLM(order=3).fit(_markov_chain(500, vocab_size=15, seed=8), vocab_size=20)
    first = lm.generate(40, prompt=[1, 2], seed=0)
    assert first.shape == (40,) and first.dtype == np.int64
    assert first.min() >= 0 and first.max() < 20
    np.testing.assert_array_equal(first, lm.generate(40, prompt=[1, 2], seed=0))
    assert not np.array_equal(first, lm.generate(40, prompt=[1, 2], seed=1))
    assert lm.generate(0).shape == (0,)


def test_generate_temperature_sharpens():
    # A cycle 0 1 2 3: near temperature 0 sampling takes the likeliest id,
    # which continues the cycle; at temperature 1 unseen ids keep mass.
    lm = NGramLM(order=2).fit([0, 1, 2, 3] * 10, vocab_size=8)
    cold = lm.generate(8, prompt=[2], temperature=0.01, seed=0)
    np.testing.assert_array_equal(cold, [3, 0, 1, 2] * 2)
    hot = lm.generate(200, prompt=[2], temperature=5.0, seed=0)
    assert set(hot.tolist()) & {4, 5, 6, 7}


def test_kneser_ney_beats_laplace_on_held_out_text():
    text = _markov_chain(6000, vocab_size=60, seed=9)
    train, held_out = text[:5000], text[5000:]
    laplace = NGramLM(3, "laplace").fit(train, vocab_size=60).perplexity(held_out)
    kneser_ney = NGramLM(3, "kneser_ney").fit(train, vocab_size=60).perplexity(held_out)
    assert kneser_ney < 0.8 * laplace, (kneser_ney, laplace)


def test_count_params_counts_every_order():
    # Unigrams 0, 1, 2; bigrams 0 1, 1 0, 1 2; trigrams 0 1 0, 1 0 1, 0 1 2.
    assert NGramLM(order=3).fit(TOY).count_params() == 9


def _ptb_ids(path, vocab=None):
    with gzip.open(path, "rt") as file:
        words = [word for line in file for word in line.split() + ["<eos>"]]
    if vocab is None:
        vocab = {word: i for i, word in enumerate(sorted(set(words)))}
    return np.array([vocab[word] for word in words]), vocab


def test_penn_treebank_perplexity(data_file):
    train, vocab = _ptb_ids(data_file("ptb/ptb.train.txt.gz"))
    test, _ = _ptb_ids(data_file("ptb/ptb.test.txt.gz"), vocab)
    assert len(vocab) == 10000 and len(train) == 929589 and len(test) == 82430
    kneser_ney = NGramLM(order=3).fit(train, vocab_size=10000).perplexity(test)
    # The literature's KN3 on PTB test is about 148 (KN5 about 141).
    assert 130 < kneser_ney < 200, kneser_ney
    laplace = NGramLM(order=2, smoothing="laplace").fit(train, vocab_size=10000).perplexity(test)
    assert laplace > 3 * kneser_ney, (laplace, kneser_ney)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"order": 0},
         "NGramLM received order=0. `order` must be a positive integer, e.g. NGramLM(order=3)."),
        ({"order": 2.0}, "NGramLM received order=2.0."),
        ({"order": 2, "smoothing": "witten_bell"},
         "NGramLM received smoothing='witten_bell'. Expected one of 'laplace', 'add_k', 'kneser_ney'."),
        ({"order": 2, "smoothing": "add_k", "k": 0}, "NGramLM received k=0. `k` (the pseudo-count"),
        ({"order": 2, "smoothing": "laplace", "k": 0.5},
         "NGramLM received k=0.5 with smoothing='laplace'. `k` applies to smoothing='add_k' only"),
        ({"order": 2, "smoothing": "laplace", "discounts": FIXED},
         "`discounts` apply to smoothing='kneser_ney' only"),
        ({"order": 2, "discounts": (0.5, 1.0)},
         "NGramLM received discounts=(0.5, 1.0). `discounts` must be 3 numbers (D1, D2, D3+) "
         "for every order, or an array of shape (2, 3)"),
        ({"order": 2, "discounts": (0.5, 2.5, 1.0)},
         "D1, D2 and D3+ must lie in (0, 1], (0, 2] and (0, 3]"),
        ({"order": 2, "discounts": (0.0, 1.0, 1.0)}, "D1, D2 and D3+ must lie in"),
    ],
)
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        NGramLM(**kwargs)


@pytest.mark.parametrize(
    "tokens, vocab_size, message",
    [
        ([], None, "NGramLM.fit received empty tokens. Pass at least one token id"),
        ([[], []], None, "NGramLM.fit received empty tokens."),
        ([0, -1, 2], None, "NGramLM.fit received token id -1 (first at position 1 of its stream). "
                           "Token ids must be non-negative"),
        ([0, 5], 3, "NGramLM.fit received token id 5 with vocab_size=3. Ids must be below "
                    "vocab_size: pass vocab_size=6 or more"),
        ([0.0, 1.5], None,
         "NGramLM.fit received tokens of dtype float64. `tokens` must hold integer token ids"),
        ([True, False], None, "received tokens of dtype bool."),
        (np.zeros((2, 3), dtype=int), None,
         "NGramLM.fit received tokens with shape (2, 3). Pass a 1-D sequence of token ids"),
        ([0, 1], 0, "NGramLM.fit received vocab_size=0. `vocab_size` must be a positive integer"),
    ],
)
def test_fit_errors(tokens, vocab_size, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        NGramLM(order=2).fit(tokens, vocab_size=vocab_size)


def test_errors_after_fit_name_the_value(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "NGramLM.log_prob was called before fit. Fit the model")):
        NGramLM(order=2).log_prob([0, 1])
    with pytest.raises(ValueError, match=re.escape("NGramLM.perplexity was called before fit")):
        NGramLM(order=2).perplexity([0, 1])
    lm = NGramLM(order=2).fit(TOY)
    with pytest.raises(ValueError, match=re.escape(
            "NGramLM.log_prob received token id 7 (first at position 1 of its stream), but the model "
            "was fitted with vocab_size=3. Map out-of-vocabulary words to an <unk> id")):
        lm.log_prob([0, 7])
    with pytest.raises(ValueError, match=re.escape("NGramLM.distribution received token id 3")):
        lm.distribution([3])
    with pytest.raises(ValueError, match=re.escape(
            "NGramLM.distribution received history with shape (1, 2). Pass a 1-D sequence of token ids, "
            "e.g. np.array([4, 0, 7]).")):
        lm.distribution([[0, 1]])
    with pytest.raises(ValueError, match=re.escape("NGramLM.generate received temperature=0. ")):
        lm.generate(3, temperature=0)
    with pytest.raises(ValueError, match=re.escape("NGramLM.generate received length=-1.")):
        lm.generate(-1)
    with pytest.raises(ValueError, match=re.escape(
            "NGramLM.save received path='lm.bin'. The file name must end in '.npz'")):
        lm.save("lm.bin")
