"""What `ElmanRNN`, `GRU` and `LSTM` share: arguments and errors, the choice
of implementation, serialization, and use in models."""

import importlib
import inspect
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasseq.layers import GRU
from kerasseq.layers import LSTM
from kerasseq.layers import ElmanCell
from kerasseq.layers import ElmanRNN
from kerasseq.layers import GRUCell
from kerasseq.layers import LSTMCell
from kerasseq.layers import base
from kerasseq.layers import fused_loops

LAYERS = [ElmanRNN, GRU, LSTM]
CELLS = [ElmanCell, GRUCell, LSTMCell]
BUILT_IN = {
    ElmanRNN: keras.layers.SimpleRNN, GRU: keras.layers.GRU, LSTM: keras.layers.LSTM,
    ElmanCell: keras.layers.SimpleRNNCell, GRUCell: keras.layers.GRUCell,
    LSTMCell: keras.layers.LSTMCell,
}
FUSED_LOOP = {ElmanRNN: "elman_sequence", GRU: "gru_sequence", LSTM: "lstm_sequence"}


def random_inputs(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _constructor_defaults(cls):
    return {
        name: param.default
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if param.default is not param.empty
    }


# --- Arguments and errors -------------------------------------------------


@pytest.mark.parametrize("cls", [*LAYERS, *CELLS])
def test_takes_every_keras_argument(cls):
    # Every argument of the built-in, at its default, is accepted.
    cls(4, **_constructor_defaults(BUILT_IN[cls]))


@pytest.mark.parametrize("cls", [*LAYERS, *CELLS])
def test_defaults_match_keras(cls):
    ours, ref = cls(4).get_config(), BUILT_IN[cls](4).get_config()
    for config in (ours, ref):
        del config["name"]
    ref.setdefault("seed", None)  # keras.layers.SimpleRNN leaves seed out of its config.
    # keras.layers.Layer writes activity_regularizer only when it is set.
    assert ours.pop("activity_regularizer", None) == ref.pop("activity_regularizer", None)
    # keras.layers.GRU/LSTM drop use_cudnn and implementation from their
    # configs; ours keep them, so a reloaded layer makes the same choices.
    assert ours.pop("use_cudnn", "auto") == "auto"
    assert ours.pop("implementation", 2) == 2
    assert ours == ref


@pytest.mark.parametrize("cls", LAYERS)
def test_layer_exposes_cell_arguments(cls):
    layer = cls(3, dropout=0.25, use_bias=False, activation="relu")
    assert (layer.units, layer.dropout, layer.use_bias) == (3, 0.25, False)
    assert layer.activation is keras.activations.relu


@pytest.mark.parametrize("units", [0, -1, 2.5, "8", True])
@pytest.mark.parametrize("cls", [*LAYERS, *CELLS])
def test_units_must_be_a_positive_integer(cls, units):
    message = f"received units={units!r}. `units` must be a positive integer"
    with pytest.raises(ValueError, match=re.escape(message)):
        cls(units)


@pytest.mark.parametrize("cls", LAYERS)
def test_unknown_activation(cls):
    with pytest.raises(ValueError, match=r"received activation='tanhh', which is not a known activation"):
        cls(4, activation="tanhh")


@pytest.mark.parametrize("cls", [GRU, LSTMCell])
def test_unknown_recurrent_activation(cls):
    with pytest.raises(ValueError, match=r"received recurrent_activation='tanhh', which is not a known"):
        cls(4, recurrent_activation="tanhh")


@pytest.mark.parametrize("name, rate", [("dropout", 1.5), ("recurrent_dropout", -0.1)])
def test_dropout_must_be_a_fraction(name, rate):
    with pytest.raises(ValueError, match=rf"{name}={rate}\. `{name}` is a fraction .* in \[0, 1\)"):
        GRU(4, **{name: rate})


@pytest.mark.parametrize("shape", [(2, 3), (2, 5, 3, 1)])
@pytest.mark.parametrize("cls", LAYERS)
def test_inputs_must_have_rank_3(cls, shape):
    message = (
        f"{cls.__name__} received inputs of shape {shape} (rank {len(shape)}). "
        "Expected rank 3: (batch, timesteps, features)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        cls(4)(np.zeros(shape, "float32"))


def test_cell_step_inputs_must_have_rank_2():
    with pytest.raises(ValueError, match=re.escape("GRUCell received step inputs of shape (2, 5, 1)")):
        keras.layers.RNN(GRUCell(4))(np.zeros((2, 3, 5, 1), "float32"))


INITIAL_STATE_ERRORS = {
    "wrong_size": (GRU, [(2, 5)], "GRU received initial_state with shapes [(2, 5)]. Expected 1 tensor(s)"),
    "one_of_two": (LSTM, [(2, 4)], "LSTM received initial_state with shapes [(2, 4)]. Expected 2 tensor(s)"),
    "bare_tensor": (LSTM, (2, 4), "LSTM received initial_state with shapes [(2, 4)]. Expected 2"),
    "two_of_one": (ElmanRNN, [(2, 4), (2, 4)], "ElmanRNN received initial_state with shapes [(2, 4), (2, 4)]"),
}


@pytest.mark.parametrize("case", list(INITIAL_STATE_ERRORS))
def test_initial_state_must_match_state_size(case):
    cls, shapes, message = INITIAL_STATE_ERRORS[case]
    states = [np.zeros(s, "float32") for s in shapes] if isinstance(shapes, list) else np.zeros(shapes, "float32")
    with pytest.raises(ValueError, match=re.escape(message)):
        cls(4)(np.zeros((2, 5, 3), "float32"), initial_state=states)


def test_initial_state_is_checked_in_functional_models():
    # Wiring a functional model runs compute_output_shape, not call.
    with pytest.raises(ValueError, match=re.escape("GRU received initial_state with shapes [(None, 5)]")):
        GRU(4)(keras.Input((5, 3)), initial_state=[keras.Input((5,))])
    outputs = LSTM(4)(keras.Input((5, 3)), initial_state=[keras.Input((4,)), keras.Input((4,))])
    assert outputs.shape == (None, 4)


# --- Implementation choice ------------------------------------------------

# (layer, kwargs, on a GPU, on a CPU, on a CPU while training)
IMPLEMENTATIONS = [
    (GRU, {}, "cudnn", "fused", "fused"),
    (GRU, {"dropout": 0.2}, "cudnn", "fused", "fused"),
    (GRU, {"reset_after": False}, "fused", "fused", "fused"),
    (GRU, {"use_bias": False}, "fused", "fused", "fused"),
    (GRU, {"activation": "relu"}, "fused", "fused", "fused"),
    (GRU, {"recurrent_activation": "tanh"}, "fused", "fused", "fused"),
    (GRU, {"recurrent_dropout": 0.2}, "fused", "fused", "generic"),
    (GRU, {"implementation": 1}, "cudnn", "fused", "fused"),
    (GRU, {"implementation": 1, "dropout": 0.2}, "cudnn", "fused", "generic"),
    (GRU, {"unroll": True}, "generic", "generic", "generic"),
    (GRU, {"activation": "softplus"}, "generic", "generic", "generic"),
    (LSTM, {}, "cudnn", "fused", "fused"),
    (LSTM, {"unit_forget_bias": False, "dropout": 0.2}, "cudnn", "fused", "fused"),
    (LSTM, {"use_bias": False}, "fused", "fused", "fused"),
    (LSTM, {"activation": "sigmoid"}, "fused", "fused", "fused"),
    (LSTM, {"recurrent_activation": "hard_sigmoid"}, "generic", "generic", "generic"),
    (LSTM, {"recurrent_dropout": 0.2}, "fused", "fused", "generic"),
    (LSTM, {"implementation": 1, "dropout": 0.2}, "cudnn", "fused", "generic"),
    (LSTM, {"unroll": True}, "generic", "generic", "generic"),
    (ElmanRNN, {}, "fused", "fused", "fused"),
    (ElmanRNN, {"activation": "relu", "dropout": 0.2}, "fused", "fused", "fused"),
    (ElmanRNN, {"recurrent_dropout": 0.2}, "fused", "fused", "generic"),
    (ElmanRNN, {"activation": "softplus"}, "generic", "generic", "generic"),
]


@pytest.mark.parametrize("cls, kwargs, gpu, cpu, cpu_training", IMPLEMENTATIONS)
def test_implementation_for(cls, kwargs, gpu, cpu, cpu_training):
    layer = cls(4, **kwargs)
    assert layer.implementation_for(gpu=True) == gpu
    assert layer.implementation_for(gpu=False) == cpu
    assert layer.implementation_for(gpu=False, training=True) == cpu_training
    if cls is not ElmanRNN:
        # cuDNN exactly where Keras' own layer would use it.
        cell = layer.cell
        keras_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
        arguments = [cell.activation, cell.recurrent_activation, layer.unroll, cell.use_bias]
        if cls is GRU:
            supported = keras_rnn._do_gru_arguments_support_cudnn(*arguments, cell.reset_after)
        else:
            supported = keras_rnn._do_lstm_arguments_support_cudnn(*arguments)
        keras_would = supported and not cell.recurrent_dropout
        assert (gpu == "cudnn") == keras_would


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts calls of the fused loops, with `gpu_available()` False."""
    monkeypatch.setattr(base, "gpu_available", lambda: False)
    calls = []
    for name in FUSED_LOOP.values():
        original = getattr(fused_loops, name)

        def counting(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(fused_loops, name, counting)
    return calls


RUNS_FUSED = {
    "default": ({}, False, True),
    "training": ({"dropout": 0.3}, True, True),
    "recurrent_dropout_inference": ({"recurrent_dropout": 0.3}, False, True),
    "recurrent_dropout_training": ({"recurrent_dropout": 0.3}, True, False),
    "unroll": ({"unroll": True}, False, False),
    "softplus": ({"activation": "softplus"}, False, False),
}


@pytest.mark.parametrize("case", list(RUNS_FUSED))
@pytest.mark.parametrize("cls", LAYERS)
def test_fused_loop_runs_on_cpu(fused_calls, cls, case):
    # A silent fallback to the generic loop would pass every numeric test.
    kwargs, training, fused = RUNS_FUSED[case]
    cls(3, **kwargs)(random_inputs(2, 4, 3), training=training)
    assert fused_calls == ([FUSED_LOOP[cls]] if fused else [])


@pytest.mark.parametrize("cls", LAYERS)
def test_fused_loop_runs_traced(fused_calls, cls):
    layer = cls(3, return_sequences=True)
    layer.build((2, 4, 3))  # else tf.function traces twice to create the weights
    tf.function(layer)(random_inputs(2, 4, 3))
    assert fused_calls == [FUSED_LOOP[cls]]


@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_cudnn_is_tried_then_falls_back(monkeypatch, layer_parity, cls):
    # With a GPU reported, build picks cuDNN; without one the backend
    # raises NotImplementedError and the fused loop (which must agree with
    # Keras) takes over. On a GPU machine cuDNN runs for real.
    monkeypatch.setattr(base, "gpu_available", lambda: True)
    tried = []
    original = cls.cudnn_loop

    def counting(self, *args):
        tried.append(True)
        return original(self, *args)

    monkeypatch.setattr(cls, "cudnn_loop", counting)
    ours = cls(4, return_sequences=True)
    layer_parity(ours, BUILT_IN[cls](4, return_sequences=True), random_inputs(3, 5, 3))
    assert ours.runs_cudnn and tried


@pytest.mark.filterwarnings("ignore:Model doesn't support `jit_compile=True`")
@pytest.mark.parametrize("cls", LAYERS)
def test_cudnn_layer_keeps_model_out_of_xla(monkeypatch, cls):
    # cuDNN ops do not compile with XLA, which `jit_compile="auto"` picks on a GPU.
    monkeypatch.setattr(base, "gpu_available", lambda: True)
    model = keras.Sequential([keras.Input((4, 3)), cls(3)])
    model.compile(loss="mse", jit_compile=True)
    assert model.jit_compile is (cls is ElmanRNN)


# --- Masks, stacking, Bidirectional ---------------------------------------


@pytest.mark.parametrize("cls", LAYERS)
def test_fully_masked_row_matches_keras(layer_parity, cls):
    # The last output of a row with no step is zeros; its state stays the initial one.
    ours, ref = cls(4, return_state=True), BUILT_IN[cls](4, return_state=True)
    states = [random_inputs(2, 4, seed=5 + i) for i in range(len(ours.state_size))]
    mask = tf.constant([[True, True, False], [False, False, False]])
    outputs = layer_parity(ours, ref, random_inputs(2, 3, 3), initial_state=states, mask=mask)
    np.testing.assert_array_equal(outputs[0][1], 0.0)
    np.testing.assert_allclose(outputs[1][1], states[0][1])


def _stacked_model(recurrent):
    """Masking -> recurrent(4, sequences) -> recurrent(3, backwards), Sequential."""
    return keras.Sequential([
        keras.Input((5, 3)),
        keras.layers.Masking(0.0),
        recurrent(4, return_sequences=True),
        recurrent(3, go_backwards=True),
    ])


@pytest.mark.parametrize("padding", ["right", "left"])
@pytest.mark.parametrize("cls", LAYERS)
def test_masking_layer_in_stacked_model_matches_keras(layer_parity, mask_of, cls, padding):
    inputs = random_inputs(3, 5, 3) * mask_of(padding)[..., None]
    ours, ref = _stacked_model(cls), _stacked_model(BUILT_IN[cls])
    layer_parity(ours, ref, inputs)


@pytest.mark.parametrize("cls", LAYERS)
def test_embedding_mask_in_functional_model_matches_keras(mask_of, cls):
    tokens = (np.arange(15).reshape(3, 5) % 6 + 1) * mask_of("left")

    def model(recurrent):
        inputs = keras.Input((5,), dtype="int32")
        x = keras.layers.Embedding(7, 3, mask_zero=True)(inputs)
        sequences, *states = recurrent(4, return_sequences=True, return_state=True)(x)
        return keras.Model(inputs, [sequences, *states])

    ours, ref = model(cls), model(BUILT_IN[cls])
    ours.set_weights(ref.get_weights())
    for a, b in zip(ours(tokens), ref(tokens)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("merge_mode", ["concat", None])
@pytest.mark.parametrize("cls", LAYERS)
def test_bidirectional_matches_keras(layer_parity, mask_of, cls, merge_mode):
    ours = keras.layers.Bidirectional(cls(4, return_sequences=True), merge_mode=merge_mode)
    ref = keras.layers.Bidirectional(BUILT_IN[cls](4, return_sequences=True), merge_mode=merge_mode)
    layer_parity(ours, ref, random_inputs(3, 5, 3), mask=tf.constant(mask_of("right")))
    assert type(ours.backward_layer) is cls and ours.backward_layer.go_backwards


# --- Serialization --------------------------------------------------------

NON_DEFAULT = {
    ElmanCell: dict(activation="relu", use_bias=False, dropout=0.1, recurrent_dropout=0.2, seed=3,
                    kernel_regularizer="l2", recurrent_constraint="non_neg"),
    GRUCell: dict(recurrent_activation="hard_sigmoid", reset_after=False, bias_initializer="ones",
                  recurrent_dropout=0.2, seed=4),
    LSTMCell: dict(unit_forget_bias=False, activation="sigmoid", bias_regularizer="l1", dropout=0.3,
                   implementation=1),
    ElmanRNN: dict(return_sequences=True, go_backwards=True, activation="linear", seed=5,
                   activity_regularizer="l2"),
    GRU: dict(reset_after=False, return_state=True, stateful=True, unroll=True,
              zero_output_for_mask=True, recurrent_initializer="glorot_normal",
              implementation=1, use_cudnn=False),
    LSTM: dict(unit_forget_bias=False, return_sequences=True, recurrent_dropout=0.1,
               kernel_constraint="unit_norm", trainable=False),
}


@pytest.mark.parametrize("cls", [*LAYERS, *CELLS])
def test_config_round_trip(cls):
    original = cls(3, **NON_DEFAULT[cls])
    config, default = original.get_config(), cls(3).get_config()
    for name in NON_DEFAULT[cls]:
        assert config[name] != default.get(name), f"{name} is not in the config"
    clone = cls.from_config(config)
    assert clone.get_config() == config
    revived = keras.layers.deserialize(keras.layers.serialize(original))
    assert type(revived) is cls and revived.get_config() == config


@pytest.mark.parametrize("cls", LAYERS)
def test_saved_model_reloads(tmp_path, cls):
    inputs = keras.Input((5, 3))
    x = keras.layers.Bidirectional(cls(4, return_sequences=True))(inputs)
    x = cls(3, return_sequences=True, go_backwards=True)(x)
    outputs = keras.layers.TimeDistributed(keras.layers.Dense(2))(x)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    # No custom_objects, safe_mode on: importing kerasseq registered the classes.
    loaded = keras.saving.load_model(path)

    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert type(loaded.layers[1].forward_layer) is cls
    assert type(loaded.layers[2]) is cls
    data = random_inputs(2, 5, 3)
    np.testing.assert_allclose(loaded(data), model(data), rtol=1e-6, atol=1e-6)


# --- Training -------------------------------------------------------------


@pytest.mark.parametrize("cls", LAYERS)
def test_fit_runs(cls):
    model = keras.Sequential([
        keras.Input((4, 3)),
        cls(4, return_sequences=True, dropout=0.1, seed=1),
        cls(3),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(random_inputs(4, 4, 3), random_inputs(4, 1), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = model.get_weights()
    assert all(not np.allclose(a, b) for a, b in zip(before, after))



@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_use_cudnn_true_without_a_gpu_fails_at_build(cls):
    layer = cls(4, use_cudnn=True)
    with pytest.raises(ValueError, match=f"{cls.__name__} received use_cudnn=True, but cuDNN needs a GPU"):
        layer.build((2, 5, 3))


@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_use_cudnn_false_never_picks_cudnn(monkeypatch, cls):
    monkeypatch.setattr(base, "gpu_available", lambda: True)
    layer = cls(4, use_cudnn=False)
    layer.build((2, 5, 3))
    assert not layer.runs_cudnn
    assert layer.implementation_for(gpu=True) == "fused"


def test_use_cudnn_rejects_other_values():
    with pytest.raises(ValueError, match="GRU received use_cudnn='yes'. Expected 'auto'"):
        GRU(4, use_cudnn="yes")


@pytest.mark.parametrize("cls", LAYERS)
def test_layer_errors_name_the_layer(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=re.escape(f"{name} received units=0") + ".*" + re.escape(f"{name}(units=32)")):
        cls(0)
    with pytest.raises(ValueError, match=re.escape(f"{name} received activation='tanhh'")):
        cls(4, activation="tanhh")


# --- Keras' `implementation` ----------------------------------------------

GATED = [GRU, LSTM, GRUCell, LSTMCell]


@pytest.mark.parametrize("implementation", [0, 1, 2])
@pytest.mark.parametrize("cls", GATED)
def test_implementation_is_accepted_and_in_config(cls, implementation):
    layer = cls(4, implementation=implementation)
    cell = getattr(layer, "cell", layer)
    # Stored on the cell, as Keras does; the layer forwards it.
    assert cell.implementation == layer.implementation == implementation
    assert layer.get_config()["implementation"] == implementation
    assert cls.from_config(layer.get_config()).implementation == implementation


@pytest.mark.parametrize("cls", GATED)
def test_recurrent_dropout_sets_implementation_1(cls):
    # As keras.layers.GRUCell/LSTMCell: per-gate recurrent masks need mode 1.
    layer = cls(4, recurrent_dropout=0.2, implementation=2)
    assert layer.implementation == 1 and layer.get_config()["implementation"] == 1


@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_keras_config_with_implementation_loads(cls):
    # Keras leaves implementation out of its configs, but its own tests load
    # one that has it (the legacy 0); ours and the built-in read each other's.
    config = BUILT_IN[cls](4).get_config()
    for implementation in (0, 1):
        config["implementation"] = implementation
        assert cls.from_config(config).implementation == implementation
    ours = cls(4, implementation=1, use_cudnn=False).get_config()
    assert BUILT_IN[cls].from_config(ours).cell.implementation == 1


@pytest.mark.parametrize("value", [3, -1, "2", True, None])
@pytest.mark.parametrize("cls", GATED)
def test_implementation_rejects_other_values(cls, value):
    name = cls.__name__
    message = (
        f"{name} received implementation={value!r}. Expected 2 (the default: one matmul "
        "for all gates, one dropout mask), 1 (one matmul and one dropout mask per gate) "
        f"or 0 (a legacy value, run as 2), e.g. {name}(units=32, implementation=1)."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        cls(4, implementation=value)


@pytest.mark.parametrize("cls, ref", [(ElmanRNN, keras.layers.SimpleRNN), (ElmanCell, keras.layers.SimpleRNNCell)])
@pytest.mark.parametrize("argument", ["implementation", "use_cudnn"])
def test_elman_rejects_what_simple_rnn_rejects(cls, ref, argument):
    # keras.layers.SimpleRNN has neither argument: the base Layer rejects it.
    with pytest.raises(ValueError) as keras_error:
        ref(4, **{argument: 1})
    expected = str(keras_error.value).replace(ref.__name__, cls.__name__)
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        cls(4, **{argument: 1})


@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_per_gate_dropout_trains_in_the_generic_loop(fused_calls, cls):
    # Mode 1 masks each gate's inputs apart, which the fused loop cannot.
    layer = cls(3, implementation=1, dropout=0.3, seed=1)
    inputs = random_inputs(2, 4, 3)
    layer(inputs, training=True)
    assert fused_calls == []
    layer(inputs, training=False)
    assert fused_calls == [FUSED_LOOP[cls]]


# --- `use_cudnn` only where there is a cuDNN path -------------------------


def test_elman_rnn_has_no_use_cudnn():
    # keras.layers.Bidirectional copies `use_cudnn` when a layer has one.
    assert not hasattr(ElmanRNN(4), "use_cudnn")
    assert "use_cudnn" not in ElmanRNN(4).get_config()


@pytest.mark.parametrize("cls", [GRU, LSTM])
@pytest.mark.parametrize("use_cudnn", ["auto", True, False])
def test_gated_layers_keep_use_cudnn(cls, use_cudnn):
    layer = cls(4, use_cudnn=use_cudnn)
    assert layer.use_cudnn == use_cudnn
    assert cls.from_config(layer.get_config()).use_cudnn == use_cudnn
    bidirectional = keras.layers.Bidirectional(layer)
    assert bidirectional.forward_layer.use_cudnn == bidirectional.backward_layer.use_cudnn == use_cudnn


def test_bidirectional_elman_rnn_builds_and_round_trips():
    layer = keras.layers.Bidirectional(ElmanRNN(4, return_sequences=True))
    inputs = random_inputs(2, 5, 3)
    outputs = layer(inputs)
    assert tuple(outputs.shape) == (2, 5, 8)
    assert not hasattr(layer.forward_layer, "use_cudnn")
    revived = keras.layers.deserialize(keras.layers.serialize(layer))
    revived.build(inputs.shape)
    revived.set_weights(layer.get_weights())
    assert type(revived.backward_layer) is ElmanRNN
    assert revived.get_config() == layer.get_config()
    np.testing.assert_allclose(revived(inputs), outputs, rtol=1e-6, atol=1e-6)


# --- Documentation --------------------------------------------------------


def _documented_arguments(cls):
    """`{argument: its description}` from the `Args:` section of `cls`'s docstring."""
    section = cls.__doc__.split("\n    Args:\n")[1].split("\n\n")[0]
    entries = re.split(r"\n        (?=\*{0,2}\w+: )", "\n" + section)
    return {
        entry.split(":")[0].strip(): " ".join(entry.split(":", 1)[1].split())
        for entry in entries if entry.strip()
    }


def _defaults(cls):
    """`{argument: default}` of every constructor argument of `cls`, `units` first."""
    cell_class = cls if cls in CELLS else cls.cell_class
    defaults = {"units": None}
    for klass in reversed(cell_class.__mro__[: cell_class.__mro__.index(base.RecurrentCell) + 1]):
        defaults.update(_constructor_defaults(klass))
    if cls in LAYERS:
        defaults.update(_constructor_defaults(base.RecurrentLayer))
        # Taken through **kwargs: by the base Layer, and by the layer when
        # it has a cuDNN path.
        defaults["activity_regularizer"] = None
        if cls.cudnn_capable:
            defaults["use_cudnn"] = "auto"
    return defaults


def _quoted(value):
    return f'`"{value}"`' if isinstance(value, str) else f"`{value!r}`"


@pytest.mark.parametrize("cls", [*LAYERS, *CELLS])
def test_every_argument_is_documented_with_its_default(cls):
    # As keras.layers.GRU's docstring: each argument, each default, no lumping.
    documented, defaults = _documented_arguments(cls), _defaults(cls)
    assert set(documented) == {*defaults, "**kwargs"}
    for name, default in defaults.items():
        if name != "units":
            assert f"Default: {_quoted(default)}" in documented[name], f"{cls.__name__}({name}=...)"
    assert "\n    Example:\n    >>> " in cls.__doc__
