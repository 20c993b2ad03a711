"""Gradient flow through time: how much of the loss gradient reaches each
step of a recurrent layer (backpropagation through time), and how much
each step's recurrent Jacobian shrinks or stretches it.

`gradient_flow` steps the layer's cell by hand over the inputs, watching
every hidden state h_t, and returns ||dL/dh_t|| for t = 1..T and the
spectral norm of dh_t/dh_{t-1}. In an Elman network the first decays
geometrically with the distance from the loss when those norms stay below
1 (vanishing gradients) and grows when they exceed 1 (exploding); the
gates of a GRU or LSTM let it through.

Example:
>>> flow = gradient_flow(model, windows[:32], targets[:32])  # doctest: +SKIP
>>> flow["mean"][:3], flow["mean"][-3:]  # doctest: +SKIP
"""

import numpy as np

from kerasseq.analysis.stepping import analysed
from kerasseq.analysis.stepping import directions
from kerasseq.analysis.stepping import layer_sequences
from kerasseq.analysis.stepping import reading_order
from kerasseq.analysis.stepping import zero_states
from kerasseq.validation import ArgumentError


def gradient_flow(model, inputs, targets=None, *, layer=None, direction=None):
    """The loss gradient at each hidden state of a recurrent layer.

    Args:
        model: a functional Keras model with a kerasseq recurrent layer
            (`ElmanRNN`, `GRU` or `LSTM`, or `Bidirectional` of one), or an
            ensemble of such models (its first member is read).
        inputs: a batch of the model's inputs, e.g. windows or texts.
            Padded sequences (texts of different lengths) are stepped as
            the layer steps them: a padding step keeps the state.
        targets: the batch's targets: the loss is the model's compiled
            loss, summed over the samples (so each sample's gradient is
            that of its own loss). None: the loss is the sum of the
            model's outputs.
        layer: the layer (or its name) to look into; default: the model's
            first kerasseq recurrent layer.
        direction: of a `Bidirectional` layer, "forward" (default) or
            "backward": whose hidden states the norms are of (both
            directions are stepped, as the model's output needs them).

    Returns:
        A dict of NumPy arrays: `grad_norm` `(batch, T)`, ||dL/dh_t|| for
        each sample and step (steps in the order the layer reads them:
        from the end with `go_backwards` or for the backward direction;
        NaN at padding steps); `mean`,
        its mean over the batch (over the samples a step is not padding
        in); `by_distance`, the mean at 0, 1, 2, ... steps before each
        sample's last step (the same as `mean` reversed without padding);
        `steps_read`, each sample's steps that are not padding;
        `jacobian_norm` `(batch, T - 1)`, the largest singular value of
        dh_t/dh_{t-1} for t = 2..T (for an LSTM at fixed cell state
        c_{t-1}, so not comparable with a GRU's; NaN where step t or t - 1
        is padding); and `jacobian_mean`.
    """
    import keras
    import tensorflow as tf

    owner = "gradient_flow"
    model, layer = analysed(model, layer, owner=owner)
    if targets is not None and getattr(model, "loss", None) is None:
        raise ArgumentError("targets", f"{owner} received targets for a model that is not compiled, so "
                                       "it has no loss. Compile the model, or pass targets=None for the "
                                       "gradient of the sum of its outputs.")
    pairs, chosen = directions(layer, direction, owner=owner)
    feed, sequences, mask = layer_sequences(model, layer, inputs, owner=owner, padded=True)
    suffix = keras.Model([*model.inputs, layer.output], model.outputs)
    with tf.GradientTape(persistent=True) as tape:
        runs = [_read(sub, *reading_order(sequences, mask, backwards), tape) for sub, backwards in pairs]
        predictions = suffix([*feed, _layer_output(layer, runs)], training=False)
        if isinstance(predictions, (list, tuple)) and len(predictions) == 1:
            predictions = predictions[0]
        if targets is None:
            loss = tf.add_n([tf.reduce_sum(p) for p in tf.nest.flatten(predictions)])
        else:
            loss = model.compute_loss(x=None, y=targets, y_pred=predictions) * int(sequences.shape[0])
    run = runs[chosen]
    gradients = tape.gradient(loss, run["hidden"])
    del tape
    cell, read, valid = pairs[chosen][0].cell, run["sequences"], run["valid"]
    # One traced function for every step's Jacobian: eager `batch_jacobian`
    # would trace its vectorized loop again at each step.
    jacobian = tf.function(lambda x, states: _spectral_norm(
        _state_jacobian(cell, x, states)), reduce_retracing=True)
    jacobians = [jacobian(read[:, t], run["previous"][t]).numpy() for t in range(1, read.shape[1])]
    norms = np.stack([tf.norm(g, axis=-1).numpy() for g in gradients], axis=1)
    norms[~valid] = np.nan
    jacobian_norms = np.stack(jacobians, axis=1) if jacobians else np.zeros((len(norms), 0))
    # A step after padding starts from the zero state, which a sequence
    # alone has no Jacobian for.
    jacobian_norms[~(valid[:, 1:] & valid[:, :-1])] = np.nan
    return {"grad_norm": norms, "mean": _nanmean(norms), "by_distance": _by_distance(norms, valid),
            "steps_read": valid.sum(axis=1), "jacobian_norm": jacobian_norms,
            "jacobian_mean": _nanmean(jacobian_norms)}


def _read(layer, sequences, mask, tape):
    """Steps `layer`'s cell over `sequences` (in its reading order) as the
    layer does, watching each hidden state on `tape`: a masked step keeps
    the states and repeats the previous output (zeros before the first
    step read), or gives zeros with `zero_output_for_mask`, as Keras' RNN."""
    import tensorflow as tf

    batch, steps = int(sequences.shape[0]), int(sequences.shape[1])
    valid = np.ones((batch, steps), bool) if mask is None else np.asarray(mask, bool)
    states = zero_states(layer.cell, batch, sequences.dtype)
    output = tf.zeros_like(states[0])
    hidden, previous, outputs = [], [], []
    for t in range(steps):
        previous.append(states)
        new_states = _step(layer.cell, sequences[:, t], states)
        if mask is not None:
            new_states = [tf.where(mask[:, t, None], new, old) for new, old in zip(new_states, states)]
        states = new_states
        tape.watch(states[0])
        hidden.append(states[0])
        # Every kerasseq cell outputs its hidden state: the same tensor, so
        # the gradient at h_t takes both of its paths.
        if mask is None:
            output = states[0]
        else:
            fill = tf.zeros_like(output) if layer.zero_output_for_mask else output
            output = tf.where(mask[:, t, None], states[0], fill)
        outputs.append(output)
    if mask is None:
        last = states[0]
    else:
        kept = valid[:, -1] if layer.zero_output_for_mask else valid.any(axis=1)
        last = tf.where(kept[:, None], states[0], tf.zeros_like(states[0]))
    # With go_backwards, Keras returns the sequence in the order it read it.
    return {"hidden": hidden, "previous": previous, "sequences": sequences, "valid": valid,
            "output": tf.stack(outputs, axis=1) if layer.return_sequences else last}


def _layer_output(layer, runs):
    """The output of `layer` from the runs of its directions, as Keras'
    `Bidirectional` merges them."""
    import tensorflow as tf

    if len(runs) == 1:
        return runs[0]["output"]
    forward, backward = runs[0]["output"], runs[1]["output"]
    if layer.return_sequences:
        backward = tf.reverse(backward, [1])
    merge = {"concat": lambda a, b: tf.concat([a, b], -1), "sum": tf.add, "ave": lambda a, b: (a + b) / 2,
             "mul": tf.multiply}
    if layer.merge_mode not in merge:
        raise ArgumentError("layer", f"gradient_flow received {layer.name!r}, a Bidirectional layer with "
                                     f"merge_mode={layer.merge_mode!r}, whose two outputs it cannot merge as the "
                                     "model does. Pass layer= another recurrent layer; gate_trace and "
                                     "final_states read this one.")
    return merge[layer.merge_mode](forward, backward)


def _nanmean(values):
    """The mean over axis 0 of the entries that are not NaN (NaN where all are)."""
    counts = (~np.isnan(values)).sum(axis=0)
    return np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1), np.nan)


def _by_distance(norms, valid):
    """The mean of `norms` at each distance before each row's last valid step."""
    aligned = np.full(norms.shape, np.nan)
    for row, (values, keep) in enumerate(zip(norms, valid)):
        read = values[keep]
        aligned[row, :len(read)] = read[::-1]
    return _nanmean(aligned)


def plot_gradient_flow(flows, path, *, title=None, by="step"):
    """||dL/dh_t|| over t on a log scale, one curve per model.

    Args:
        flows: dict of a model's name to its `gradient_flow` result.
        path: PNG file to write.
        title: optional title.
        by: "step" (t = 1..T, the loss read after the last) or
            "distance" (steps before each sequence's last step; for
            sequences of different lengths).
    """
    from kerasseq.analysis.reports import _pyplot

    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(7, 4))
    if by not in ("step", "distance"):
        raise ArgumentError("by", f"plot_gradient_flow received by={by!r}. Pass by='step' or by='distance'.")
    key = "mean" if by == "step" else "by_distance"
    for name, flow in flows.items():
        curve = np.asarray(flow[key])
        axis.plot(np.arange(1, len(curve) + 1) if by == "step" else np.arange(len(curve)), curve, label=name)
    axis.set_yscale("log")
    axis.set_xlabel("time step t (the loss is read after the last)" if by == "step"
                    else "steps before the sequence's last step")
    axis.set_ylabel("mean ||dL/dh_t||")
    axis.set_title(title or "Gradient flow through time")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def _step(cell, x, states):
    _, new_states = cell(x, states, training=False)
    return list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]


def _state_jacobian(cell, x, states):
    """dh_t/dh_{t-1} `(batch, units, units)` at `states` (other states fixed)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(states[0])
        hidden = _step(cell, x, states)[0]
    return tape.batch_jacobian(hidden, states[0])


def _spectral_norm(jacobians):
    import tensorflow as tf

    return tf.linalg.svd(jacobians, compute_uv=False)[:, 0]
