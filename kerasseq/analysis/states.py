"""A recurrent layer's final hidden state for each input: the
representation a model's head reads, e.g. to see how reviews cluster.

Example:
>>> states = final_states(model, test_texts[:2000])  # doctest: +SKIP
>>> cluster_report(states, test_labels[:2000])["labels"]["silhouette"]  # doctest: +SKIP
"""

import numpy as np

from kerasseq.analysis.stepping import analysed
from kerasseq.analysis.stepping import directions
from kerasseq.analysis.stepping import layer_sequences
from kerasseq.validation import check_positive_int


def final_states(model, inputs, *, layer=None, batch_size=128):
    """The hidden state a recurrent layer ends each sequence with.

    Args:
        model: a functional Keras model with a kerasseq recurrent layer at
            its top level (`ElmanRNN`, `GRU` or `LSTM`, or `Bidirectional`
            of one), or an ensemble of such models (its first member).
        inputs: the model's inputs (e.g. windows or texts); texts of
            different lengths are fine: each ends at its own last token.
        layer: the layer (or its name); default: the first recurrent layer.
        batch_size: inputs run through the model at a time.

    Returns:
        A NumPy array `(num_inputs, units)`: for each input the layer's
        hidden state after the last step it read (the last token read,
        the first with `go_backwards`), zeros for a text with no token; of
        a `Bidirectional` layer, the forward and backward final states
        side by side `(num_inputs, 2 * units)`. A stateful layer starts
        from zero states, not from the states it holds.
    """
    owner = "final_states"
    check_positive_int("batch_size", batch_size, owner=owner, example="batch_size=128")
    model, layer = analysed(model, layer, owner=owner)
    pairs, _ = directions(layer, None, owner=owner)
    # Copies that return every step and repeat the last output over
    # padding: their last step read is the final state, whatever the layer
    # returns (zeros after padding with zero_output_for_mask).
    probes = [type(reader).from_config({**reader.get_config(), "return_sequences": True, "return_state": False,
                                        "zero_output_for_mask": False, "stateful": False})
              for reader, _ in pairs]
    chunks = []
    count = len(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
    for start in range(0, count, batch_size):
        part = ([x[start:start + batch_size] for x in inputs] if isinstance(inputs, (list, tuple))
                else inputs[start:start + batch_size])
        _, sequences, mask = layer_sequences(model, layer, part, owner=owner, padded=True)
        finals = []
        for probe, (reader, _) in zip(probes, pairs):
            if not probe.built:
                probe.build(sequences.shape)
                probe.set_weights(reader.get_weights())
            # Keras returns the steps in the order the layer read them.
            finals.append(np.asarray(probe(sequences, mask=mask, training=False)[:, -1]))
        chunks.append(np.concatenate(finals, axis=-1))
    return np.concatenate(chunks)
