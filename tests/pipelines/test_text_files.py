import gzip
import re

import keras
import numpy as np
import pandas as pd
import pytest

from pipelines.text import TextClassificationData
from pipelines.text_files import load_text_classification, load_word_vectors
from pipelines.validation import ArgumentError

TEXTS = [f"review {i}" for i in range(40)]
# Classes alternate, so text i has label i % 2: 20 of each.
BINARY = [i % 2 for i in range(40)]


def write_table(tmp_path, name, columns):
    path = tmp_path / name
    frame = pd.DataFrame(columns)
    if "json" in name:
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, sep="," if ".csv" in name else "\t", index=False)
    return path


def write_folder(root, classes):
    """`root/<class>/<i>.txt` holding `f"{class} {i}"`."""
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            (root / name / f"{i:02d}.txt").write_text(f"{name} {i}", encoding="utf-8")
    return root


def all_rows(data):
    splits = [data.train, data.validation] + ([data.test] if data.test is not None else [])
    return sorted((str(t), int(l)) for texts, labels in splits for t, l in zip(texts, labels))


@pytest.mark.parametrize("name", ["r.csv", "r.tsv", "r.tab", "r.jsonl", "r.ndjson", "r.csv.gz",
                                  "r.tsv.gz", "r.jsonl.gz"])
def test_reads_every_format_and_splits_test_then_validation(tmp_path, name):
    path = write_table(tmp_path, name, {"text": TEXTS, "label": BINARY})
    with open(path, "rb") as file:
        assert (file.read(2) == b"\x1f\x8b") == name.endswith(".gz")
    data = load_text_classification(path)
    assert isinstance(data, TextClassificationData)
    assert data.class_names == ("0", "1") and data.source == str(path)
    # Test: round(0.1 * 20) = 2 per class; validation: round(0.1 * 18) = 2 per class.
    assert [len(s[0]) for s in (data.train, data.validation, data.test)] == [32, 4, 4]
    for texts, labels in (data.train, data.validation, data.test):
        assert texts.dtype == object and all(isinstance(t, str) for t in texts)
        assert labels.dtype == np.int32
        assert np.count_nonzero(labels == 0) == np.count_nonzero(labels == 1)
    assert all_rows(data) == sorted(zip(TEXTS, BINARY))


def test_split_sizes_follow_the_fractions(tmp_path):
    path = write_table(tmp_path, "r.csv", {"text": TEXTS, "label": BINARY})
    data = load_text_classification(path, test_split=0.25, validation_split=0.2)
    # Test: 5 of each 20; validation: 3 of each remaining 15.
    assert [len(s[1]) for s in (data.train, data.validation, data.test)] == [24, 6, 10]
    data = load_text_classification(path, test_split=0, validation_split=0)
    assert data.test is None and len(data.validation[0]) == 0
    np.testing.assert_array_equal(data.train[0], np.array(TEXTS, dtype=object))
    with pytest.raises(ValueError, match="has no test split"):
        data.split("test")


def test_splits_are_drawn_from_the_seed(tmp_path):
    path = write_table(tmp_path, "r.csv", {"text": TEXTS, "label": BINARY})
    first, again, other = (load_text_classification(path, seed=s) for s in (0, 0, 1))
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(first.split(split)[0], again.split(split)[0])
    assert list(first.test[0]) != list(other.test[0])
    # Each split keeps the order of the file.
    assert list(first.train[0]) == sorted(first.train[0], key=TEXTS.index)


def test_boolean_labels_map_false_to_0(tmp_path):
    flags = [bool(label) for label in BINARY]
    for name in ("r.csv", "r.jsonl"):
        path = write_table(tmp_path, name, {"text": TEXTS, "label": flags})
        data = load_text_classification(path, test_split=0, validation_split=0)
        assert data.class_names == ("False", "True")
        np.testing.assert_array_equal(data.train[1], BINARY)


def test_string_labels_map_in_sorted_order_unless_class_names_says(tmp_path):
    names = ["positive" if label else "negative" for label in BINARY]
    path = write_table(tmp_path, "r.csv", {"text": TEXTS, "sentiment": names})
    data = load_text_classification(path, label_column="sentiment", test_split=0,
                                    validation_split=0)
    assert data.class_names == ("negative", "positive")
    np.testing.assert_array_equal(data.train[1], BINARY)
    data = load_text_classification(path, label_column="sentiment", test_split=0,
                                    validation_split=0, class_names=["positive", "negative"])
    assert data.class_names == ("positive", "negative")
    np.testing.assert_array_equal(data.train[1], [1 - label for label in BINARY])


def test_class_names_name_numeric_labels(tmp_path):
    path = write_table(tmp_path, "r.jsonl", {"text": TEXTS, "label": [float(b) for b in BINARY]})
    data = load_text_classification(path, class_names=("neg", "pos"), test_split=0,
                                    validation_split=0)
    assert data.class_names == ("neg", "pos")
    np.testing.assert_array_equal(data.train[1], BINARY)


def test_texts_are_kept_as_written(tmp_path):
    texts = ["", "   ", "NA", "123", "null", 'say "hi", twice'] * 2
    labels = [0, 1] * 6
    for name in ("r.csv", "r.tsv", "r.jsonl"):
        path = write_table(tmp_path, name, {"text": texts, "label": labels})
        data = load_text_classification(path, test_split=0, validation_split=0)
        assert list(data.train[0]) == texts
    # Text first, as JSON strings, in other columns' company.
    path = tmp_path / "n.jsonl"
    path.write_text('{"id": 7, "text": "5", "label": "pos"}\n{"id": 8, "text": "", "label": "neg"}\n')
    data = load_text_classification(path, test_split=0, validation_split=0)
    assert list(data.train[0]) == ["5", ""] and list(data.train[1]) == [1, 0]


def test_folder_per_class(tmp_path):
    root = write_folder(tmp_path / "data", {"pos": 20, "neg": 20, "unsup": 3})
    (root / "pos" / "more").mkdir()
    (root / "pos" / "more" / "x.txt").write_text("nested pos", encoding="utf-8")
    (root / "neg" / "notes.md").write_text("not a text", encoding="utf-8")
    data = load_text_classification(root)
    assert data.class_names == ("neg", "pos")
    texts, labels = (np.concatenate(c) for c in zip(data.train, data.validation, data.test))
    assert len(texts) == 41 and "not a text" not in texts and "unsup 0" not in texts
    assert dict(zip(texts, labels))["nested pos"] == 1 and dict(zip(texts, labels))["neg 3"] == 0
    # Test: 2 of 20 neg, 2 of 21 pos; validation: 2 of 18 and 2 of 19.
    assert [len(s[0]) for s in (data.train, data.validation, data.test)] == [33, 4, 4]


def test_folder_with_train_and_test(tmp_path):
    root = tmp_path / "aclImdb"
    write_folder(root / "train", {"neg": 10, "pos": 10, "unsup": 5})
    write_folder(root / "test", {"neg": 3, "pos": 4})
    data = load_text_classification(root, validation_split=0.2, test_split=0.5)
    assert data.class_names == ("neg", "pos")
    assert list(data.test[0]) == [f"neg {i}" for i in range(3)] + [f"pos {i}" for i in range(4)]
    assert list(data.test[1]) == [0] * 3 + [1] * 4
    assert len(data.train[0]) == 16 and list(data.validation[1]) == [0, 0, 1, 1]
    assert all(t.startswith(("neg", "pos")) for t in np.concatenate([data.train[0], data.validation[0]]))
    data = load_text_classification(root, class_names=("pos", "neg"))
    assert list(data.test[1]) == [1] * 3 + [0] * 4


def test_folder_train_and_test_classes_must_match(tmp_path):
    write_folder(tmp_path / "train", {"neg": 2, "pos": 2})
    write_folder(tmp_path / "test", {"neg": 2, "positive": 2})
    with pytest.raises(ValueError, match=r"has the class folders \['neg', 'positive'\], .*train "
                                         r"has \['neg', 'pos'\]: the test split needs"):
        load_text_classification(tmp_path)


@pytest.mark.parametrize("classes, message", [
    ({}, "holds no class folders"),
    ({"neg": 2, "pos": 0}, "holds no .txt files"),
    ({"a": 2, "b": 2, "c": 2}, r"found 3 classes \['a', 'b', 'c'\] in the class folders of .*: "
                               "a binary classifier needs exactly two. Keep two class folders."),
    ({"pos": 4, "unsup": 4}, r"found 1 class \['pos'\]"),
])
def test_folder_errors(tmp_path, classes, message):
    root = write_folder(tmp_path / "data", classes)
    root.mkdir(exist_ok=True)
    with pytest.raises(ValueError, match=message):
        load_text_classification(root)


def test_folder_texts_must_be_utf8(tmp_path):
    root = write_folder(tmp_path / "data", {"neg": 2, "pos": 2})
    (root / "pos" / "bad.txt").write_bytes(b"caf\xe9")
    with pytest.raises(ValueError, match=r"bad.txt is not UTF-8 text"):
        load_text_classification(root)


def test_missing_column_names_the_columns(tmp_path):
    path = write_table(tmp_path, "reviews.csv", {"text": TEXTS, "sentiment": BINARY})
    with pytest.raises(ArgumentError) as error:
        load_text_classification(path, text_column="review")
    assert error.value.argument == "text_column"
    assert str(error.value) == (
        "load_text_classification received text_column='review', which is not a column of "
        "reviews.csv. Columns: ['text', 'sentiment']. Pass text_column=... naming the column "
        "of texts."
    )
    with pytest.raises(ArgumentError, match=r"label_column='label', which is not a column of "
                                            r"reviews.csv. Columns: \['text', 'sentiment'\]") as error:
        load_text_classification(path)
    assert error.value.argument == "label_column"


@pytest.mark.parametrize("labels, message", [
    (["neg", "pos", "neutral", "pos"] * 10,
     r"found 3 classes \['neg', 'neutral', 'pos'\] in column 'label' of r.csv: a binary "
     r"classifier needs exactly two. Keep the rows of two classes"),
    (["pos"] * 40, r"found 1 class \['pos'\] in column 'label' of r.csv: a binary classifier "
                   r"needs exactly two. Add texts of the other class"),
    ([1, 2] * 20, r"found the labels \[1, 2\] in column 'label' of r.csv: numeric labels must "
                  r"be 0 and 1"),
    ([0, 0.5] * 20, r"found the labels \[0.0, 0.5\]"),
])
def test_labels_must_be_two_classes(tmp_path, labels, message):
    path = write_table(tmp_path, "r.csv", {"text": TEXTS, "label": labels})
    with pytest.raises(ArgumentError, match=message) as error:
        load_text_classification(path)
    assert error.value.argument == "label_column"


def test_labels_of_mixed_types(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": "pos"}\n')
    with pytest.raises(ArgumentError, match=r"found labels of types \['int', 'str'\] in column "
                                            r"'label' of r.jsonl: write every label the same way"):
        load_text_classification(path)


def test_class_names_must_match_the_labels(tmp_path):
    names = ["positive" if label else "negative" for label in BINARY]
    path = write_table(tmp_path, "r.csv", {"text": TEXTS, "label": names})
    with pytest.raises(ArgumentError, match=r"received class_names=\('neg', 'pos'\), but column "
                                            r"'label' of r.csv holds the labels \['negative', "
                                            r"'positive'\]: \['negative', 'positive'\] not among "
                                            r"them.*class_names=\('negative', 'positive'\)") as error:
        load_text_classification(path, class_names=("neg", "pos"))
    assert error.value.argument == "class_names"


@pytest.mark.parametrize("class_names", [("a",), ("a", "a"), ("a", 1), "ab", ("a", "b", "c")])
def test_class_names_must_be_two_names(tmp_path, class_names):
    with pytest.raises(ArgumentError, match=r"Expected two distinct names, that of class 0 "
                                            r"first, e.g. class_names=\('neg', 'pos'\)"):
        load_text_classification(tmp_path, class_names=class_names)


@pytest.mark.parametrize("argument, value", [("validation_split", 1), ("validation_split", -0.1),
                                             ("test_split", 1.0), ("test_split", True),
                                             ("test_split", "0.1")])
def test_fractions_are_checked(tmp_path, argument, value):
    with pytest.raises(ArgumentError, match=rf"received {argument}={value!r}. Expected a fraction "
                                            rf"in \[0, 1\), e.g. {argument}=0.1.") as error:
        load_text_classification(tmp_path, **{argument: value})
    assert error.value.argument == argument


@pytest.mark.parametrize("name, content", [
    ("r.csv", b""), ("r.csv", b"text,label\n"), ("r.jsonl", b""), ("r.jsonl", b"\n\n"),
    ("r.csv.gz", gzip.compress(b"")), ("r.tsv", b"text\tlabel\n"),
])
def test_empty_files(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^{name} holds no rows: load_text_classification "
                                         "needs one text and its label per row"):
        load_text_classification(path)


@pytest.mark.parametrize("line", ['{"text": null, "label": 1}', '{"label": 1}'])
def test_missing_texts(tmp_path, line):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "a", "label": 0}\n' + line + "\n" + line + "\n")
    with pytest.raises(ValueError, match=r"Column 'text' of r.jsonl has 2 missing texts \(first "
                                         r"at row 1\).*\(an empty string is a text\): fill them or "
                                         r"drop those rows, e.g. df.dropna\(subset=\['text'\]\)"):
        load_text_classification(path)


def test_texts_must_be_strings(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "a", "label": 0}\n{"text": 5, "label": 1}\n')
    with pytest.raises(ValueError, match=r"Column 'text' of r.jsonl holds the int 5 at row 1: "
                                         r"texts must be strings.*df\['text'\].astype\(str\)"):
        load_text_classification(path)


@pytest.mark.parametrize("name, content", [
    ("r.csv", "text,label\na,1\nb,\nc,0\n"),
    ("r.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": null}\n'),
])
def test_missing_labels(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"Column 'label' of {name} has 1 missing labels \(first "
                                         r"at row 1\). load_text_classification needs a label in "
                                         r"every row: fill them or drop those rows"):
        load_text_classification(path)


def test_path_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"received path='.*nope.csv', which does not "
                                                r"exist. Pass a file \(.csv, .tsv"):
        load_text_classification(tmp_path / "nope.csv")


@pytest.mark.parametrize("name, suffix", [("r.xlsx", "'.xlsx'"), ("r.txt.gz", "'.txt'"),
                                          ("README", "'(no extension)'")])
def test_unknown_file_types_list_the_supported(tmp_path, name, suffix):
    path = tmp_path / name
    path.write_text("text,label\n")
    with pytest.raises(ArgumentError, match=rf"whose type {re.escape(suffix)} it does not read. Supported: "
                                            r"\.csv, \.tsv, \.tab, \.jsonl, \.ndjson \(each also "
                                            r"gzipped, \.gz\)") as error:
        load_text_classification(path)
    assert error.value.argument == "path"


@pytest.mark.parametrize("name, content, kind", [
    ("r.csv", 'text,label\n"a,1\n', "CSV"),
    ("r.jsonl", '{"text": "a", "label": 1}\nnot json\n', "JSON Lines"),
])
def test_unreadable_files(tmp_path, name, content, kind):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"^{name} is not readable as {kind} \("):
        load_text_classification(path)


def test_splits_must_leave_both_classes_for_training(tmp_path):
    path = write_table(tmp_path, "r.csv", {"text": ["a", "b", "c"], "label": ["x", "y", "y"]})
    with pytest.raises(ValueError, match=r"holding out test_split=0.6 and validation_split=0.1 of "
                                         r".*r.csv leaves no training texts of class 'x'"):
        load_text_classification(path, test_split=0.6)


# Word vectors.

VOCABULARY = ["", "[UNK]", "the", "film", "good", "unseen"]
GLOVE = "the 0.5 -1 2\ngood 1.5 0 -0.25\nbad 9 9 9\nthe 7 7 7\nfilm 0.125 0.25 0.375\n"
EXPECTED = np.array([
    [0, 0, 0], [0, 0, 0], [0.5, -1, 2], [0.125, 0.25, 0.375], [1.5, 0, -0.25], [0, 0, 0],
], dtype="float32")


@pytest.mark.parametrize("name, content", [
    ("glove.txt", GLOVE),
    ("glove.txt.gz", GLOVE),
    # word2vec's C tool ends each line with a space.
    ("w2v.vec", "5 3\n" + GLOVE.replace("\n", " \n")),
    ("w2v.vec.gz", "5 3\r\n" + GLOVE.replace("\n", "\r\n")),
])
def test_word_vectors_align_to_the_vocabulary(tmp_path, name, content):
    path = tmp_path / name
    data = content.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    matrix, found = load_word_vectors(path, VOCABULARY)
    # 'the' keeps its first vector; padding, [UNK] and 'unseen' are zeros.
    assert matrix.dtype == np.float32 and found == 3
    np.testing.assert_array_equal(matrix, EXPECTED)
    assert load_word_vectors(path, VOCABULARY, dim=3)[1] == 3


def test_word_vectors_initialize_an_embedding(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text(GLOVE)
    matrix, _ = load_word_vectors(path, VOCABULARY)
    layer = keras.layers.Embedding(len(VOCABULARY), 3,
                                   embeddings_initializer=keras.initializers.Constant(matrix))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(np.array([[3, 0]])))[0],
                                  EXPECTED[[3, 0]])


def test_words_may_hold_spaces(tmp_path):
    # As in glove.840B.300d.txt: the vector is the last dim values.
    path = tmp_path / "glove.txt"
    path.write_text("the 1 2\n. . . 3 4\nat name@domain.com 5 6\n")
    matrix, found = load_word_vectors(path, ["", ". . .", "at name@domain.com", "."])
    assert found == 2 and matrix.tolist() == [[0, 0], [3, 4], [5, 6], [0, 0]]


@pytest.mark.parametrize("content, message", [
    ("the 1 2 3\ngood 1 2\n", r"Line 2 of v.txt has 2 values after its word, expected 3 \(as on "
                              r"the first line\): the file is truncated"),
    ("the 1 2 3\nx 1\ngood 1 2 3 4\n", "Line 2 of v.txt has 1 values after its word"),
    ("the 1 2 3\ngood 1 2 3 4\n", "Line 2 of v.txt has 4 values after its word, expected 3"),
    ("2 3\nthe 1 2 3\ngood 1 2\n", "Line 3 of v.txt has 2 values after its word, expected 3"),
    ("the 1 2 3\ngood 1 x 3\n", r"Line 2 of v.txt holds values that are not numbers \(1 x 3"),
    ("3 3\nthe 1 2 3\ngood 1 2 3\n", "v.txt declares 3 vectors on line 1 but holds 2: the file "
                                     "is truncated"),
    ("", "v.txt holds no word vectors"),
    ("5 3\n", "v.txt holds no word vectors"),
])
def test_malformed_vector_files(tmp_path, content, message):
    path = tmp_path / "v.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_word_vectors(path, ["", "[UNK]", "the", "good"])


@pytest.mark.parametrize("content, line", [("the 1 2 3\n", 1), ("1 3\nthe 1 2 3\n", 1)])
def test_dim_is_checked_against_the_file(tmp_path, content, line):
    path = tmp_path / "v.txt"
    path.write_text(content)
    with pytest.raises(ArgumentError, match=rf"received dim=2, but the vectors of v.txt have 3 "
                                            rf"values \(line {line}\). Pass dim=3") as error:
        load_word_vectors(path, ["the"], dim=2)
    assert error.value.argument == "dim"
    with pytest.raises(ArgumentError, match="dim=0. `dim` must be a positive integer"):
        load_word_vectors(path, ["the"], dim=0)


def test_word_vector_input_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path='.*glove.txt', which is not a file"):
        load_word_vectors(tmp_path / "glove.txt", ["the"])
    path = tmp_path / "v.bin"
    path.write_bytes(b"2 3\nthe \xff\xfe\x00\x01")
    with pytest.raises(ValueError, match=r"v.bin is not UTF-8 text. .*"
                                         r"save_word2vec_format"):
        load_word_vectors(path, ["the"])
    with pytest.raises(ArgumentError, match=r"received a bytes at position 1 of vocabulary "
                                            r"\(b'the'\)"):
        load_word_vectors(path, ["", b"the"])
