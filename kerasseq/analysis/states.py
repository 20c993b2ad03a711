"""A recurrent layer's final hidden state for each input: the
representation a model's head reads, e.g. to see how reviews cluster.

Example:
>>> states = final_states(model, test_texts[:2000])  # doctest: +SKIP
>>> cluster_report(states, test_labels[:2000])["labels"]["silhouette"]  # doctest: +SKIP
"""

import numpy as np

from kerasseq.analysis.stepping import layer_sequences
from kerasseq.analysis.stepping import analysed
from kerasseq.validation import check_positive_int


def final_states(model, inputs, *, layer=None, batch_size=128):
    """The hidden state a recurrent layer ends each sequence with.

    Args:
        model: a functional Keras model with a kerasseq recurrent layer at
            its top level (`ElmanRNN`, `GRU` or `LSTM`).
        inputs: the model's inputs (e.g. windows or texts); texts of
            different lengths are fine: each ends at its own last token.
        layer: the layer (or its name); default: the first recurrent layer.
        batch_size: inputs run through the model at a time.

    Returns:
        A NumPy array `(num_inputs, units)`: for each input the layer's
        hidden state after the last step it read (the last token read,
        the first with `go_backwards`). A stateful layer starts from zero
        states, not from the states it holds.
    """
    import tensorflow as tf

    owner = "final_states"
    check_positive_int("batch_size", batch_size, owner=owner, example="batch_size=128")
    model, layer = analysed(model, layer, owner=owner)
    chunks = []
    count = len(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
    for start in range(0, count, batch_size):
        part = ([x[start:start + batch_size] for x in inputs] if isinstance(inputs, (list, tuple))
                else inputs[start:start + batch_size])
        _, sequences, mask = layer_sequences(model, layer, part, owner=owner, padded=True)
        if layer.go_backwards:
            # The layer reverses again: give it the sequences as the model does.
            sequences = tf.reverse(sequences, [1])
            mask = None if mask is None else tf.reverse(mask, [1])
        outputs = layer(sequences, mask=mask, training=False)
        outputs = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        if layer.return_sequences:
            # Keras returns the steps in the order the layer read them; a
            # padding step repeats the previous output unless
            # zero_output_for_mask, so take the last step read.
            read = np.ones(outputs.shape[:2], bool) if mask is None else np.asarray(mask, bool)
            if layer.go_backwards:
                read = read[:, ::-1]
            last = np.where(read.any(axis=1), read.shape[1] - 1 - np.argmax(read[:, ::-1], axis=1), 0)
            outputs = tf.gather(outputs, last, axis=1, batch_dims=1)
        chunks.append(np.asarray(outputs))
    return np.concatenate(chunks)

