"""Parity helpers shared by the layer tests, served as fixtures.

`layer_parity(ours, ref, inputs, ...)` builds both layers, copies the
built-in's weights into ours and checks that outputs, final states and the
gradients of a fixed weighted sum of them (w.r.t. inputs, initial states
and every trainable weight) agree within 1e-5. `parity(ours_class,
ref_class, kwargs, ...)` does so for one configuration of a layer,
`case_parity` for one entry of a case table, `cell_parity` for cells
inside `keras.layers.RNN` and `dropout_parity` for a layer in training.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

TOLERANCE = dict(rtol=1e-5, atol=1e-5)

# Parity within 1e-5 needs float32 matmuls; on Ampere and newer GPUs
# TensorFlow would run them in TF32 (a 10-bit mantissa).
tf.config.experimental.enable_tensor_float_32_execution(False)


def random_inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def padding_mask(kind, batch=3, timesteps=5):
    """A boolean `(batch, timesteps)` mask: rows keep 5, 3 and 1 steps.

    `"right"` pads at the end (masked steps last), `"left"` at the start.
    """
    lengths = np.array([timesteps, 3, 1][:batch])
    steps = np.arange(timesteps)[None, :]
    if kind == "right":
        return steps < lengths[:, None]
    return steps >= timesteps - lengths[:, None]


def arange_weights(*shape):
    """Fixed weights in [-0.3, 0.3] that differ from entry to entry."""
    return ((np.arange(np.prod(shape)) % 7 - 3) / 10).reshape(shape).astype("float32")


def _cotangent(output, index):
    # A fixed weighting that differs per element and per output, so each
    # element's gradient path counts in the loss (a plain sum would hide
    # errors that cancel). Built from the dynamic shape: traced, the batch
    # size of a returned state may be unknown.
    positions = tf.range(tf.size(output), dtype=output.dtype)
    return tf.reshape(tf.sin(1.3 * positions + index), tf.shape(output))


def forward_and_gradients(layer, inputs, initial_state=None, **call_kwargs):
    """Outputs of `layer(inputs)` (flattened) and the gradients of a fixed
    weighted sum of them w.r.t. inputs, initial states and trainable weights."""
    inputs = tf.convert_to_tensor(inputs)
    states = [tf.convert_to_tensor(s) for s in initial_state or []]
    with tf.GradientTape() as tape:
        tape.watch([inputs, *states])
        if states:
            call_kwargs["initial_state"] = states
        outputs = tf.nest.flatten(layer(inputs, **call_kwargs))
        loss = sum(
            tf.reduce_sum(o * _cotangent(o, i)) for i, o in enumerate(outputs)
        )
    gradients = tape.gradient(
        loss,
        [inputs, *states, *layer.trainable_weights],
        unconnected_gradients=tf.UnconnectedGradients.ZERO,
    )
    return outputs, gradients


def copy_weights(ours, ref, inputs_shape):
    """Builds both layers (without calling them) and gives ours ref's weights."""
    for layer in (ref, ours):
        if not layer.built:
            layer.build(inputs_shape)
    ours.set_weights(ref.get_weights())


def assert_parity(ours, ref, inputs, *, initial_state=None, traced=False, **call_kwargs):
    """Asserts ours and ref agree on outputs, states and all gradients."""
    copy_weights(ours, ref, inputs.shape)
    results = []
    for layer in (ours, ref):
        run = lambda x, layer=layer: forward_and_gradients(  # noqa: E731
            layer, x, initial_state, **dict(call_kwargs)
        )
        if traced:
            run = tf.function(run)
        results.append(run(tf.constant(inputs)))
    (ours_outputs, ours_grads), (ref_outputs, ref_grads) = results
    assert len(ours_outputs) == len(ref_outputs)
    for a, b in zip(ours_outputs, ref_outputs):
        np.testing.assert_allclose(a, b, **TOLERANCE)
    assert len(ours_grads) == len(ref_grads)
    for a, b in zip(ours_grads, ref_grads):
        np.testing.assert_allclose(a, b, **TOLERANCE)
    return ours_outputs


def assert_stateful_parity(ours, ref, inputs):
    """Two consecutive calls carry the state; `reset_state` restarts it."""
    copy_weights(ours, ref, inputs.shape)
    first = ours(inputs)
    np.testing.assert_allclose(first, ref(inputs), **TOLERANCE)
    second = ours(inputs)
    np.testing.assert_allclose(second, ref(inputs), **TOLERANCE)
    assert not np.allclose(first, second), "the state was not carried over"
    ours.reset_state()
    ref.reset_state()
    np.testing.assert_allclose(ours(inputs), first, **TOLERANCE)
    np.testing.assert_allclose(ref(inputs), first, **TOLERANCE)


def run_case(ours_class, ref_class, layer_kwargs, *, mask=None, initial_state=False,
             traced=False, expected=None):
    """Parity of `ours_class(**layer_kwargs)` with `ref_class(**layer_kwargs)`
    on `(3, 5, 3)` inputs; `mask` is None, "right" or "left"."""
    ours = ours_class(**layer_kwargs)
    ref = ref_class(**layer_kwargs)
    if expected is not None:
        assert ours.implementation_for(gpu=False) == expected
    inputs = random_inputs((3, 5, 3))
    if ours.stateful:
        return assert_stateful_parity(ours, ref, inputs)
    call_kwargs = {}
    if mask is not None:
        call_kwargs["mask"] = tf.constant(padding_mask(mask))
    states = None
    if initial_state:
        states = [
            random_inputs((3, size), seed=10 + i) for i, size in enumerate(ours.state_size)
        ]
    return assert_parity(
        ours, ref, inputs, initial_state=states, traced=traced, **call_kwargs
    )


def run_table_case(ours_class, ref_class, case, *, traced=False):
    """`run_case` on one entry of a case table, `(layer kwargs, call options,
    implementation on a CPU)`, with 4 units unless the kwargs say otherwise.
    Traced runs leave out the check of the implementation."""
    layer_kwargs, options, implementation = case
    layer_kwargs = {"units": 4, **layer_kwargs}
    if traced:
        return run_case(ours_class, ref_class, layer_kwargs, traced=True, **options)
    return run_case(ours_class, ref_class, layer_kwargs, expected=implementation, **options)


def assert_cell_parity(ours_cells, ref_cells, *, padding=None, shape=(3, 5, 3), **rnn_kwargs):
    """Parity of `keras.layers.RNN(ours_cells, **rnn_kwargs)` with the same
    around `ref_cells` (a cell, or a list of cells to stack) on random inputs
    of `shape`, masked with `padding_mask(padding)` unless `padding` is None."""
    call_kwargs = {}
    if padding is not None:
        call_kwargs["mask"] = tf.constant(padding_mask(padding, *shape[:2]))
    return assert_parity(
        keras.layers.RNN(ours_cells, **rnn_kwargs),
        keras.layers.RNN(ref_cells, **rnn_kwargs),
        random_inputs(shape),
        **call_kwargs,
    )


def assert_dropout_parity(ours_class, ref_class, dropout_kwargs, *, traced=False, mask=None):
    """In training, ours with `dropout_kwargs` (and `seed=7`) matches the
    built-in, and some unit was dropped: its outputs differ from inference.
    `mask` ("right" or "left") adds a padding mask to the call."""
    kwargs = {"units": 4, "seed": 7, "return_sequences": True, **dropout_kwargs}
    ours = ours_class(**kwargs)
    inputs = random_inputs((3, 5, 3))
    call_kwargs = {"training": True}
    if mask is not None:
        call_kwargs["mask"] = tf.constant(padding_mask(mask))
    dropped = assert_parity(ours, ref_class(**kwargs), inputs, traced=traced, **call_kwargs)
    call_kwargs["training"] = False
    assert not np.allclose(dropped[0], ours(inputs, **call_kwargs)), "no unit was dropped"


@pytest.fixture
def parity():
    """`run_case` (see there): parity of ours with a built-in on one configuration."""
    return run_case


@pytest.fixture
def case_parity():
    """`run_table_case(ours_class, ref_class, case, traced=False)`."""
    return run_table_case


@pytest.fixture
def cell_parity():
    """`assert_cell_parity(ours_cells, ref_cells, padding=None, shape=..., **rnn_kwargs)`."""
    return assert_cell_parity


@pytest.fixture
def dropout_parity():
    """`assert_dropout_parity(ours_class, ref_class, dropout_kwargs, traced=False)`."""
    return assert_dropout_parity


@pytest.fixture
def layer_parity():
    """`assert_parity` on given layers and inputs."""
    return assert_parity


@pytest.fixture
def mask_of():
    """`padding_mask(kind, batch, timesteps)`."""
    return padding_mask


@pytest.fixture
def fixed_weights():
    """`arange_weights(*shape)`: deterministic weights for NumPy references."""
    return arange_weights
