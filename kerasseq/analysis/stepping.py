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
    if layer is None and not any(_is_recurrent(c) for c in model.layers):
        # An ensemble (`build_ensemble`) holds its members as layers.
        member = next((c for c in model.layers if hasattr(c, "layers")
                       and any(_is_recurrent(d) for d in c.layers)), None)
        if member is not None:
            if getattr(member, "loss", None) is None and getattr(model, "loss", None) is not None:
                member.compile(loss=model.loss)
            model = member
    copy = stateless(model)
    if copy is not model and layer is not None and not isinstance(layer, str):
        layer = layer.name
    return copy, recurrent_layer(copy, layer, owner=owner)


def _is_recurrent(candidate):
    import keras

    from kerasseq.layers.base import RecurrentLayer

    return isinstance(candidate, RecurrentLayer) or (
        isinstance(candidate, keras.layers.Bidirectional)
        and isinstance(candidate.forward_layer, RecurrentLayer))


def recurrent_layer(model, layer, *, owner):
    """The recurrent layer of `model` named or given by `layer` (default:
    the first) at the model's top level: a kerasseq `ElmanRNN`, `GRU` or
    `LSTM`, or a `Bidirectional` wrapping one."""
    candidates = [c for c in model.layers if _is_recurrent(c)]
    found = candidates
    if isinstance(layer, str):
        found = [c for c in candidates if c.name == layer]
    elif layer is not None:
        found = [c for c in candidates if c is layer]
    if not found:
        raise ArgumentError("layer", f"{owner} received layer={getattr(layer, 'name', layer)!r}, but "
                                     f"{model.name!r} has no such kerasseq recurrent layer (ElmanRNN, GRU "
                                     "or LSTM, or Bidirectional of one) at its top level. Pass one of "
                                     f"{[c.name for c in candidates]}.")
    return found[0]


def directions(layer, direction, *, owner):
    """`(sublayers, chosen)`: the layers that read the sequences, each with
    whether it reads them backwards (a `Bidirectional`'s forward and
    backward layers, or the layer itself), and the index of `direction`
    ("forward" or "backward"; None: the first)."""
    import keras

    if isinstance(layer, keras.layers.Bidirectional):
        pairs = [(layer.forward_layer, layer.forward_layer.go_backwards),
                 (layer.backward_layer, layer.backward_layer.go_backwards)]
        names = ["forward", "backward"]
    else:
        pairs = [(layer, layer.go_backwards)]
        names = ["forward"]
    if direction is None:
        return pairs, 0
    if direction not in names:
        reads = "reads both ways" if len(names) == 2 else "reads in one direction"
        raise ArgumentError("direction", f"{owner} received direction={direction!r} for {layer.name!r}, which "
                                         f"{reads}. Pass one of {names}.")
    return pairs, names.index(direction)


def layer_sequences(model, layer, inputs, *, owner, padded=False):
    """`(feed, sequences, mask)`: `inputs` as a list of tensors, the
    sequences `layer` reads from them, `(batch, steps, features)`, and
    their mask `(batch, steps)` (None without padding), in time order.
    Padded sequences are refused unless `padded`."""
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
    return feed, sequences, mask


def reading_order(sequences, mask, backwards):
    """`sequences` and `mask` in the order a layer reads them."""
    import tensorflow as tf

    if not backwards:
        return sequences, mask
    return tf.reverse(sequences, [1]), None if mask is None else tf.reverse(mask, [1])


def zero_states(cell, batch, dtype):
    """The cell's initial states: zeros, one tensor per state."""
    import tensorflow as tf

    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return [tf.zeros((batch, size), dtype) for size in sizes]
