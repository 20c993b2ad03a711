"""A user's own labeled texts and pretrained word vectors, from files.

`load_text_classification` reads a binary text classification data set from
a CSV, TSV or JSON Lines file (optionally gzipped), or from a folder of class
folders laid out as for `keras.utils.text_dataset_from_directory`, into a
`pipelines.text.TextClassificationData`. `load_word_vectors` reads GloVe or
word2vec vectors (text format) into a matrix aligned to a
`TextVectorization` vocabulary, for the initializer of an `Embedding`.

Labels become 0 and 1:
- numbers must be 0 and 1, booleans give False -> 0 and True -> 1;
- two names (strings or folder names) are numbered in sorted order
  (`"neg"` -> 0, `"pos"` -> 1; `"negative"` -> 0, `"positive"` -> 1), or in
  the order of `class_names=(name_of_0, name_of_1)` when given.
Either way the mapping is `data.class_names` (the name of class 0, then of
class 1), which the caller saves with a run.

Splits: a file, or a folder of class folders, is split twice, each time
stratified (every class in the same proportion) and drawn from `seed` by
`pipelines.text.split_validation`: first `test_split` of the rows is held
out as the test split, then `validation_split` of the rest as the
validation split. A folder holding `train/` and `test/` (the aclImdb layout)
keeps its own test split; `validation_split` of `train/` is held out.
"""

import gzip
import numbers
from pathlib import Path

import numpy as np

from pipelines.text import TextClassificationData
from pipelines.text import split_validation
from pipelines.validation import ArgumentError
from pipelines.validation import check_positive_int

_OWNER = "load_text_classification"
# Suffix -> CSV separator; None for JSON Lines.
_FORMATS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".jsonl": None, ".ndjson": None}
_SUPPORTED = ", ".join(_FORMATS) + " (each also gzipped, .gz)"
_LAYOUT = "path/<class_name>/*.txt, or path/train/ and path/test/ laid out so"
# aclImdb's train/unsup/ holds unlabeled reviews: a folder so named is not a class.
_UNLABELED = "unsup"


def load_text_classification(path, *, text_column="text", label_column="label",
                             validation_split=0.1, test_split=0.1, seed=0, class_names=None):
    """Loads texts with two classes from a CSV, TSV or JSON Lines file, or a folder.

    Files (`.csv`, `.tsv` / `.tab`, `.jsonl` / `.ndjson`, each also `.gz`)
    hold one text per row, with its label in another column. CSV/TSV fields
    are all texts, an empty field the empty text (CSV cannot tell it from a
    missing one); in JSON Lines a `null` or absent text is an error.
    Empty and blank texts are kept: a model predicts something for them too.

    A folder holds one folder of `.txt` files per class (also in subfolders,
    as `keras.utils.text_dataset_from_directory` reads them); the class
    names are the folder names. If it holds `train/` and `test/`, each laid
    out so (the aclImdb layout), those are the train and test splits, and
    both must have the same class folders. A folder named `unsup`
    (aclImdb's unlabeled reviews) is not a class and is skipped.

    Labels: 0 and 1, booleans (False -> 0), or two names, numbered in
    sorted order unless `class_names` gives the order; see the module
    docstring. Splits: `test_split` of the rows, then `validation_split` of
    the rest, each stratified and drawn from `seed`; each split keeps the
    order of the file (shuffle when batching).

    Args:
        path: the file, or the folder of class folders.
        text_column: the column of texts (files only).
        label_column: the column of labels (files only).
        validation_split: fraction of the training rows (after the test
            split) held out for validation, in [0, 1).
        test_split: fraction of the rows held out for the test, in [0, 1);
            0 gives no test split (None). Unused when the folder has `test/`.
        seed: seed of both draws.
        class_names: optional `(name of class 0, name of class 1)`: the
            order of two label names, or the names of labels 0 and 1.

    Returns:
        A `TextClassificationData`: `train`, `validation` and `test` as
        `(texts, labels)` (an object array of `str`, an int32 array of 0
        and 1), `class_names` and `source` (the path).

    Example:
    >>> data = load_text_classification("reviews.csv", label_column="sentiment")  # doctest: +SKIP
    >>> data.class_names  # doctest: +SKIP
    ('negative', 'positive')
    >>> texts, labels = data.train  # doctest: +SKIP
    """
    for name, value in (("validation_split", validation_split), ("test_split", test_split)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
            raise ArgumentError(
                name,
                f"{_OWNER} received {name}={value!r}. Expected a fraction in [0, 1), "
                f"e.g. {name}=0.1.",
            )
    if class_names is not None:
        class_names = _check_class_names(class_names)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{_OWNER} received path={str(path)!r}, which does not exist. Pass a file "
            f"({_SUPPORTED}) or a folder of class folders ({_LAYOUT})."
        )
    if path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
        train_texts, train_names = _read_class_folders(path / "train")
        test_texts, test_names = _read_class_folders(path / "test")
        if set(train_names) != set(test_names):
            raise ValueError(
                f"{path / 'test'} has the class folders {sorted(set(test_names))}, "
                f"{path / 'train'} has {sorted(set(train_names))}: the test split needs the "
                "classes of the train split. Rename or remove folders so that both match."
            )
        where = f"the class folders of {path / 'train'}"
        labels, class_names = _encode_labels(train_names, class_names, where, argument="path")
        rest = (train_texts, labels)
        held = f"validation_split={validation_split}"
        test = (test_texts, _encode_labels(test_names, class_names, where, argument="path")[0])
    else:
        if path.is_dir():
            texts, values = _read_class_folders(path)
            where, argument = f"the class folders of {path}", "path"
        else:
            texts, values = _read_table(path, text_column, label_column)
            where, argument = f"column {label_column!r} of {path.name}", "label_column"
        labels, class_names = _encode_labels(values, class_names, where, argument=argument)
        if test_split:
            rest, test = split_validation(texts, labels, test_split, seed=seed, owner=_OWNER)
        else:
            rest, test = (texts, labels), None
        held = f"test_split={test_split} and validation_split={validation_split}"
    train, validation = split_validation(*rest, validation_split, seed=seed, owner=_OWNER)
    for label, name in enumerate(class_names):
        if not np.any(train[1] == label):
            raise ValueError(
                f"{_OWNER}: holding out {held} of {path} leaves no training texts of class "
                f"{name!r}. Lower the splits, or add texts of that class."
            )
    return TextClassificationData(train=train, validation=validation, test=test,
                                  class_names=class_names, source=str(path))


def _check_class_names(class_names):
    names = tuple(class_names) if isinstance(class_names, (list, tuple)) else ()
    if len(names) != 2 or not all(isinstance(n, str) for n in names) or names[0] == names[1]:
        raise ArgumentError(
            "class_names",
            f"{_OWNER} received class_names={class_names!r}. Expected two distinct names, "
            "that of class 0 first, e.g. class_names=('neg', 'pos').",
        )
    return names


def _read_table(path, text_column, label_column):
    """`(texts, labels)` of a file, as object arrays; raises on missing
    columns, rows, texts or labels, and on texts that are not strings."""
    import pandas as pd

    name = path.name
    compressed = name.lower().endswith(".gz")
    suffix = Path(name[:-3] if compressed else name).suffix.lower()
    if suffix not in _FORMATS:
        raise ArgumentError(
            "path",
            f"{_OWNER} received path={str(path)!r}, whose type "
            f"{suffix or '(no extension)'!r} it does not read. Supported: {_SUPPORTED}, or a "
            f"folder of class folders ({_LAYOUT}). Save the data in one of these, e.g. "
            "df.to_csv('texts.csv', index=False).",
        )
    separator = _FORMATS[suffix]
    kind = "JSON Lines" if separator is None else "CSV" if separator == "," else "TSV"
    compression = "gzip" if compressed else None
    try:
        if separator is None:
            # dtype=False keeps JSON's types: the string "5" stays a text.
            frame = pd.read_json(path, lines=True, dtype=False, compression=compression)
        else:
            # Texts are read as written ("NA" and "" are texts); only an
            # empty label is missing.
            frame = pd.read_csv(path, sep=separator, compression=compression,
                                dtype={text_column: str}, keep_default_na=False,
                                na_values={label_column: [""]})
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (ValueError, EOFError, gzip.BadGzipFile) as error:
        raise ValueError(
            f"{name} is not readable as {kind} ({error}). Write it again as {kind}, e.g. "
            "df.to_csv('texts.csv', index=False) or "
            "df.to_json('texts.jsonl', orient='records', lines=True)."
        ) from None
    if frame.empty:
        raise ValueError(
            f"{name} holds no rows: {_OWNER} needs one text and its label per row. An "
            "interrupted export or download leaves an empty file: make it again, or pass "
            "another path."
        )
    for argument, column, holds in (("text_column", text_column, "texts"),
                                     ("label_column", label_column, "labels")):
        if column not in frame.columns:
            raise ArgumentError(
                argument,
                f"{_OWNER} received {argument}={column!r}, which is not a column of {name}. "
                f"Columns: {list(frame.columns)}. Pass {argument}=... naming the column of "
                f"{holds}.",
            )
    texts = frame[text_column].to_numpy(dtype=object)
    labels = frame[label_column].to_numpy()
    for values, column, what in ((texts, text_column, "text"), (labels, label_column, "label")):
        missing = np.flatnonzero(pd.isna(values))
        if len(missing):
            raise ValueError(
                f"Column {column!r} of {name} has {len(missing)} missing {what}s (first at "
                f"row {missing[0]}). {_OWNER} needs a {what} in every row"
                f"{' (an empty string is a text)' if what == 'text' else ''}: fill them or drop "
                f"those rows, e.g. df.dropna(subset=[{column!r}])."
            )
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(
                f"Column {text_column!r} of {name} holds the {type(text).__name__} "
                f"{text!r:.40} at row {row}: texts must be strings. Write it as a string (\"{text}\"), "
                f"or convert the column first, e.g. df[{text_column!r}].astype(str)."
            )
    return texts, labels


def _read_class_folders(folder):
    """`(texts, class folder names)` of `folder/<class_name>/**/*.txt`, in
    sorted path order."""
    classes = sorted(d for d in folder.iterdir() if d.is_dir() and d.name != _UNLABELED)
    if not classes:
        raise ValueError(
            f"{folder} holds no class folders. {_OWNER} reads a folder laid out as {_LAYOUT} "
            "(as keras.utils.text_dataset_from_directory does), or a file."
        )
    texts, names = [], []
    for class_folder in classes:
        files = sorted(class_folder.rglob("*.txt"))
        if not files:
            raise ValueError(
                f"Class folder {class_folder} holds no .txt files. Put the texts of class "
                f"{class_folder.name!r} there, one per .txt file, or remove the folder."
            )
        for file in files:
            try:
                texts.append(file.read_text(encoding="utf-8"))
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{file} is not UTF-8 text ({error}). Save it again as UTF-8."
                ) from None
        names.extend([class_folder.name] * len(files))
    return np.array(texts, dtype=object), np.array(names, dtype=object)


def _encode_labels(values, class_names, where, *, argument):
    """`(int32 labels, class_names)` of label values without missing ones;
    `where` says where they come from, `argument` names the argument that
    errors are about."""
    import pandas as pd

    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind not in ("boolean", "integer", "floating", "mixed-integer-float", "string"):
        types = sorted({type(value).__name__ for value in values.tolist()})
        raise ArgumentError(
            argument,
            f"{_OWNER} found labels of types {types} in {where}: write every label the same "
            "way, as 0 and 1, as booleans, or as two class names.",
        )
    found = sorted(set(values.tolist()))
    if len(found) != 2:
        if argument == "path":
            fix = ("Keep two class folders." if len(found) > 2
                   else "Add a folder of texts of the other class.")
        else:
            fix = ("Keep the rows of two classes, or pass the column of a two-class label."
                   if len(found) > 2 else "Add texts of the other class, or pass another column.")
        raise ArgumentError(
            argument,
            f"{_OWNER} found {len(found)} class{'es' if len(found) > 1 else ''} {found} in "
            f"{where}: a binary classifier needs exactly two. {fix}",
        )
    if kind != "string":
        if set(found) != {0, 1}:
            raise ArgumentError(
                argument,
                f"{_OWNER} found the labels {found} in {where}: numeric labels must be 0 and "
                "1 (1 the positive class). Map them to 0 and 1 first, or write the two "
                "classes as names, e.g. 'neg' and 'pos'.",
            )
        default = ("False", "True") if kind == "boolean" else ("0", "1")
        return values.astype("int32"), class_names or default
    if class_names is None:
        class_names = tuple(found)
    unknown = [value for value in found if value not in class_names]
    if unknown:
        raise ArgumentError(
            "class_names",
            f"{_OWNER} received class_names={class_names!r}, but {where} holds the labels "
            f"{found}: {unknown} not among them. Pass the two labels, that of class 0 first, "
            f"e.g. class_names={tuple(found)!r}.",
        )
    return (values == class_names[1]).astype("int32"), class_names


def load_word_vectors(path, vocabulary, *, dim=None):
    """Reads pretrained word vectors into a matrix aligned to `vocabulary`.

    The file holds one `word v1 v2 ... v_dim` line per word, in GloVe's text
    format, or word2vec's (the same after a `count dim` header line); it may
    be gzipped (`.gz`). It is streamed, and only the vectors of vocabulary
    words are kept. Words match exactly (GloVe's are lower-cased, as
    `TextVectorization` leaves them); the first vector of a repeated word
    wins. A word may hold spaces (as a few in `glove.840B.300d.txt` do): the
    vector is the last `dim` values of its line.

    Rows of words the file lacks (padding `''`, `'[UNK]'`, rare words) are
    zeros, as in the Keras guide "Using pre-trained word embeddings": a
    frozen embedding gives them no made-up signal, and a trainable one
    learns them (the gradient of a row does not depend on its value).

    Args:
        path: the vectors file, e.g. `glove.6B.100d.txt` or `wiki.en.vec.gz`.
        vocabulary: the tokens, row `i` for token `i`, e.g.
            `vectorizer.get_vocabulary()` (0 is padding, 1 is `[UNK]`).
        dim: the vector size, checked against the file; read from it if None.

    Returns:
        `(matrix, found)`: a float32 array `(len(vocabulary), dim)` and the
        number of vocabulary words that have a vector in the file.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
    >>> with open(path, "w") as file:
    ...     _ = file.write("film 0.5 -1.0\\nthe 0.25 0.75\\n")
    >>> vocabulary = ["", "[UNK]", "film", "good"]
    >>> matrix, found = load_word_vectors(path, vocabulary)
    >>> matrix.tolist(), found
    ([[0.0, 0.0], [0.0, 0.0], [0.5, -1.0], [0.0, 0.0]], 1)
    >>> embedding = keras.layers.Embedding(
    ...     len(vocabulary), matrix.shape[1], mask_zero=True, trainable=False,
    ...     embeddings_initializer=keras.initializers.Constant(matrix))
    """
    owner = "load_word_vectors"
    if dim is not None:
        dim = check_positive_int("dim", dim, owner=owner,
                                 example="load_word_vectors(path, vocabulary, dim=100)")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{owner} received path={str(path)!r}, which is not a file. Pass a GloVe or "
            "word2vec text file, e.g. glove.6B.100d.txt."
        )
    rows = {}
    for i, word in enumerate(vocabulary):
        if not isinstance(word, str):
            raise ArgumentError(
                "vocabulary",
                f"{owner} received a {type(word).__name__} at position {i} of vocabulary "
                f"({word!r:.40}): expected the tokens as strings, e.g. "
                "vectorizer.get_vocabulary().",
            )
        rows.setdefault(word, i)
    name = path.name
    matrix = None
    found = np.zeros(len(vocabulary), dtype=bool)
    declared = None
    count = 0
    opener = gzip.open if name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                line = line.rstrip()
                if not line:
                    continue
                if number == 1 and _is_header(line):
                    declared, header_dim = (int(field) for field in line.split(" "))
                    dim = _check_dim(dim, header_dim, name, number)
                    continue
                if matrix is None:
                    dim = _check_dim(dim, line.count(" "), name, number)
                    matrix = np.zeros((len(vocabulary), dim), dtype=np.float32)
                count += 1
                if line.count(" ") == dim:
                    word, _, values = line.partition(" ")
                else:
                    word, values = _split_odd_line(line, dim, name, number)
                row = rows.get(word)
                if row is None or found[row]:
                    continue
                try:
                    matrix[row] = np.array(values.split(" "), dtype=np.float32)
                except ValueError:
                    raise ValueError(
                        f"Line {number} of {name} holds values that are not numbers "
                        f"({values:.60}...). Expected 'word v1 v2 ...': the file is damaged or "
                        "not GloVe/word2vec text; fetch or write it again."
                    ) from None
                found[row] = True
    except UnicodeDecodeError:
        raise ValueError(
            f"{name} is not UTF-8 text. {owner} reads the text formats "
            "of GloVe and word2vec: convert a binary word2vec file first, e.g. with gensim, "
            "KeyedVectors.load_word2vec_format(path, binary=True)"
            ".save_word2vec_format('vectors.txt')."
        ) from None
    if matrix is None:
        raise ValueError(
            f"{name} holds no word vectors: expected lines 'word v1 v2 ...' (GloVe), after a "
            "'count dim' line for word2vec. An interrupted download leaves an empty file: "
            "fetch it again."
        )
    if declared is not None and declared != count:
        raise ValueError(
            f"{name} declares {declared} vectors on line 1 but holds {count}: the file is "
            "truncated or damaged. Fetch or write it again."
        )
    return matrix, int(found.sum())


def _is_header(line):
    fields = line.split(" ")
    return len(fields) == 2 and all(field.isdigit() for field in fields)


def _check_dim(dim, file_dim, name, number):
    if dim is not None and dim != file_dim:
        raise ArgumentError(
            "dim",
            f"load_word_vectors received dim={dim}, but the vectors of {name} have {file_dim} "
            f"values (line {number}). Pass dim={file_dim}, or a file of {dim}-dimensional "
            "vectors.",
        )
    return file_dim


def _split_odd_line(line, dim, name, number):
    """`(word, values)` of a line whose word holds spaces; raises if the line
    has too few or too many values instead."""
    fields = line.split(" ")
    word = fields[:-dim] if len(fields) > dim else []
    if not word or all(_is_number(field) for field in word[1:]):
        raise ValueError(
            f"Line {number} of {name} has {len(fields) - 1} values after its word, expected "
            f"{dim} (as on the first line): the file is truncated or damaged. Fetch or write "
            "it again."
        )
    return " ".join(word), " ".join(fields[-dim:])


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True
