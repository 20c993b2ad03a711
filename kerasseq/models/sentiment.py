"""Sentiment classifiers: the recurrent model with its heads, and the baselines.

`build_sentiment_model` embeds tokens, runs the shared recurrent encoder and
ends in one of `HEADS`; given a vectorizer it takes raw strings, so the
saved model carries its vocabulary. `build_bag_of_words_model` (logistic
regression on n-gram features) and `build_majority_model` are the
baselines it is measured against, by the same evaluation code.
"""

import keras
import numpy as np

from kerasseq import layers
from kerasseq.models.encoder import recurrent_encoder
from kerasseq.models.encoder import transfer_encoder
from kerasseq.validation import ArgumentError
from kerasseq.validation import check_non_negative_int
from kerasseq.validation import check_one_of
from kerasseq.validation import check_positive_int
from kerasseq.validation import check_rate

HEADS = ("last", "mean", "max", "attention", "windowed_attention", "token_scores")
# The heads with per-token weights that explain a prediction (see `explain`).
EXPLAINING_HEADS = ("attention", "windowed_attention", "token_scores")


def build_sentiment_model(
    *,
    vocab_size=None,
    embedding_dim=128,
    cell="gru",
    units=64,
    depth=1,
    bidirectional=False,
    head="last",
    window=5,
    dropout=0.0,
    embeddings=None,
    encoder=None,
    vectorizer=None,
    max_length=None,
    truncate="end",
    learning_rate=1e-3,
    compile=True,
):
    """A binary sentiment classifier: embedding, recurrent encoder, head.

    Heads: "last" (the final hidden state), "mean" / "max" (pooled over
    the tokens), "attention" (learned softmax weights over the tokens,
    `AttentionPooling`), "windowed_attention" (`WindowedAttention` over
    `window` neighbours on each side, then attention pooling), and
    "token_scores" (a score per token, summed, then a sigmoid:
    `TokenScores`). Padding is masked everywhere.

    Args:
        vocab_size: number of token ids (default: the vectorizer's).
        embedding_dim: size of the token embeddings (default: that of
            `embeddings` when given).
        cell: "elman", "elman_relu", "gru", "gru_reset_before" or "lstm".
        units: hidden units per recurrent layer.
        depth: stacked recurrent layers.
        bidirectional: read the text both ways.
        head: one of `HEADS`.
        window: neighbours on each side for "windowed_attention".
        dropout: dropout rate on the embeddings and before the output.
        embeddings: optional `(vocab_size, embedding_dim)` matrix (e.g. from
            `pipelines.text.load_word_vectors`, or a language model's:
            `kerasseq.models.language.transfer_embeddings`) to start the
            embedding from.
        encoder: optional trained model whose recurrent layers start this
            model's (e.g. a language model from `build_language_model` on
            the same texts, with the same cell, units and depth; one way).
        vectorizer: optional adapted `keras.layers.TextVectorization`
            (output_mode "int"): the model then takes raw strings.
        max_length: with a vectorizer, most tokens kept per text (None: all).
        truncate: with a vectorizer, keep the "end" or the "start" of
            longer texts.
        learning_rate: Adam's learning rate (gradients clipped to global
            norm 1, the remedy for exploding gradients).
        compile: compile with binary cross-entropy, accuracy and AUC.

    Returns:
        A `keras.Model` from token ids `(batch, timesteps)` (or strings
        `(batch,)`) to the probability of the positive class `(batch, 1)`.

    Example:
    >>> model = build_sentiment_model(vocab_size=100, units=8, head="attention")
    >>> tuple(model(np.array([[5, 7, 9, 0]])).shape)
    (1, 1)
    """
    owner = "build_sentiment_model"
    head = check_one_of("head", head, list(HEADS), owner=owner)
    window = check_non_negative_int("window", window, owner=owner,
                                    example=f"{owner}(..., window=5)")
    dropout = check_rate("dropout", dropout, owner=owner)
    if vectorizer is not None:
        if vectorizer.get_config().get("output_mode") != "int":
            raise ArgumentError(
                "vectorizer",
                f"{owner} received a vectorizer with output_mode="
                f"{vectorizer.get_config().get('output_mode')!r}: the recurrent model reads "
                "token ids. Use TextVectorization(output_mode='int').",
            )
        if vocab_size is not None and vocab_size < vectorizer.vocabulary_size():
            raise ArgumentError(
                "vocab_size",
                f"{owner} received vocab_size={vocab_size} and a vectorizer of "
                f"{vectorizer.vocabulary_size()} tokens: every token id needs an embedding row. "
                "Leave vocab_size out to take the vectorizer's.",
            )
        vocab_size = vocab_size or vectorizer.vocabulary_size()
    elif max_length is not None:
        raise ArgumentError(
            "max_length",
            f"{owner} received max_length={max_length!r} without a vectorizer: truncation "
            "applies to raw text. Pass vectorizer=..., or cut the token ids yourself.",
        )
    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype="float32")
        if embeddings.ndim != 2 or (vocab_size and embeddings.shape[0] != vocab_size):
            raise ArgumentError(
                "embeddings",
                f"{owner} received embeddings of shape {embeddings.shape}; expected "
                f"(vocab_size, embedding_dim) = ({vocab_size}, ...), one row per token id.",
            )
        vocab_size, embedding_dim = embeddings.shape
    if vocab_size is None:
        raise ArgumentError(
            "vocab_size",
            f"{owner} received neither vocab_size nor a vectorizer: pass one, e.g. "
            f"{owner}(vocab_size=20000).",
        )
    vocab_size = check_positive_int("vocab_size", vocab_size, owner=owner,
                                    example=f"{owner}(vocab_size=20000)")
    embedding_dim = check_positive_int("embedding_dim", embedding_dim, owner=owner,
                                       example=f"{owner}(..., embedding_dim=128)")
    if vectorizer is not None:
        inputs = keras.Input(shape=(), dtype="string", name="text")
        # Also without max_length: it gives an all-empty batch one step to run on.
        ids = layers.TruncateTokens(max_length, keep=truncate, name="truncate")(vectorizer(inputs))
    else:
        inputs = ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    initializer = ("uniform" if embeddings is None
                   else keras.initializers.Constant(embeddings))
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True,
                               embeddings_initializer=initializer, name="embedding")(ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    x = recurrent_encoder(x, cell=cell, units=units, depth=depth, bidirectional=bidirectional,
                          return_sequences=head != "last", owner=owner)
    if head == "token_scores":
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        outputs, _ = layers.TokenScores(units, name="token_scores")(x, return_token_scores=True)
    else:
        if head == "windowed_attention":
            attended = layers.WindowedAttention(window, name="windowed_attention")(x)
            x = keras.layers.LayerNormalization(name="attention_norm")(
                keras.layers.Add(name="attention_residual")([x, attended]))
        if head in ("attention", "windowed_attention"):
            x, _ = layers.AttentionPooling(name="attention_pooling")(x, return_attention_scores=True)
        elif head in ("mean", "max"):
            x = layers.MaskedGlobalPooling1D(head, name=f"{head}_pooling")(x)
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        outputs = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    model = keras.Model(inputs, outputs, name=f"{cell}_{head}" if isinstance(cell, str) else head)
    if encoder is not None:
        if bidirectional or not isinstance(cell, str):
            raise ArgumentError(
                "encoder",
                f"{owner} received encoder={encoder.name!r} with bidirectional={bidirectional} and "
                f"cell={cell!r}. A left-to-right encoder starts a one-way model of a named cell: "
                "pass bidirectional=False and the encoder's cell.",
            )
        transfer_encoder(encoder, model, cell=cell, depth=depth, owner=owner)
    if compile:
        compile_classifier(model, learning_rate=learning_rate)
    return model


def token_ids_layer(model):
    """The layer whose output is the token ids a raw-text model reads (its
    `TruncateTokens`, else its `TextVectorization`), or None for a model
    that takes ids."""
    return next((layer for kind in (layers.TruncateTokens, keras.layers.TextVectorization)
                 for layer in model.layers if isinstance(layer, kind)), None)


def compile_classifier(model, *, learning_rate=1e-3):
    """Compiles a binary classifier: Adam (global norm clipped to 1), binary
    cross-entropy, accuracy and ROC AUC."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=1.0),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
    )
    return model


def build_bag_of_words_model(vectorizer, *, l2=1e-5, learning_rate=1e-3, compile=True,
                             name="bag_of_words"):
    """Logistic regression on bag-of-n-grams features of raw text.

    Args:
        vectorizer: an adapted `TextVectorization` with a bag output
            ("multi_hot", "count" or "tf_idf"), e.g. unigrams and bigrams.
        l2: L2 penalty on the weights.
        learning_rate: Adam's learning rate.
        compile: compile as `compile_classifier` does.
        name: the model's name.

    Returns:
        A `keras.Model` from strings `(batch,)` to probabilities `(batch, 1)`.

    Example:
    >>> v = keras.layers.TextVectorization(output_mode="multi_hot", vocabulary=["good", "bad"])
    >>> tuple(build_bag_of_words_model(v)(np.array(["a good film"])).shape)
    (1, 1)
    """
    inputs = keras.Input(shape=(), dtype="string", name="text")
    features = vectorizer(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="probability",
                                 kernel_regularizer=keras.regularizers.L2(l2))(features)
    model = keras.Model(inputs, outputs, name=name)
    if compile:
        compile_classifier(model, learning_rate=learning_rate)
    return model


def build_majority_model(positive_rate):
    """Predicts the training set's share of positives for every text: the
    majority class, and an AUC of exactly 0.5.

    Args:
        positive_rate: fraction of positive training labels, in (0, 1).

    Returns:
        A compiled `keras.Model` from strings `(batch,)` to `(batch, 1)`.

    Example:
    >>> build_majority_model(0.75)(np.array(["anything", ""])).numpy().tolist()
    [[0.75], [0.75]]
    """
    if not 0 < positive_rate < 1:
        raise ArgumentError(
            "positive_rate",
            f"build_majority_model received positive_rate={positive_rate!r}: the training "
            "labels must hold both classes, so it lies strictly between 0 and 1.",
        )
    # A bag of no words: the constant bias is the whole model.
    vectorizer = keras.layers.TextVectorization(output_mode="count", vocabulary=["[none]"],
                                                name="no_words")
    model = build_bag_of_words_model(vectorizer, compile=False, name="majority")
    dense = model.get_layer("probability")
    logit = np.log(positive_rate / (1 - positive_rate))
    dense.set_weights([np.zeros_like(dense.get_weights()[0]), np.array([logit], "float32")])
    dense.trainable = False
    compile_classifier(model)
    return model
