"""The GRU's XLA-compiled forward loop: only for a fixed number of steps."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseq.layers import GRU
from kerasseq.layers import fused_loops


@pytest.fixture
def jit_calls(monkeypatch):
    """Counts the functions `fused_loops` compiles with XLA."""
    calls = []
    original = tf.function

    def recording(*args, **kwargs):
        if kwargs.get("jit_compile"):
            calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(fused_loops.tf, "function", recording)
    return calls


@pytest.mark.parametrize("timesteps, compiled", [(7, True), (None, False)])
def test_only_a_fixed_number_of_steps_is_compiled(timesteps, compiled, jit_calls):
    # A time axis that changes from batch to batch (length-bucketed text)
    # would need one XLA compilation per length, without bound.
    inputs = keras.Input((timesteps, 3))
    model = keras.Model(inputs, GRU(4)(inputs))
    x = np.random.default_rng(0).normal(size=(2, 7, 3)).astype("float32")
    # Traced for any batch of `timesteps` steps, as a text model's graph is for any length.
    run = tf.function(model, input_signature=[tf.TensorSpec((None, timesteps, 3), "float32")])
    outputs = run(x).numpy()
    assert bool(jit_calls) == compiled
    # The same numbers either way (eager, uncompiled, as the reference).
    np.testing.assert_allclose(outputs, model(x).numpy(), atol=1e-5)
