"""Tests for `pipelines.text` and `pipelines.preprocessing`: IMDB, vectorization,
truncation and length-bucketed batches."""

import tarfile

import keras
import numpy as np
import pytest

from pipelines.preprocessing import TruncateTokens
from pipelines.preprocessing import standardize_text
from pipelines.text import build_vectorizer
from pipelines.text import load_imdb
from pipelines.text import split_validation
from pipelines.text import text_dataset
from pipelines.text import token_lengths
from pipelines.validation import ArgumentError

FAKE_REVIEWS = {
    "train/pos/0_9.txt": "A wonderful film.<br /><br />Loved it!",
    "train/pos/1_8.txt": "Great acting, great story.",
    "train/neg/0_1.txt": "Dull and boring.",
    "train/neg/1_2.txt": "Awful. I left early.",
    "train/unsup/0_0.txt": "No label here.",
    "test/pos/0_10.txt": "Brilliant!",
    "test/neg/0_3.txt": "Terrible.",
}


def write_fake_imdb(root):
    for name, text in FAKE_REVIEWS.items():
        path = root / "aclImdb" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_load_imdb_full_copy(data_file):
    path = data_file("aclImdb_v1.tar.xz")
    data = load_imdb(path)
    (train, train_labels), (val, val_labels) = data.train, data.validation
    test, test_labels = data.test
    assert (len(train), len(val), len(test)) == (20000, 5000, 25000)
    # Stratified: both classes keep half of each split.
    assert train_labels.mean() == val_labels.mean() == test_labels.mean() == 0.5
    assert data.class_names == ("neg", "pos") and data.unlabeled is None
    assert all(isinstance(t, str) and t for t in test[:100])
    # The validation draw depends on the seed only; train and validation are disjoint.
    again = load_imdb(path)
    assert list(again.validation[0][:5]) == list(val[:5])
    assert list(load_imdb(path, seed=1).validation[0][:5]) != list(val[:5])
    assert not set(val[:200]) & set(train)
    # The shared copy left out train/unsup.
    with pytest.raises(FileNotFoundError, match=r"has no unlabeled reviews \(aclImdb/train/unsup/\)"):
        load_imdb(path, unlabeled=True)


@pytest.mark.parametrize("layout", ["folder", "parent", "renamed", "tar.gz"])
def test_load_imdb_layouts(tmp_path, layout):
    root = write_fake_imdb(tmp_path / "data")
    if layout == "folder":
        path = root / "aclImdb"
    elif layout == "parent":
        path = root
    elif layout == "renamed":
        path = (root / "aclImdb").rename(root / "reviews")
    else:
        path = tmp_path / "my-imdb.tar.gz"
        with tarfile.open(path, "w:gz") as archive:
            archive.add(root / "aclImdb", arcname="aclImdb")
    data = load_imdb(path, validation_split=0.5, unlabeled=True)
    assert sorted(data.train[0].tolist() + data.validation[0].tolist()) == sorted(
        FAKE_REVIEWS[k] for k in FAKE_REVIEWS if k.startswith("train/") and "unsup" not in k)
    assert data.validation[1].tolist() == [0, 1]
    assert data.test[0].tolist() == ["Terrible.", "Brilliant!"] and data.test[1].tolist() == [0, 1]
    assert data.unlabeled.tolist() == ["No label here."]


def test_load_imdb_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither an aclImdb folder nor an archive"):
        load_imdb(tmp_path / "missing.tar.gz")
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="is not a readable aclImdb archive"):
        load_imdb(broken)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no aclImdb/train/ and aclImdb/test/ reviews"):
        load_imdb(tmp_path / "empty")
    with pytest.raises(ArgumentError, match=r"validation_split=1\.0"):
        load_imdb(write_fake_imdb(tmp_path / "ok"), validation_split=1.0)


def test_split_validation_is_stratified_and_seeded():
    texts = np.array([f"t{i}" for i in range(100)], dtype=object)
    labels = np.array([0] * 80 + [1] * 20)
    (train, train_labels), (val, val_labels) = split_validation(texts, labels, 0.25, seed=3)
    assert len(val) == 25 and val_labels.sum() == 5 and train_labels.sum() == 15
    assert sorted(train.tolist() + val.tolist()) == sorted(texts.tolist())
    assert split_validation(texts, labels, 0.25, seed=3)[1][0].tolist() == val.tolist()


def test_standardize_text():
    texts = keras.ops.convert_to_tensor([
        "Great!<br /><br />I DIDN'T cry... 10/10",
        "Café ÉTÉ 日本語のテキスト 'quoted' rock'n'roll?",
        "a < b and c > d <i>fine</i> हिन्दी फ़िल्म",
    ])
    # Tokens are what TextVectorization splits on whitespace.
    assert [t.decode().split() for t in standardize_text(texts).numpy()] == [
        ["great", "!", "i", "didn't", "cry", "10", "10"],
        ["café", "été", "日本語のテキスト", "quoted", "rock'n'roll", "?"],
        # A stray "<" is no tag; combining marks stay with their letters.
        ["a", "b", "and", "c", "d", "fine", "हिन्दी", "फ़िल्म"],
    ]


def test_vectorizer_is_adapted_on_the_given_texts_only():
    vectorizer = build_vectorizer(["a good film", "a bad film", "good good"], max_tokens=10)
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:3] == ["", "[UNK]", "good"]
    ids = np.asarray(vectorizer(keras.ops.convert_to_tensor(["good unseen film", ""])))
    assert ids.tolist() == [[2, 1, vocabulary.index("film")], [0, 0, 0]]
    with pytest.raises(TypeError, match=r"build_vectorizer received a int at position 1 \(3\)"):
        build_vectorizer(["fine", 3])
    with pytest.raises(ValueError, match="build_vectorizer received no texts"):
        build_vectorizer([])
    with pytest.raises(ValueError, match="max_tokens=0"):
        build_vectorizer(["x"], max_tokens=0)


@pytest.mark.parametrize("keep, expected", [
    ("end", [[4, 5, 6], [7, 8, 0], [0, 0, 0]]),
    ("start", [[2, 3, 4], [7, 8, 0], [0, 0, 0]]),
])
def test_truncate_tokens(keep, expected):
    ids = np.array([[2, 3, 4, 5, 6], [7, 8, 0, 0, 0], [0, 0, 0, 0, 0]])
    assert TruncateTokens(3, keep=keep)(ids).numpy().tolist() == expected
    # Padded only to the longest kept row; an all-empty batch keeps one step.
    assert TruncateTokens(9, keep=keep)(ids[1:]).numpy().tolist() == [[7, 8], [0, 0]]
    assert TruncateTokens(9, keep=keep)(np.zeros((2, 0), "int64")).numpy().tolist() == [[0], [0]]
    layer = TruncateTokens.from_config(TruncateTokens(3, keep=keep).get_config())
    assert (layer.max_length, layer.keep) == (3, keep)


def test_truncate_tokens_errors():
    with pytest.raises(ValueError, match="TruncateTokens received max_length=0"):
        TruncateTokens(0)
    with pytest.raises(ArgumentError, match="keep='middle'. Expected one of 'start', 'end'"):
        TruncateTokens(5, keep="middle")


def make_texts(count=200, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 60, size=count)
    texts = np.array([" ".join(["word"] * n) + f" id{i}" for i, n in enumerate(lengths)], dtype=object)
    return texts, (lengths % 2).astype("int32")


def test_text_dataset_buckets_by_length_and_keeps_every_text():
    texts, labels = make_texts()
    vectorizer = build_vectorizer(texts, max_tokens=1000)
    lengths = token_lengths(vectorizer, texts)
    assert lengths.tolist() == [len(t.split()) for t in texts]
    assert token_lengths(vectorizer, texts, max_length=10).max() == 10
    # Counted on ragged ids: one very long text is not padded into its batch.
    assert token_lengths(vectorizer, ["word " * 200_000, "a b"]).tolist() == [200_000, 2]
    dataset = text_dataset(texts, labels, lengths=lengths, batch_size=16, shuffle=True, seed=1,
                           num_buckets=4)
    seen = []
    boundaries = np.quantile(lengths, [0.25, 0.5, 0.75]).astype(int) + 1
    for batch_texts, batch_labels in dataset:
        batch = [t.decode() for t in batch_texts.numpy()]
        batch_lengths = [len(t.split()) for t in batch]
        # One bucket per batch: the padded length follows the batch's texts.
        assert len(set(np.searchsorted(boundaries, batch_lengths, side="right"))) == 1
        assert [int(len(t.split()) - 1) % 2 for t in batch] == batch_labels.numpy().tolist()
        seen += batch
    assert sorted(seen) == sorted(texts.tolist())

    def order(seed):
        ds = text_dataset(texts, labels, lengths=lengths, batch_size=16, shuffle=True, seed=seed)
        return [t for batch, _ in ds for t in batch.numpy().tolist()]

    assert order(1) == order(1) != order(2)
    # Unshuffled: sorted by length, deterministic.
    plain = [t.decode() for batch, _ in text_dataset(texts, labels, lengths=lengths, batch_size=16)
             for t in batch.numpy()]
    assert [len(t.split()) for t in plain] == sorted(len(t.split()) for t in texts)


def test_text_dataset_errors():
    texts, labels = make_texts(10)
    with pytest.raises(ValueError, match="text_dataset received 10 texts, 9 lengths and 10 labels"):
        text_dataset(texts, labels, lengths=np.ones(9))
    with pytest.raises(ValueError, match="text_dataset received no texts"):
        text_dataset([], [], lengths=[])
    with pytest.raises(TypeError, match=r"text_dataset received a NoneType at position 0"):
        text_dataset([None], lengths=[1])


def test_text_files_are_exported_here():
    import pipelines.text as text
    from pipelines import text_files

    assert text.load_text_classification is text_files.load_text_classification
    assert text.load_word_vectors is text_files.load_word_vectors
    with pytest.raises(AttributeError):
        text.no_such_name  # noqa: B018
