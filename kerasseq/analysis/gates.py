"""Gate traces: the values of a GRU's update and reset gates, or an LSTM's
input, forget and output gates, at every step of one sequence, and a
heatmap of them (e.g. a sentiment model's gates around a negation).

Example:
>>> trace = gate_trace(model, ["the plot was not good at all"])  # doctest: +SKIP
>>> trace["gates"]["update"].shape  # (steps, units)  # doctest: +SKIP
"""

import numpy as np

from kerasseq.analysis.stepping import analysed
from kerasseq.analysis.stepping import directions
from kerasseq.analysis.stepping import layer_sequences
from kerasseq.analysis.stepping import reading_order
from kerasseq.analysis.stepping import zero_states
from kerasseq.validation import ArgumentError


def gate_trace(model, inputs, *, layer=None, direction=None):
    """Steps a GRU or LSTM layer over one sequence, keeping its gates.

    Args:
        model: a functional Keras model with a kerasseq `GRU` or `LSTM`
            (or `Bidirectional` of one), or an ensemble of such models (its
            first member is read).
        inputs: a batch of one input (one window, one text, one row of ids).
        layer: the layer (or its name); default: the first recurrent layer.
        direction: of a `Bidirectional` layer, "forward" (default) or
            "backward".

    Returns:
        `{"layer": name, "cell": "gru" | "lstm", "go_backwards": bool,
        "gates": {gate: array (steps, units)}}`: for a GRU `update` (z, the
        share of the previous state kept) and `reset` (r); for an LSTM
        `input`, `forget` and `output`; steps in the order the layer reads
        them (from the last with `go_backwards`, or for the backward
        direction).
    """
    owner = "gate_trace"
    model, layer = analysed(model, layer, owner=owner)
    pairs, chosen = directions(layer, direction, owner=owner)
    reader, backwards = pairs[chosen]
    cell = reader.cell
    if not hasattr(cell, "step_with_gates"):
        raise ArgumentError("layer", f"{owner} received {layer.name!r} ({type(reader).__name__}), which has "
                                     "no gates. Pass a model (or layer=) with a kerasseq GRU or LSTM.")
    _, sequences, _ = layer_sequences(model, layer, inputs, owner=owner)
    sequences, _ = reading_order(sequences, None, backwards)
    if int(sequences.shape[0]) != 1:
        raise ArgumentError("inputs", f"{owner} received a batch of {int(sequences.shape[0])} sequences. "
                                      "Pass one, e.g. inputs[:1].")
    states = zero_states(cell, 1, sequences.dtype)
    kept = {}
    for t in range(int(sequences.shape[1])):
        new_states, gates = cell.step_with_gates(sequences[:, t], states, training=False)
        states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        for name, value in gates.items():
            if name != "candidate":
                kept.setdefault(name, []).append(np.asarray(value)[0])
    cell_name = "lstm" if "forget" in kept else "gru"
    return {"layer": layer.name, "cell": cell_name, "go_backwards": bool(backwards),
            "gates": {name: np.stack(values) for name, values in kept.items()}}


def plot_gate_trace(trace, path, *, labels=None, title=None):
    """One heatmap per gate: units down, steps across, values 0 to 1.

    Args:
        trace: a `gate_trace` result.
        path: PNG file to write.
        labels: optional step labels (e.g. the tokens), one per step.
        title: optional title.
    """
    from kerasseq.analysis.reports import _pyplot

    gates = trace["gates"]
    steps = len(next(iter(gates.values())))
    if labels is not None and len(labels) != steps:
        raise ArgumentError("labels", f"plot_gate_trace received {len(labels)} labels for {steps} steps. "
                                      "Pass one label per step, or labels=None.")
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(len(gates), 1, figsize=(max(6, 0.35 * steps), 2.2 * len(gates)),
                                   squeeze=False)
    for axis, (name, values) in zip(axes[:, 0], gates.items()):
        image = axis.imshow(values.T, aspect="auto", vmin=0, vmax=1, cmap="viridis")
        axis.set_ylabel(f"{name}\nunit")
        if labels is not None:
            axis.set_xticks(range(steps))
            axis.set_xticklabels(labels, rotation=90, fontsize=8)
        figure.colorbar(image, ax=axis)
    axes[0, 0].set_title(title or f"Gates of {trace['layer']} ({trace['cell'].upper()})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
