"""Tests for `kerasseq.metrics.Perplexity`: NumPy references, weights, masks,
accumulation and config."""

import numpy as np

from kerasseq.metrics import Perplexity


def cross_entropy(logits, targets):
    """NumPy token cross-entropy of `logits (..., V)` for integer `targets (...)`."""
    logits = np.asarray(logits, "float64")
    top = logits.max(axis=-1, keepdims=True)
    log_z = top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))
    return log_z - np.take_along_axis(logits, np.asarray(targets)[..., None], axis=-1)[..., 0]


LOGITS = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
TARGETS = np.array([[1, 0, 4], [2, 2, 3]])


def test_perplexity_is_exp_of_the_mean_token_cross_entropy():
    metric = Perplexity()
    metric.update_state(TARGETS, LOGITS)
    np.testing.assert_allclose(metric.result(), np.exp(cross_entropy(LOGITS, TARGETS).mean()), rtol=1e-5)


def test_perplexity_from_probabilities():
    probabilities = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=-1, keepdims=True)
    metric = Perplexity(from_logits=False)
    metric.update_state(TARGETS, probabilities)
    np.testing.assert_allclose(metric.result(), np.exp(cross_entropy(LOGITS, TARGETS).mean()), rtol=1e-5)


def test_perplexity_of_uniform_predictions_is_the_vocabulary_size():
    metric = Perplexity()
    metric.update_state([[1, 0, 3]], np.zeros((1, 3, 7), "float32"))
    np.testing.assert_allclose(metric.result(), 7.0, rtol=1e-6)


def test_sample_weights_leave_out_padding():
    weights = np.array([[1, 1, 0], [1, 0, 0]], "float32")
    metric = Perplexity()
    metric.update_state(TARGETS, LOGITS, sample_weight=weights)
    entropy = cross_entropy(LOGITS, TARGETS)
    np.testing.assert_allclose(metric.result(), np.exp(entropy[weights == 1].mean()), rtol=1e-5)
    # Whatever the padded positions predict changes nothing.
    noisy = LOGITS.copy()
    noisy[weights == 0] = 100.0 * np.arange(5)
    metric.reset_state()
    metric.update_state(TARGETS, noisy, sample_weight=weights)
    np.testing.assert_allclose(metric.result(), np.exp(entropy[weights == 1].mean()), rtol=1e-5)


def test_mask_token_id_is_never_scored():
    metric = Perplexity(mask_token_id=2)
    metric.update_state(TARGETS, LOGITS)
    entropy = cross_entropy(LOGITS, TARGETS)
    np.testing.assert_allclose(metric.result(), np.exp(entropy[TARGETS != 2].mean()), rtol=1e-5)


def test_updates_accumulate_tokens_not_batches():
    first, second = (LOGITS, TARGETS), (LOGITS[:1, :1], TARGETS[:1, :1])
    metric = Perplexity()
    metric.update_state(first[1], first[0])
    metric.update_state(second[1], second[0])
    entropies = np.concatenate([cross_entropy(l, t).ravel() for l, t in (first, second)])
    # 7 tokens weigh the same; the mean of the two batch means would differ.
    np.testing.assert_allclose(metric.result(), np.exp(entropies.mean()), rtol=1e-5)
    batch_means = np.mean([entropies[:6].mean(), entropies[6:].mean()])
    assert not np.isclose(np.exp(batch_means), float(metric.result()), rtol=1e-3)


def test_reset_state_starts_again():
    metric = Perplexity()
    metric.update_state(TARGETS, LOGITS)
    metric.reset_state()
    assert float(metric.result()) == 1.0
    metric.update_state(TARGETS[:1], LOGITS[:1])
    np.testing.assert_allclose(metric.result(), np.exp(cross_entropy(LOGITS[:1], TARGETS[:1]).mean()),
                               rtol=1e-5)


def test_perplexity_config_round_trip():
    metric = Perplexity(from_logits=False, mask_token_id=3, name="ppl")
    config = metric.get_config()
    assert (config["from_logits"], config["mask_token_id"], config["name"]) == (False, 3, "ppl")
    copy = Perplexity.from_config(config)
    assert (copy.from_logits, copy.mask_token_id, copy.name) == (False, 3, "ppl")
