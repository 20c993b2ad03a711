"""Stepping a model's recurrent layer by hand, as `gradient_flow` and
`gate_trace` do: finding the layer, and the sequences it reads."""

from kerasseq.validation import ArgumentError


def recurrent_layer(model, layer, *, owner):
    """The kerasseq recurrent layer of `model` named or given by `layer`
    (default: the first), at the model's top level."""
    from kerasseq.layers.base import RecurrentLayer

    # Top-level layers first: the default is the first of those.
    nested = [candidate for candidate in model._flatten_layers(include_self=False)
              if isinstance(candidate, RecurrentLayer)]
    found = [c for c in nested if c in model.layers] + [c for c in nested if c not in model.layers]
    if isinstance(layer, str):
        found = [candidate for candidate in found if candidate.name == layer]
    elif layer is not None:
        found = [candidate for candidate in found if candidate is layer]
    if not found:
        raise ArgumentError("layer", f"{owner} received layer={getattr(layer, 'name', layer)!r}, but "
                                     f"{model.name!r} has no such kerasseq recurrent layer (ElmanRNN, GRU "
                                     "or LSTM) at its top level. Pass one of "
                                     f"{[l.name for l in model.layers if isinstance(l, RecurrentLayer)]}.")
    if found[0] not in model.layers:
        raise ArgumentError("layer", f"{owner} received a model whose layer {found[0].name!r} is inside a "
                                     "wrapper or a nested model (e.g. Bidirectional). Pass a model whose "
                                     "recurrent layer is at its top level.")
    return found[0]


def layer_sequences(model, layer, inputs, *, owner):
    """`(feed, sequences)`: `inputs` as a list of tensors, and the
    sequences `layer` reads from them, `(batch, steps, features)`, in the
    order it reads them (reversed with `go_backwards`)."""
    import keras
    import tensorflow as tf

    feed = [tf.convert_to_tensor(x) for x in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    prefix = keras.Model(model.inputs, layer.input)
    sequences = prefix(feed if len(feed) > 1 else feed[0], training=False)
    mask = getattr(sequences, "_keras_mask", None)
    if mask is not None and not bool(tf.reduce_all(mask)):
        raise ArgumentError("inputs", f"{owner} received padded sequences (a mask reaches {layer.name}). "
                                      "Pass sequences of one length without padding, e.g. one text at "
                                      "a time.")
    if layer.go_backwards:
        sequences = tf.reverse(sequences, [1])
    return feed, sequences


def zero_states(cell, batch, dtype):
    """The cell's initial states: zeros, one tensor per state."""
    import tensorflow as tf

    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return [tf.zeros((batch, size), dtype) for size in sizes]
