"""What the Elman, GRU and LSTM cells and layers share.

`RecurrentCell` holds the constructor arguments, weights and dropout masks
common to all three cells. `RecurrentLayer` is the thin `keras.layers.RNN`
subclass behind `ElmanRNN`, `GRU` and `LSTM`: it builds the cell from the
layer's keyword arguments, forwards the cell's arguments as read-only
properties (as the Keras layers do, written once here), checks inputs and
states, and picks the implementation that runs the loop:

- `"cudnn"`: the fused cuDNN kernel, on a GPU, for configurations it supports;
- `"fused"`: our TensorFlow loop with hand-written BPTT (`fused_loops`);
- `"generic"`: `keras.layers.RNN` stepping the cell's `call` (other backends,
  `unroll=True`, recurrent dropout or per-gate dropout masks while
  training, activations outside `FUSED_ACTIVATIONS`).
"""

import contextlib
import inspect
import threading

import keras
from keras import activations
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from keras.src.utils.naming import to_snake_case

from kerasseq.validation import check_positive_int
from kerasseq.validation import check_rate

# Activations whose derivative follows from their output: the fused loop
# stores outputs only. Others run through the generic Keras loop.
FUSED_ACTIVATIONS = frozenset({"tanh", "sigmoid", "relu", "linear"})


def get_activation(owner, name, value):
    """`keras.activations.get` with an error that names the argument."""
    try:
        return activations.get(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{owner} received {name}={value!r}, which is not a known "
            "activation. Pass a name from keras.activations (e.g. 'tanh', "
            "'sigmoid', 'relu') or a callable."
        ) from None


def activation_name(fn):
    """The registered name of a Keras activation, or None for other callables."""
    try:
        name = activations.serialize(fn)
    except (ValueError, TypeError):
        return None
    return name if isinstance(name, str) else None


def gpu_available():
    """Whether TensorFlow sees a GPU (False on other backends)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


_PORTABLE = threading.local()


@contextlib.contextmanager
def portable_loops():
    """Within it, recurrent layers trace the fused TensorFlow loop, never the
    cuDNN kernel: a graph traced on a GPU then runs on any device (cuDNN's
    ops have no CPU kernel). `kerasseq.export` traces SavedModels so.

    Example:
    >>> with portable_loops():  # doctest: +SKIP
    ...     concrete = tf.function(model).get_concrete_function(spec)
    """
    before = getattr(_PORTABLE, "active", False)
    _PORTABLE.active = True
    try:
        yield
    finally:
        _PORTABLE.active = before


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base of the recurrent cells: arguments, weights, dropout masks.

    Subclasses set `gates` (weight blocks per kernel) and implement `call`.
    `DropoutRNNCell` is Keras' dropout-mask cache: `keras.layers.RNN` fills
    it before its loop, so each sequence uses one mask at every step.
    """

    gates = 1

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = check_positive_int(
            "units", units, owner=owner, example=f"{owner}(units=32)"
        )
        self.activation = get_activation(owner, "activation", activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = check_rate("dropout", dropout, owner=owner)
        self.recurrent_dropout = check_rate(
            "recurrent_dropout", recurrent_dropout, owner=owner
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        if len(input_shape) != 2:
            owner = type(self).__name__
            raise ValueError(
                f"{owner} received step inputs of shape {tuple(input_shape)}. "
                "A cell takes one time step of rank 2, (batch, features); "
                f"to run it over sequences wrap it: keras.layers.RNN({owner}(...))."
            )
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self.bias_shape(),
                name="bias",
                initializer=self.bias_initializer_for_build(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def bias_shape(self):
        return (self.gates * self.units,)

    def bias_initializer_for_build(self):
        return self.bias_initializer

    def input_bias(self):
        """The bias added to the input projection, or None."""
        return self.bias

    def bias_or_zeros(self, bias):
        """`bias`, or zeros of the fused loops' bias shape when the cell has none."""
        if bias is not None:
            return bias
        return ops.zeros((self.gates * self.units,), dtype=self.compute_dtype)

    def project(self, x, weight, masks):
        """`x @ weight` as a list of gate blocks, `x` through the dropout
        `masks`: one mask, or one per gate block (a list). Blocks are kept
        apart, not concatenated to be split again: in the generic loop that
        is two ops a step fewer."""
        if isinstance(masks, (list, tuple)):
            blocks = ops.split(weight, self.gates, axis=-1)
            return [ops.matmul(x * m, w) for m, w in zip(masks, blocks)]
        if masks is not None:
            x = x * masks
        projected = ops.matmul(x, weight)
        return [projected] if self.gates == 1 else ops.split(projected, self.gates, axis=-1)

    def step_masks(self, inputs, state, training):
        """Dropout masks for this step's inputs and state (None when unused)."""
        input_mask = recurrent_mask = None
        if training and self.dropout:
            input_mask = self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout:
            recurrent_mask = self.get_recurrent_dropout_mask(state)
        return input_mask, recurrent_mask

    def fused_activations(self):
        """The cell's activations, all of which the fused loop must differentiate."""
        return [self.activation]

    def supports_fused_loop(self):
        return all(
            activation_name(fn) in FUSED_ACTIVATIONS
            for fn in self.fused_activations()
        )

    def supports_cudnn(self):
        return False

    def whole_sequence_dropout(self, training):
        """Whether this call's dropout, if any, is one mask on the inputs:
        the only kind the fused and cuDNN loops apply. Recurrent dropout
        and one mask per gate (`implementation=1`) need the generic loop."""
        if not training:
            return True
        per_gate = getattr(self, "dropout_mask_count", None)
        return not self.recurrent_dropout and not (self.dropout and per_gate)

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [ops.zeros((batch_size, s), dtype=self.compute_dtype) for s in sizes]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


def check_implementation(owner, value):
    """Returns Keras' `implementation` argument if it is 0, 1 or 2, else raises.

    Keras 3 reads it as `implementation == 1` (one matmul and one dropout
    mask per gate) or not (one matmul for all gates); 0 is a legacy value
    that Keras' own tests load from old configs, so it is accepted too.
    """
    if isinstance(value, bool) or value not in (0, 1, 2):
        raise ValueError(
            f"{owner} received implementation={value!r}. Expected 2 (the default: "
            "one matmul for all gates, one dropout mask), 1 (one matmul and one "
            "dropout mask per gate) or 0 (a legacy value, run as 2), e.g. "
            f"{owner}(units=32, implementation=1)."
        )
    return int(value)


class GatedCell(RecurrentCell):
    """Base of the gated cells (GRU, LSTM): a gate activation besides the
    main one, and Keras' `implementation` mode."""

    def __init__(self, units, recurrent_activation="sigmoid", implementation=2, **kwargs):
        super().__init__(units, **kwargs)
        owner = type(self).__name__
        self.recurrent_activation = get_activation(
            owner, "recurrent_activation", recurrent_activation
        )
        self.implementation = check_implementation(owner, implementation)
        if self.recurrent_dropout:
            # Keras' GRUCell/LSTMCell switch to mode 1 for recurrent dropout.
            self.implementation = 1
        if self.implementation == 1:
            # One mask per gate, drawn in the order Keras draws them, so a
            # seeded cell drops the same units as the built-in.
            self.dropout_mask_count = self.gates

    def fused_activations(self):
        return [self.activation, self.recurrent_activation]

    def supports_cudnn(self):
        # The configurations Keras sends to cuDNN (Keras' GRU/LSTM docs).
        return (
            activation_name(self.activation) == "tanh"
            and activation_name(self.recurrent_activation) == "sigmoid"
            and self.use_bias
            and not self.recurrent_dropout
        )

    def get_config(self):
        # Keras leaves `implementation` out of its configs; ours keep it, as
        # every constructor argument, so a reloaded cell draws the same masks.
        config = {
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "implementation": self.implementation,
        }
        return {**super().get_config(), **config}


def _cell_arguments(cell_class):
    names = []
    for klass in cell_class.__mro__:
        if klass is keras.layers.Layer:
            break
        if "__init__" in vars(klass):
            for name, param in inspect.signature(klass.__init__).parameters.items():
                if param.kind is param.POSITIONAL_OR_KEYWORD and name not in ("self", "units"):
                    if name not in names:
                        names.append(name)
    return names


class RecurrentLayer(keras.layers.RNN):
    """Base of `ElmanRNN`, `GRU` and `LSTM`: a `keras.layers.RNN` over its cell.

    Subclasses set `cell_class`; every argument of that cell is accepted as a
    keyword and exposed as a read-only property, like the Keras layers.
    """

    cell_class = None
    # Whether a fused cuDNN kernel exists for the cell (GRU, LSTM). Only
    # such layers take and carry Keras' `use_cudnn`: the others reject it,
    # as keras.layers.SimpleRNN does, and have no such attribute, which
    # keras.layers.Bidirectional would copy to its two layers.
    cudnn_capable = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.cell_class is None:
            return
        cls.cell_arguments = _cell_arguments(cls.cell_class)
        for name in ["units", *cls.cell_arguments]:
            if name not in vars(cls):
                setattr(cls, name, property(lambda self, n=name: getattr(self.cell, n)))

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        name = type(self).__name__
        # Checked here too, so that errors name the layer the user called.
        check_positive_int("units", units, owner=name, example=f"{name}(units=32)")
        for argument in ("activation", "recurrent_activation"):
            if argument in kwargs:
                get_activation(name, argument, kwargs[argument])
        if "implementation" in kwargs and "implementation" in self.cell_arguments:
            check_implementation(name, kwargs["implementation"])
        if self.cudnn_capable:
            self.use_cudnn = kwargs.pop("use_cudnn", "auto")
            if self.use_cudnn not in ("auto", True, False):
                raise ValueError(
                    f"{name} received use_cudnn={self.use_cudnn!r}. Expected 'auto' "
                    "(cuDNN on a GPU when the configuration allows), True or False."
                )
        cell_kwargs = {k: kwargs.pop(k) for k in self.cell_arguments if k in kwargs}
        cell = self.cell_class(
            units,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=to_snake_case(self.cell_class.__name__),
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.runs_cudnn = False

    def build(self, sequences_shape, initial_state_shape=None):
        name = type(self).__name__
        if len(sequences_shape) != 3:
            raise ValueError(
                f"{name} received inputs of shape {tuple(sequences_shape)} "
                f"(rank {len(sequences_shape)}). Expected rank 3: (batch, "
                "timesteps, features). Add a time axis, e.g. "
                "x[:, None, :] for one step, or keras.layers.Reshape."
            )
        super().build(sequences_shape, initial_state_shape)
        # Decided once, at build, as Keras does: which kernel runs on a GPU.
        self.runs_cudnn = self.implementation_for(gpu=gpu_available()) == "cudnn"
        if self.cudnn_capable and self.use_cudnn is True and not self.runs_cudnn:
            raise ValueError(
                f"{name} received use_cudnn=True, but cuDNN needs a GPU and tanh/sigmoid "
                "activations, use_bias=True, recurrent_dropout=0, unroll=False (and "
                "reset_after=True for GRU). Pass use_cudnn='auto' to fall back to the "
                "fused TensorFlow loop."
            )
        if self.runs_cudnn:
            # cuDNN ops do not compile with XLA: like keras.layers.GRU, keep
            # `jit_compile="auto"` from compiling the model's train step.
            self.supports_jit = False

    def implementation_for(self, *, gpu, training=False):
        """Which loop runs this layer: `"cudnn"`, `"fused"` or `"generic"`.

        Args:
            gpu: whether a GPU is available.
            training: whether the call is in training mode.
        """
        if keras.backend.backend() != "tensorflow" or self.unroll:
            return "generic"
        if not self.cell.whole_sequence_dropout(training):
            return "generic"
        if (
            gpu
            and self.cudnn_capable
            and self.use_cudnn in ("auto", True)
            and self.cell.supports_cudnn()
        ):
            return "cudnn"
        if not self.cell.supports_fused_loop():
            return "generic"
        return "fused"

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        # A functional model is wired through here, not `call`: check now
        # rather than when the model first runs.
        if initial_state_shape is not None:
            one_state = all(d is None or isinstance(d, int) for d in initial_state_shape)
            self._check_initial_state(
                [tuple(initial_state_shape)] if one_state else [tuple(s) for s in initial_state_shape]
            )
        return super().compute_output_shape(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if keras.backend.standardize_dtype(sequences.dtype) != self.compute_dtype:
            # Integer inputs reach keras.layers.RNN's loop as they are and its
            # matmuls promote them; the fused and cuDNN loops take one dtype.
            # Casting here gives every path the compute dtype, which is also
            # the dtype of keras.layers.RNN's outputs.
            sequences = ops.cast(sequences, self.compute_dtype)
        if initial_state is not None:
            states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            self._check_initial_state([tuple(s.shape) for s in states])
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def _check_initial_state(self, received):
        """Raises unless `received` (one shape per state) matches `state_size`."""
        expected = [(None, size) for size in self.state_size]
        wrong = len(received) != len(expected) or any(
            len(r) != 2 or (r[-1] is not None and r[-1] != e[-1])
            for r, e in zip(received, expected)
        )
        if wrong:
            name = type(self).__name__
            raise ValueError(
                f"{name} received initial_state with shapes {received}. "
                f"Expected {len(expected)} tensor(s) of shape (batch, units) = "
                f"{[('batch', e[-1]) for e in expected]}, one per state "
                f"({'[h, c]' if len(expected) == 2 else '[h]'})."
            )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        portable = getattr(_PORTABLE, "active", False)
        if self.runs_cudnn and not portable and self.cell.whole_sequence_dropout(training):
            try:
                return self.cudnn_loop(
                    self._drop_inputs(sequences, training), initial_state, mask
                )
            except NotImplementedError:
                pass  # e.g. a mask that is not right-padded; Keras falls back too.
        if self.implementation_for(gpu=False, training=training) == "fused":
            return self._fused_loop(sequences, initial_state, mask, training)
        return super().inner_loop(sequences, initial_state, mask=mask, training=training)

    def _drop_inputs(self, sequences, training):
        if training and self.cell.dropout:
            step_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(step_mask, 1)
        return sequences

    def _fused_loop(self, sequences, initial_state, mask, training):
        import tensorflow as tf

        x = tf.transpose(self._drop_inputs(sequences, training), [1, 0, 2])
        if mask is not None:
            mask = tf.transpose(tf.cast(mask, "bool"), [1, 0])[..., None]
        if self.go_backwards:
            x = tf.reverse(x, [0])
            mask = None if mask is None else tf.reverse(mask, [0])
        outputs, states = self.cell.fused_sequence(x, list(initial_state), mask)
        # Without return_sequences only the final states are used, so the
        # backward pass gets no gradient for the whole sequence of outputs.
        last_output = states[0]
        if mask is not None:
            # keras.layers.RNN repeats the previous output at a masked step,
            # which is zeros (not the initial state) before the first
            # unmasked one, or zeros at every masked step with
            # zero_output_for_mask.
            keep = mask
            if not self.zero_output_for_mask:
                keep = tf.cumsum(tf.cast(mask, "int32"), axis=0) > 0
            last_output = tf.where(keep[-1], last_output, tf.zeros_like(last_output))
            if self.return_sequences:
                outputs = tf.where(keep, outputs, tf.zeros_like(outputs))
        if self.return_sequences:
            return last_output, tf.transpose(outputs, [1, 0, 2]), states
        return last_output, last_output[:, None, :], states

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        if self.cudnn_capable:
            cell_config["use_cudnn"] = self.use_cudnn
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
