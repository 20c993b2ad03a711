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

from kerasseq.analysis.stepping import layer_sequences
from kerasseq.analysis.stepping import recurrent_layer
from kerasseq.analysis.stepping import zero_states
from kerasseq.validation import ArgumentError


def gradient_flow(model, inputs, targets=None, *, layer=None):
    """The loss gradient at each hidden state of a recurrent layer.

    Args:
        model: a functional Keras model with a kerasseq recurrent layer
            (`ElmanRNN`, `GRU` or `LSTM`, not wrapped in `Bidirectional`).
        inputs: a batch of the model's inputs, e.g. windows or texts.
        targets: the batch's targets: the loss is the model's compiled
            loss, summed over the samples (so each sample's gradient is
            that of its own loss). None: the loss is the sum of the
            model's outputs.
        layer: the layer (or its name) to look into; default: the model's
            first kerasseq recurrent layer.

    Returns:
        A dict of NumPy arrays: `grad_norm` `(batch, T)`, ||dL/dh_t|| for
        each sample and step (steps in the order the layer reads them:
        from the end with `go_backwards`); `mean`, its mean over the batch; `jacobian_norm`
        `(batch, T - 1)`, the largest singular value of dh_t/dh_{t-1} for
        t = 2..T (for an LSTM at fixed cell state c_{t-1}); and
        `jacobian_mean`.
    """
    import keras
    import tensorflow as tf

    owner = "gradient_flow"
    layer = recurrent_layer(model, layer, owner=owner)
    if targets is not None and getattr(model, "loss", None) is None:
        raise ArgumentError("targets", f"{owner} received targets for a model that is not compiled, so "
                                       "it has no loss. Compile the model, or pass targets=None for the "
                                       "gradient of the sum of its outputs.")
    feed, sequences = layer_sequences(model, layer, inputs, owner=owner)
    suffix = keras.Model([*model.inputs, layer.output], model.outputs)
    batch, steps = int(sequences.shape[0]), int(sequences.shape[1])
    cell = layer.cell
    states = zero_states(cell, batch, sequences.dtype)
    hidden, jacobians, outputs = [], [], []
    with tf.GradientTape(persistent=True) as tape:
        for t in range(steps):
            with tf.GradientTape() as step_tape:
                step_tape.watch(states[0])
                _, new_states = cell(sequences[:, t], states, training=False)
                new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            if t > 0:
                jacobians.append(_spectral_norms(step_tape.batch_jacobian(new_states[0], states[0])))
            states = new_states
            tape.watch(states[0])
            hidden.append(states[0])
            # Every kerasseq cell outputs its hidden state: the same tensor,
            # so the gradient at h_t takes both of its paths.
            outputs.append(states[0])
        # With go_backwards, Keras returns the sequence in the order it read it.
        result = tf.stack(outputs, axis=1) if layer.return_sequences else outputs[-1]
        predictions = suffix([*feed, result], training=False)
        predictions = predictions[0] if isinstance(predictions, (list, tuple)) else predictions
        if targets is None:
            loss = tf.reduce_sum(predictions)
        else:
            loss = model.compute_loss(x=None, y=targets, y_pred=predictions) * batch
    gradients = tape.gradient(loss, hidden)
    del tape
    norms = np.stack([tf.norm(g, axis=-1).numpy() for g in gradients], axis=1)
    jacobian_norms = np.stack(jacobians, axis=1) if jacobians else np.zeros((batch, 0))
    return {"grad_norm": norms, "mean": norms.mean(axis=0), "jacobian_norm": jacobian_norms,
            "jacobian_mean": jacobian_norms.mean(axis=0)}


def plot_gradient_flow(flows, path, *, title=None):
    """||dL/dh_t|| over t on a log scale, one curve per model.

    Args:
        flows: dict of a model's name to its `gradient_flow` result.
        path: PNG file to write.
        title: optional title.
    """
    from kerasseq.analysis.reports import _pyplot

    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(7, 4))
    for name, flow in flows.items():
        axis.plot(np.arange(1, len(flow["mean"]) + 1), flow["mean"], label=name)
    axis.set_yscale("log")
    axis.set_xlabel("time step t (the loss is read after the last)")
    axis.set_ylabel("mean ||dL/dh_t||")
    axis.set_title(title or "Gradient flow through time")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def _spectral_norms(jacobians):
    import tensorflow as tf

    return tf.linalg.svd(jacobians, compute_uv=False)[:, 0].numpy()
