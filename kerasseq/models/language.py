"""Recurrent language models: the builder, stream evaluation and generation.

`build_language_model` embeds token ids, runs the shared recurrent encoder
over every step and predicts the next token's logits, optionally through
the embedding matrix itself (weight tying). `evaluate_language_model`
scores a whole stream with the state carried from batch to batch, and
`generate` samples text one token at a time; both work on a stateful
copy of the model, so any model the builder made (stateful or not, any
batch size) can be evaluated and sampled.
"""

import weakref

import keras
import numpy as np
from keras import ops

from kerasseq.layers.embedding import TiedEmbedding
from kerasseq.metrics import Perplexity
from kerasseq.models.encoder import recurrent_encoder
from kerasseq.validation import ArgumentError
from kerasseq.validation import check_one_of
from kerasseq.validation import check_positive_int
from kerasseq.validation import check_rate


def build_language_model(
    *,
    vocab_size,
    embedding_dim=200,
    cell="lstm",
    units=200,
    depth=2,
    dropout=0.0,
    tie_weights=False,
    stateful=False,
    batch_size=None,
    optimizer="adam",
    learning_rate=1e-3,
    clipnorm=5.0,
    compile=True,
):
    """A next-token model: embedding, `depth` recurrent layers, softmax logits.

    Dropout is variational (Gal & Ghahramani 2016): one mask per sequence on
    the embeddings, between layers and before the output, never on the
    recurrent state. With `tie_weights` the output logits are the last
    state (projected to `embedding_dim` if `units` differs) times the
    embedding matrix, which saves `vocab_size * units` weights and lowers
    perplexity (Press & Wolf 2017; Inan et al. 2017).

    Args:
        vocab_size: number of token ids.
        embedding_dim: size of the token embeddings.
        cell: "elman", "elman_relu", "gru", "gru_reset_before" or "lstm".
        units: hidden units per recurrent layer.
        depth: stacked recurrent layers.
        dropout: dropout rate on the non-recurrent connections.
        tie_weights: share the embedding matrix with the output layer.
        stateful: carry the state from one batch to the next (truncated
            BPTT over `pipelines.lm.bptt_dataset`); needs `batch_size`.
        batch_size: the fixed batch size of a stateful model.
        optimizer: "adam", or "sgd" (plain gradient descent, as Zaremba et
            al. trained PTB models, e.g. learning_rate=1.0).
        learning_rate: the optimizer's learning rate.
        clipnorm: clip the gradients to this global norm (the remedy for
            exploding gradients); None for no clipping.
        compile: compile with the optimizer, token cross-entropy and
            `Perplexity`.

    Returns:
        A `keras.Model` from int32 ids `(batch, steps)` to logits
        `(batch, steps, vocab_size)`.

    Example:
    >>> model = build_language_model(vocab_size=50, embedding_dim=8, units=8)
    >>> tuple(model.output.shape)
    (None, None, 50)
    """
    owner = "build_language_model"
    vocab_size = check_positive_int("vocab_size", vocab_size, owner=owner, example="vocab_size=10000")
    embedding_dim = check_positive_int("embedding_dim", embedding_dim, owner=owner,
                                       example="embedding_dim=200")
    dropout = check_rate("dropout", dropout, owner=owner)
    if stateful:
        check_positive_int("batch_size", batch_size, owner=owner,
                           example=f"{owner}(..., stateful=True, batch_size=20)")
    inputs = keras.Input((None,), batch_size=batch_size, dtype="int32", name="tokens")
    embedding = (TiedEmbedding(vocab_size, embedding_dim, name="embedding") if tie_weights
                 else keras.layers.Embedding(vocab_size, embedding_dim, name="embedding"))
    x = recurrent_encoder(
        embedding(inputs), cell=cell, units=units, depth=depth, dropout=dropout,
        return_sequences=True, stateful=stateful, owner=owner,
    )
    if dropout:
        x = keras.layers.Dropout(dropout, noise_shape=(None, 1, x.shape[-1]), name="output_dropout")(x)
    if tie_weights:
        if x.shape[-1] != embedding_dim:
            x = keras.layers.Dense(embedding_dim, name="projection")(x)
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocab_size, name="logits")(x)
    model = keras.Model(inputs, logits, name=f"{cell if isinstance(cell, str) else 'rnn'}_lm")
    if compile:
        compile_language_model(model, optimizer=optimizer, learning_rate=learning_rate,
                               clipnorm=clipnorm)
    return model


OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}


def compile_language_model(model, *, optimizer="adam", learning_rate=1e-3, clipnorm=5.0):
    """Compiles `model` with Adam or SGD (global-norm clipping), token
    cross-entropy averaged over the weighted tokens, and `Perplexity`.

    Args:
        model: a model from token ids to next-token logits.
        optimizer: "adam" or "sgd".
        learning_rate: the optimizer's learning rate.
        clipnorm: the global norm gradients are clipped to, or None.

    Returns:
        `model`, compiled.

    Example:
    >>> model = build_language_model(vocab_size=20, embedding_dim=4, units=4, compile=False)
    >>> compile_language_model(model, learning_rate=3e-3).optimizer.global_clipnorm
    5.0
    """
    model.compile(
        optimizer=OPTIMIZERS[check_one_of("optimizer", optimizer, list(OPTIMIZERS),
                                          owner="compile_language_model")](
            learning_rate, global_clipnorm=clipnorm),
        # Padding has weight 0; the mean is over real tokens.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                        reduction="mean_with_sample_weight"),
        weighted_metrics=[Perplexity()],
    )
    return model


def stateful_copy(model, batch_size):
    """A copy of `model` whose recurrent layers are stateful, for batches
    of `batch_size`; it shares no variables with `model`.

    Args:
        model: a functional model, e.g. from `build_language_model`.
        batch_size: the copy's fixed batch size.

    Returns:
        A `keras.Model` with `model`'s weights, its states at zero.

    Example:
    >>> model = build_language_model(vocab_size=20, embedding_dim=4, units=4)
    >>> copy = stateful_copy(model, batch_size=2)
    >>> copy.input_shape, copy.get_layer("lstm_0").stateful
    ((2, None), True)
    """
    return _copy(model, batch_size=batch_size, stateful=True, owner="stateful_copy")


def stateless_copy(model):
    """A copy of `model` whose recurrent layers start from zero states on
    every call, for batches of any size (serving); it shares no variables.

    Example:
    >>> model = build_language_model(vocab_size=20, embedding_dim=4, units=4, stateful=True, batch_size=2)
    >>> copy = stateless_copy(model)
    >>> copy.input_shape, copy.get_layer("lstm_0").stateful
    ((None, None), False)
    """
    return _copy(model, batch_size=None, stateful=False, owner="stateless_copy")


def _copy(model, *, batch_size, stateful, owner):
    config = model.get_config()
    if "layers" not in config:
        raise ValueError(f"{owner} received {type(model).__name__} {model.name!r}, which is not a "
                         "functional model. Build it with build_language_model or keras.Model(inputs, outputs).")
    for layer in config["layers"]:
        # Built again when the copy's graph calls them, for the new batch size.
        layer.pop("build_config", None)
        layer_config = layer["config"]
        if layer["class_name"] == "InputLayer":
            layer_config["batch_shape"] = [batch_size, *layer_config["batch_shape"][1:]]
        elif "stateful" in layer_config:
            layer_config["stateful"] = stateful
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return copy


# A model's stateful copies by batch size, with their traced next-token
# function: made once, so that generating again costs no new graph.
_RUNNERS = weakref.WeakKeyDictionary()


def _runner(model, batch_size):
    """`model`'s stateful copy for `batch_size`, its weights refreshed and
    states zeroed, with traced functions: `last_logits(x)`, the logits
    after the last id of row 0, and `score(x, y, weights)`, the summed
    weighted cross-entropy."""
    import tensorflow as tf

    runners = _RUNNERS.setdefault(model, {})
    if batch_size not in runners:
        copy = stateful_copy(model, batch_size)

        @tf.function(reduce_retracing=True)
        def last_logits(x):
            return ops.cast(copy(x, training=False)[0, -1], "float64")

        @tf.function(reduce_retracing=True)
        def score(x, y, weights):
            entropy = keras.losses.sparse_categorical_crossentropy(
                y, ops.cast(copy(x, training=False), "float32"), from_logits=True
            )
            return tf.reduce_sum(tf.cast(entropy, "float64") * tf.cast(weights, "float64"))

        runners[batch_size] = {"copy": copy, "last_logits": last_logits, "score": score}
    runner = runners[batch_size]
    # The model may have trained since the copy was made.
    runner["copy"].set_weights(model.get_weights())
    reset_states(runner["copy"])
    return runner


def reset_states(model):
    """Zeros the state of every stateful layer of `model`."""
    for layer in model._flatten_layers(include_self=False):
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_states"):
            layer.reset_states()


class ResetStates(keras.callbacks.Callback):
    """Zeros a stateful model's states at the start of every epoch and
    around every evaluation, so that validation starts fresh and training
    does not continue from the validation text.

    Example:
    >>> model.fit(bptt_dataset(ids), epochs=3, callbacks=[ResetStates()])  # doctest: +SKIP
    """

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)

    def on_test_begin(self, logs=None):
        reset_states(self.model)

    def on_test_end(self, logs=None):
        reset_states(self.model)


def evaluate_language_model(model, ids, *, batch_size=20, seq_len=35):
    """Scores every token of a stream, the state carried across batches.

    The stream is read as `batch_size` contiguous rows (padding masked),
    so each token after the first is predicted once, from everything
    before it in its row.

    Args:
        model: a language model (stateful or not).
        ids: a 1-D stream of token ids.
        batch_size: rows read side by side.
        seq_len: steps per batch.

    Returns:
        `{"nats_per_token", "perplexity", "tokens"}`; `tokens` is the
        number of tokens predicted (`len(ids) - 1`).

    Example:
    >>> model = build_language_model(vocab_size=20, embedding_dim=4, units=4)
    >>> scores = evaluate_language_model(model, np.arange(20), batch_size=2, seq_len=5)
    >>> scores["tokens"], round(scores["perplexity"]) == 20  # untrained: about uniform
    (19, True)
    """
    import tensorflow as tf

    from pipelines.lm import bptt_dataset

    check_vocabulary(model, int(np.max(ids)) + 1 if len(ids) else 0)
    score = _runner(model, batch_size)["score"]
    total, count = 0.0, 0.0
    for x, y, weights in bptt_dataset(ids, batch_size=batch_size, seq_len=seq_len, drop_remainder=False):
        total += float(score(x, y, weights))
        count += float(tf.reduce_sum(weights))
    nats = total / count
    return {"nats_per_token": nats, "perplexity": float(np.exp(nats)), "tokens": int(count)}


def check_vocabulary(model, needed):
    """Raises unless `model` predicts over at least `needed` token ids."""
    size = int(model.output.shape[-1])
    if needed > size:
        raise ValueError(
            f"The data has token ids up to {needed - 1}, but {model.name!r} predicts over "
            f"{size} tokens: the model was trained with another vocabulary. Use the "
            "vocabulary saved with its run (vocabulary.json) or retrain."
        )


def transfer_embeddings(model, vocabulary, tokens):
    """The language model's embedding rows for `tokens`, e.g. to start a
    sentiment classifier's embedding (`build_sentiment_model(embeddings=)`).

    Tokens match by their text; `[UNK]` (Keras' `TextVectorization`) takes
    the row of `<unk>`; padding `''` and words the language model's
    vocabulary lacks get zeros, as `pipelines.text.load_word_vectors` gives.

    Args:
        model: a language model with a layer named "embedding".
        vocabulary: its `pipelines.lm.Vocabulary`.
        tokens: the tokens of the new model, row `i` for token id `i`,
            e.g. `vectorizer.get_vocabulary()`.

    Returns:
        `(matrix, found)`: a float32 array `(len(tokens), embedding_dim)` and
        how many tokens had a row.
    """
    check_vocabulary(model, len(vocabulary))
    matrix = np.asarray(keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings), "float32")
    rows = np.zeros((len(tokens), matrix.shape[1]), "float32")
    found = 0
    for i, token in enumerate(tokens):
        j = vocabulary.index.get("<unk>" if token == "[UNK]" else token) if token else None
        if j is not None:
            rows[i] = matrix[j]
            found += 1
    return rows, found


def generate(model, vocabulary, prompt, *, length, temperature=1.0, top_k=None, seed=None):
    """Continues `prompt` by sampling `length` tokens from `model`.

    The prompt is read once; each new token costs one step of a stateful
    batch-1 copy of the model. Unknown prompt tokens read as `<unk>`; an
    empty prompt starts a new line.

    Args:
        model: a language model over `vocabulary`.
        vocabulary: a `pipelines.lm.Vocabulary`.
        prompt: the text to continue (a str), or a list of tokens.
        length: tokens to generate.
        temperature: divides the logits; below 1 is more conservative, 0
            always takes the most likely token.
        top_k: sample among the `top_k` most likely tokens only.
        seed: seed of the sampling.

    Returns:
        The prompt and its continuation, as text.

    Example:
    >>> generate(model, corpus.vocabulary, "the market", length=20, seed=0)  # doctest: +SKIP
    'the market is n't expected to ...'
    """
    owner = "generate"
    length = check_positive_int("length", length, owner=owner, example="length=100")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
        raise ArgumentError("temperature", f"{owner} received temperature={temperature!r}. Pass a "
                                           "number >= 0, e.g. temperature=0.8 (0: greedy).")
    if top_k is not None:
        top_k = check_positive_int("top_k", top_k, owner=owner, example="top_k=40")
    if isinstance(prompt, str):
        tokens = vocabulary.tokenize_prompt(prompt)
    elif isinstance(prompt, (list, tuple)) and all(isinstance(t, str) for t in prompt):
        tokens = list(prompt)
    else:
        raise TypeError(f"{owner} received prompt={prompt!r:.60}. Pass a str (or a list of tokens).")
    check_vocabulary(model, len(vocabulary))
    ids = vocabulary.encode(tokens)
    if not len(ids):
        start = "<eos>" if vocabulary.level == "word" else "\n"
        ids = np.array([vocabulary.index.get(start, 0)], "int32")
    last_logits = _runner(model, 1)["last_logits"]
    rng = np.random.default_rng(seed)
    logits = last_logits(ids[None]).numpy()
    new = []
    for _ in range(length):
        # A model may predict over more ids than the vocabulary names.
        logits = logits[: len(vocabulary)]
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            scaled = logits / temperature
            if top_k is not None and top_k < len(scaled):
                scaled[np.argpartition(scaled, -top_k)[:-top_k]] = -np.inf
            probabilities = np.exp(scaled - scaled.max())
            token = int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))
        new.append(token)
        logits = last_logits(np.array([[token]], "int32")).numpy()
    continuation = vocabulary.join(vocabulary.decode(new))
    if not isinstance(prompt, str):
        prompt = vocabulary.join(tokens)
    separator = "" if vocabulary.level == "char" or not prompt or prompt[-1].isspace() else " "
    return prompt + separator + continuation
