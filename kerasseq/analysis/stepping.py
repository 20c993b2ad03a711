"""Stepping a model's recurrent layer by hand, as `gradient_flow` and
`gate_trace` do: finding the layer, and the sequences it reads."""

from kerasseq.validation import ArgumentError


def stateless(model):
    """`model`, or where it has stateful layers a copy without state (its
    inputs of any batch size), with the same weights: analyses step from
    zero states, and a stateful layer only takes its own batch size."""
    import keras

    if not any(getattr(candidate, "stateful", False) for candidate in model._flatten_layers()):
        return model

    def strip(value):
        if isinstance(value, dict):
            return {k: False if k == "stateful" else [None, *v[1:]] if k == "batch_shape" and v else strip(v)
                    for k, v in value.items()}
        return [strip(v) for v in value] if isinstance(value, list) else value

    copy = type(model).from_config(strip(model.get_config()))
    copy.set_weights(model.get_weights())
    if getattr(model, "loss", None) is not None:
        # The loss is what gradient_flow differentiates.
        copy.compile(loss=model.loss)
    return copy


def analysed(model, layer, *, owner):
    """`(model, layer)`: the model to step and its recurrent layer named or
    given by `layer` (default: the first). The model is `model` itself, its
    first member if it is an ensemble whose members hold the recurrent
    layers (compiled with the ensemble's loss), and a `stateless` copy of
    either where they have stateful layers."""
    from kerasseq.layers.base import RecurrentLayer

    if layer is None and not any(isinstance(c, RecurrentLayer) for c in model.layers):
        # An ensemble (`build_ensemble`) holds its members as layers.
        member = next((c for c in model.layers if hasattr(c, "layers")
                       and any(isinstance(d, RecurrentLayer) for d in c.layers)), None)
        if member is not None:
            if getattr(member, "loss", None) is None and getattr(model, "loss", None) is not None:
                member.compile(loss=model.loss)
            model = member
    copy = stateless(model)
    if copy is not model and layer is not None and not isinstance(layer, str):
        layer = layer.name
    return copy, recurrent_layer(copy, layer, owner=owner)


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
                                     "wrapper or a nested model (e.g. Bidirectional), which it cannot step "
                                     "by hand. Pass a model whose recurrent layer is at its top level, e.g. "
                                     "one trained without --bidirectional.")
    return found[0]


def layer_sequences(model, layer, inputs, *, owner, padded=False):
    """`(feed, sequences, mask)`: `inputs` as a list of tensors, the
    sequences `layer` reads from them, `(batch, steps, features)`, and
    their mask `(batch, steps)` (None without padding), in the order the
    layer reads them (reversed with `go_backwards`). Padded sequences are
    refused unless `padded`."""
    import keras
    import tensorflow as tf

    feed = [tf.convert_to_tensor(x) for x in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    # Keras passes a propagated mask as the call's `mask` keyword: a tensor
    # of the graph like the sequences.
    call = layer._inbound_nodes[0].arguments
    symbolic = [call.args[0] if call.args else call.kwargs["sequences"]]
    if call.kwargs.get("mask") is not None:
        symbolic.append(call.kwargs["mask"])
    prefix = keras.Model(model.inputs, symbolic)
    computed = prefix(feed if len(feed) > 1 else feed[0], training=False)
    sequences, mask = (computed[0], computed[1]) if len(symbolic) > 1 else (computed, None)
    if isinstance(sequences, (list, tuple)):
        sequences = sequences[0]
    mask = getattr(sequences, "_keras_mask", None) if mask is None else tf.cast(mask, "bool")
    if mask is not None and bool(tf.reduce_all(mask)):
        mask = None
    if mask is not None and not padded:
        raise ArgumentError("inputs", f"{owner} received padded sequences (a mask reaches {layer.name}). "
                                      "Pass sequences of one length without padding, e.g. one text at "
                                      "a time.")
    if layer.go_backwards:
        sequences = tf.reverse(sequences, [1])
        mask = None if mask is None else tf.reverse(mask, [1])
    return feed, sequences, mask


def zero_states(cell, batch, dtype):
    """The cell's initial states: zeros, one tensor per state."""
    import tensorflow as tf

    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return [tf.zeros((batch, size), dtype) for size in sizes]
