"""Tests for `pipelines.lm`: vocabulary, corpora and the batches of a token stream."""

import gzip

import numpy as np
import pytest

from pipelines.lm import Corpus
from pipelines.lm import Vocabulary
from pipelines.lm import bptt_dataset
from pipelines.lm import load_ptb
from pipelines.lm import load_shakespeare
from pipelines.lm import load_text
from pipelines.lm import split_tokens
from pipelines.lm import window_dataset
from pipelines.validation import ArgumentError

# Lines of 12 to 16 characters; every character of the later lines occurs
# in the first ones, so a char-level vocabulary of the train split decodes
# the whole text.
LINES = [f"line {i:02d} {'w' * (i % 5 + 1)}\n" for i in range(20)]
TEXT = "".join(LINES)


def batches(dataset):
    """The dataset's batches as lists of NumPy arrays."""
    return [[t.numpy() for t in batch] for batch in dataset]


# --- Vocabulary --------------------------------------------------------------


def test_build_orders_by_frequency_then_alphabetically_unk_first():
    # c 3 times, b twice, a and d once (a before d); <unk> in the text is not ranked.
    vocab = Vocabulary.build(["b", "c", "<unk>", "d", "c", "b", "a", "c", "<unk>", "<unk>", "<unk>"])
    assert vocab.tokens == ["<unk>", "c", "b", "a", "d"]
    assert len(vocab) == 5 and vocab.level == "word"
    assert vocab.index == {"<unk>": 0, "c": 1, "b": 2, "a": 3, "d": 4}


def test_build_keeps_max_tokens_and_min_count():
    tokens = ["b", "c", "d", "c", "b", "c", "a"]
    assert Vocabulary.build(tokens, max_tokens=3).tokens == ["<unk>", "c", "b"]
    assert Vocabulary.build(tokens, max_tokens=1).tokens == ["<unk>"]
    assert Vocabulary.build(tokens, min_count=2).tokens == ["<unk>", "c", "b"]
    assert Vocabulary.build(tokens, min_count=3).tokens == ["<unk>", "c"]
    assert Vocabulary.build(tokens, max_tokens=100).tokens == ["<unk>", "c", "b", "a", "d"]
    with pytest.raises(ArgumentError, match=r"Vocabulary.build received max_tokens=0\. .*max_tokens=10000"):
        Vocabulary.build(tokens, max_tokens=0)


def test_encode_maps_unknown_tokens_to_zero_and_decode_inverts():
    vocab = Vocabulary(["<unk>", "the", "cat", "sat"])
    ids = vocab.encode(["the", "dog", "sat", "the"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [1, 0, 3, 1]
    assert vocab.decode(ids) == ["the", "<unk>", "sat", "the"]
    assert vocab.decode([2, 0]) == ["cat", "<unk>"]
    assert vocab.encode([]).tolist() == []


def test_join_words_with_eos_as_line_breaks_and_chars_as_they_are():
    words = Vocabulary(["<unk>", "<eos>", "a", "b", "c"])
    assert words.join(["a", "b", "<eos>", "c", "<eos>"]) == "a b\nc\n"
    assert words.join(["a", "b", "<eos>", "c"]) == "a b\nc"
    assert words.join(["a", "<unk>"]) == "a <unk>"
    chars = Vocabulary(["<unk>", "a", "b", "\n", " "], level="char")
    assert chars.join(["a", " ", "b", "\n", "a"]) == "a b\na"
    assert chars.tokenize("ab\n") == ["a", "b", "\n"]
    assert words.tokenize("a b\nc") == ["a", "b", "<eos>", "c", "<eos>"]


def test_join_puts_no_space_after_a_line_break():
    words = Vocabulary(["<unk>", "<eos>", "a", "b"])
    assert words.join(["<eos>", "a"]) == "\na"
    assert words.join(["a", "<eos>", "<eos>", "b"]) == "a\n\nb"


@pytest.mark.parametrize("level", ["word", "char"])
def test_save_and_load_round_trip(tmp_path, level):
    vocab = Vocabulary(["<unk>", "é", "the", "\n"], level=level)
    vocab.save(tmp_path / "vocabulary.json")
    loaded = Vocabulary.load(tmp_path / "vocabulary.json")
    assert loaded == vocab
    assert loaded.tokens == ["<unk>", "é", "the", "\n"] and loaded.level == level
    assert loaded.encode(["the", "é", "x"]).tolist() == [2, 1, 0]


def test_equality_compares_tokens_and_level():
    vocab = Vocabulary(["<unk>", "a", "b"])
    assert vocab == Vocabulary(["<unk>", "a", "b"])
    assert vocab != Vocabulary(["<unk>", "b", "a"])
    assert vocab != Vocabulary(["<unk>", "a", "b"], level="char")
    assert vocab != ["<unk>", "a", "b"]


def test_vocabulary_errors():
    with pytest.raises(ValueError, match=r"tokens starting \['a', '<unk>'\]\. The first token must be '<unk>'"):
        Vocabulary(["a", "<unk>"])
    with pytest.raises(ValueError, match=r"tokens starting \[\]\. The first token must be '<unk>'"):
        Vocabulary([])
    with pytest.raises(ValueError, match="Vocabulary received the token 'b' twice. Give each once."):
        Vocabulary(["<unk>", "a", "b", "c", "b"])
    with pytest.raises(ArgumentError, match="Vocabulary received level='byte'. Expected one of 'word', 'char'."):
        Vocabulary(["<unk>", "a"], level="byte")


# --- split_tokens ------------------------------------------------------------


def test_split_tokens_words_end_each_nonblank_line_with_eos():
    assert split_tokens("a b\n\n  c  d \n") == ["a", "b", "<eos>", "c", "d", "<eos>"]
    # A last line without a line break ends with <eos> too.
    assert split_tokens(" the cat\nsat") == ["the", "cat", "<eos>", "sat", "<eos>"]
    assert split_tokens("") == [] and split_tokens(" \n\n") == []


def test_split_tokens_chars_keep_every_character():
    assert split_tokens("a b\n", "char") == ["a", " ", "b", "\n"]
    assert split_tokens("", "char") == []


def test_split_tokens_rejects_non_str():
    with pytest.raises(TypeError, match="split_tokens received bytes b'ab'. Pass a str."):
        split_tokens(b"ab")
    with pytest.raises(TypeError, match=r"split_tokens received list \['a'\]. Pass a str."):
        split_tokens(["a"])


# --- load_text ---------------------------------------------------------------


def test_a_file_is_cut_at_line_breaks_into_contiguous_splits(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    corpus = load_text(path, level="char", validation_split=0.2, test_split=0.1)
    assert isinstance(corpus, Corpus) and corpus.level == "char" and corpus.source == str(path)
    vocab = corpus.vocabulary
    texts = ["".join(vocab.decode(corpus.split(name))) for name in ("train", "val", "test")]
    # Every character is in the train split's vocabulary, so nothing became <unk>.
    assert "<unk>" not in "".join(texts)
    assert "".join(texts) == TEXT
    # 70% of the 240 characters is 168, inside line 14 (166 to 180): the cut
    # moves to that line's end. 90% is 216, inside line 18 (213 to 226).
    assert texts == ["".join(LINES[:15]), "".join(LINES[15:19]), LINES[19]]
    longest = max(len(line) for line in LINES)
    assert 0.7 * len(TEXT) <= len(texts[0]) < 0.7 * len(TEXT) + longest
    assert 0.9 * len(TEXT) <= len(texts[0]) + len(texts[1]) < 0.9 * len(TEXT) + longest
    for stream in (corpus.train, corpus.validation, corpus.test):
        assert stream.dtype == np.int32 and stream.ndim == 1


def test_a_file_without_test_share_has_no_test_split(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    corpus = load_text(path)
    assert corpus.test is None and corpus.split("test") is None
    # 20 lines of 3 words and a <eos> each: 80 tokens. 90% of the 240
    # characters (216) ends inside line 18: the last line is held out.
    assert len(corpus.train) + len(corpus.validation) == 80
    assert len(corpus.train) == 76 and corpus.split("val") is corpus.validation
    # "19" is only in the last line, held out: <unk>.
    assert corpus.vocabulary.decode(corpus.validation) == ["line", "<unk>", "wwwww", "<eos>"]


def test_the_vocabulary_is_built_on_the_train_split_only(tmp_path):
    (tmp_path / "train.txt").write_text("the cat sat\nthe dog\n", encoding="utf-8")
    (tmp_path / "valid.txt").write_text("the zebra sat\n", encoding="utf-8")
    (tmp_path / "test.txt").write_text("a dog\n", encoding="utf-8")
    corpus = load_text(tmp_path)
    assert corpus.vocabulary.tokens == ["<unk>", "<eos>", "the", "cat", "dog", "sat"]
    assert corpus.train.tolist() == [2, 3, 5, 1, 2, 4, 1]
    # "zebra" and "a" are only in validation and test: <unk>.
    assert corpus.validation.tolist() == [2, 0, 5, 1]
    assert corpus.test.tolist() == [0, 4, 1]


def test_a_folder_without_test_file_has_no_test_split(tmp_path):
    (tmp_path / "lm.train.txt").write_text("a b\n", encoding="utf-8")
    (tmp_path / "lm.valid.txt").write_text("b a\n", encoding="utf-8")
    corpus = load_text(tmp_path)
    assert corpus.test is None
    assert corpus.vocabulary.decode(corpus.validation) == ["b", "a", "<eos>"]


def test_min_count_and_max_tokens_reach_the_vocabulary(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("a a a b b c\n" * 9 + "a\n", encoding="utf-8")
    # The train split is the first 9 lines: a 27 times, b 18, c and <eos> 9.
    assert load_text(path, min_count=10).vocabulary.tokens == ["<unk>", "a", "b"]
    assert load_text(path, min_count=19).vocabulary.tokens == ["<unk>", "a"]
    assert load_text(path, max_tokens=4).vocabulary.tokens == ["<unk>", "a", "b", "<eos>"]


def test_a_gzipped_file_reads_as_the_plain_one(tmp_path):
    plain = tmp_path / "corpus.txt"
    plain.write_text(TEXT, encoding="utf-8")
    packed = tmp_path / "corpus.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as file:
        file.write(TEXT)
    expected, corpus = load_text(plain, level="char"), load_text(packed, level="char")
    assert corpus.vocabulary == expected.vocabulary
    np.testing.assert_array_equal(corpus.train, expected.train)
    np.testing.assert_array_equal(corpus.validation, expected.validation)


def test_load_text_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.txt is empty. A language model needs a corpus"):
        load_text(empty)
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    for shares in [(0, 0.0), (0.5, 0.5), (0.1, -0.1), (True, 0.0), ("0.1", 0.0)]:
        with pytest.raises(ArgumentError, match=f"load_text received validation_split={shares[0]} and "
                                                f"test_split={shares[1]}. Hold out a positive share"):
            load_text(path, validation_split=shares[0], test_split=shares[1])
    with pytest.raises(ArgumentError, match="load_text received level='byte'"):
        load_text(path, level="byte")
    with pytest.raises(FileNotFoundError, match="which is neither a file nor a folder"):
        load_text(tmp_path / "missing.txt")
    # One line cannot be cut: the validation split would be empty.
    line = tmp_path / "line.txt"
    line.write_text("one long line\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line.txt has 1 line\(s\), and splits are cut between lines: "
                                         "its val split is empty"):
        load_text(line)


def test_a_folder_needs_train_and_valid_files(tmp_path):
    (tmp_path / "train.txt").write_text("a b\n", encoding="utf-8")
    (tmp_path / "test.txt").write_text("a b\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"needs one file named \*train\*, one \*valid\* and at most "
                                                r"one \*test\*; it holds \['test.txt', 'train.txt'\]"):
        load_text(tmp_path)


def test_corpus_split_names():
    corpus = Corpus(train=np.arange(3), validation=np.arange(2), test=None,
                    vocabulary=Vocabulary(["<unk>", "a", "b"]))
    assert corpus.split("train").tolist() == [0, 1, 2]
    with pytest.raises(ArgumentError, match="Corpus.split received split='dev'. Expected one of 'train', 'val'"):
        corpus.split("dev")


# --- load_ptb ----------------------------------------------------------------


def write_ptb(folder):
    folder.mkdir()
    for name, text in (("train", " a b <unk> \n b a \n"), ("valid", " b c \n"), ("test", " a \n")):
        (folder / f"ptb.{name}.txt").write_text(text, encoding="utf-8")
    return folder


def test_load_ptb_reads_a_folder(tmp_path):
    corpus = load_ptb(write_ptb(tmp_path / "ptb"))
    assert corpus.vocabulary.tokens == ["<unk>", "<eos>", "a", "b"]
    assert corpus.train.tolist() == [2, 3, 0, 1, 3, 2, 1]
    assert corpus.validation.tolist() == [3, 0, 1] and corpus.test.tolist() == [2, 1]
    with pytest.raises(FileNotFoundError, match="load_ptb received path=.*, which holds no ptb.train.txt"):
        load_ptb(tmp_path)


def test_load_ptb_source_is_the_folder_it_read(tmp_path):
    folder = write_ptb(tmp_path / "ptb")
    assert load_ptb(folder).source == str(folder)


def test_ptb_has_the_published_sizes(data_file):
    data_file("ptb/ptb.train.txt.gz")
    corpus = load_ptb()
    assert len(corpus.vocabulary) == 10_000 and corpus.level == "word"
    assert [len(corpus.train), len(corpus.validation), len(corpus.test)] == [929_589, 73_760, 82_430]
    assert corpus.vocabulary.tokens[:2] == ["<unk>", "the"]
    assert corpus.source.endswith("ptb")


def test_shakespeare_has_every_character(data_file):
    data_file("tinyshakespeare.txt.gz")
    corpus = load_shakespeare()
    assert corpus.level == "char" and corpus.test is None
    assert len(corpus.train) + len(corpus.validation) == 1_115_394
    vocab = corpus.vocabulary
    assert len(vocab) <= 66
    assert "".join(vocab.decode(corpus.train[:14])) == "First Citizen:"
    # Cut at a line break, about 10% from the end.
    assert vocab.decode(corpus.train[-1:]) == ["\n"]
    assert 0.1 * 1_115_394 - 100 < len(corpus.validation) <= 0.1 * 1_115_394


# --- bptt_dataset ------------------------------------------------------------


def test_bptt_batches_written_out():
    ds = bptt_dataset(np.arange(11), batch_size=2, seq_len=3)
    got = batches(ds)
    assert [x.tolist() for x, y in got] == [[[0, 1, 2], [4, 5, 6]], [[3], [7]]]
    assert [y.tolist() for x, y in got] == [[[1, 2, 3], [5, 6, 7]], [[4], [8]]]
    assert all(x.dtype == np.int32 and y.dtype == np.int32 for x, y in got)


@pytest.mark.parametrize("length, batch_size, seq_len", [(23, 3, 4), (40, 4, 5), (12, 1, 7), (17, 8, 2)])
def test_bptt_rows_continue_from_batch_to_batch(length, batch_size, seq_len):
    ids = np.random.default_rng(length).integers(0, 50, size=length)
    got = batches(bptt_dataset(ids, batch_size=batch_size, seq_len=seq_len))
    assert all(x.shape[0] == batch_size for x, _ in got)
    assert all(x.shape[1] == seq_len for x, _ in got[:-1]) and 1 <= got[-1][0].shape[1] <= seq_len
    x = np.concatenate([x for x, _ in got], axis=1)
    y = np.concatenate([y for _, y in got], axis=1)
    # Row i, read across batches, is the i-th contiguous part of the stream;
    # the tokens that do not fill a row are dropped (as many for any offset
    # below seq_len).
    steps = (length - seq_len) // batch_size
    assert x.shape == (batch_size, steps)
    for i in range(batch_size):
        np.testing.assert_array_equal(x[i], ids[i * steps:(i + 1) * steps])
        np.testing.assert_array_equal(y[i], ids[i * steps + 1:(i + 1) * steps + 1])


@pytest.mark.parametrize("length", [100, 101, 117])
def test_every_epoch_has_as_many_batches_whatever_its_offset(length):
    ids = np.arange(length)
    counts = {len(batches(bptt_dataset(ids, batch_size=4, seq_len=7, offset=k))) for k in range(7)}
    assert len(counts) == 1
    counts = {len(batches(window_dataset(ids, batch_size=4, seq_len=7, seed=k))) for k in range(10)}
    assert len(counts) == 1


def test_bptt_without_drop_remainder_predicts_every_token_once():
    # Ids 1..11: padding (0) is told apart from tokens.
    ids = np.arange(1, 12)
    got = batches(bptt_dataset(ids, batch_size=4, seq_len=2, drop_remainder=False))
    assert [x.tolist() for x, _, _ in got] == [[[1, 2], [4, 5], [7, 8], [10, 0]], [[3], [6], [9], [0]]]
    x, y, weights = (np.concatenate([b[k] for b in got], axis=1) for k in range(3))
    assert weights.dtype == np.float32 and set(np.unique(weights)) == {0.0, 1.0}
    # Read row by row, the weighted targets are the stream after its first token.
    np.testing.assert_array_equal(y.ravel()[weights.ravel() == 1], ids[1:])
    np.testing.assert_array_equal(x.ravel()[weights.ravel() == 1], ids[:-1])
    assert np.all(y[weights == 0] == 0) and np.all(x[weights == 0] == 0)
    assert weights.sum() == len(ids) - 1


def test_bptt_without_drop_remainder_accepts_a_stream_shorter_than_a_batch():
    x, y, weights = batches(bptt_dataset(np.array([4, 5, 6]), batch_size=4, seq_len=3, drop_remainder=False))[0]
    assert x.tolist() == [[4], [5], [0], [0]] and y.tolist() == [[5], [6], [0], [0]]
    assert weights.tolist() == [[1], [1], [0], [0]]


def test_bptt_offset_skips_tokens():
    got = batches(bptt_dataset(np.arange(11), batch_size=2, seq_len=3, offset=1))
    assert [x.tolist() for x, y in got] == [[[1, 2, 3], [5, 6, 7]], [[4], [8]]]
    assert [y.tolist() for x, y in got] == [[[2, 3, 4], [6, 7, 8]], [[5], [9]]]


def test_bptt_errors():
    ids = np.arange(11)
    with pytest.raises(ArgumentError, match=r"bptt_dataset received seq_len=0. `seq_len` must be a positive "
                                            r"integer, e.g. seq_len=35."):
        bptt_dataset(ids, seq_len=0)
    with pytest.raises(ArgumentError, match="bptt_dataset received batch_size=0. .* e.g. batch_size=20."):
        bptt_dataset(ids, batch_size=0)
    with pytest.raises(ValueError, match="bptt_dataset received a stream of 4 tokens, too short for "
                                         "batch_size=4 rows"):
        bptt_dataset(np.arange(4), batch_size=4, seq_len=2)
    with pytest.raises(ValueError, match=r"a stream of 1 token\(s\): scoring needs at least 2"):
        bptt_dataset(np.arange(1), batch_size=1, drop_remainder=False)
    with pytest.raises(ValueError, match=r"bptt_dataset received ids of shape \(2, 3\) and dtype int64. "
                                         r"Pass a 1-D array of token ids"):
        bptt_dataset(np.zeros((2, 3), "int64"), batch_size=1)
    with pytest.raises(ValueError, match=r"ids of shape \(4,\) and dtype float32"):
        bptt_dataset(np.zeros(4, "float32"), batch_size=1)
    for offset in (-1, 10):
        with pytest.raises(ArgumentError, match=f"bptt_dataset received offset={offset} for a stream of 11 "
                                                "tokens. Pass 0 <= offset < 10."):
            bptt_dataset(ids, batch_size=2, offset=offset)


# --- window_dataset ----------------------------------------------------------


def test_windows_in_order_without_shuffle():
    got = batches(window_dataset(np.arange(9), batch_size=4, seq_len=2, shuffle=False))
    assert [x.tolist() for x, y in got] == [[[0, 1], [2, 3], [4, 5], [6, 7]]]
    assert [y.tolist() for x, y in got] == [[[1, 2], [3, 4], [5, 6], [7, 8]]]
    got = batches(window_dataset(np.arange(100), batch_size=8, seq_len=4, shuffle=False))
    assert [len(x) for x, _ in got] == [8, 8, 8]
    x = np.concatenate([x for x, _ in got])
    np.testing.assert_array_equal(x, np.arange(96).reshape(24, 4))


def windows(seed, ids=np.arange(200)):
    got = batches(window_dataset(ids, batch_size=7, seq_len=4, seed=seed))
    return np.concatenate([x for x, _ in got]), np.concatenate([y for _, y in got])


def test_shuffled_windows_are_non_overlapping_and_targets_shift_by_one():
    x, y = windows(seed=0)
    # The stream is 0..199: a window is consecutive ids, its targets the next ones.
    np.testing.assert_array_equal(x, x[:, :1] + np.arange(4))
    np.testing.assert_array_equal(y, x + 1)
    starts = np.sort(x[:, 0])
    assert np.all(np.diff(starts) == 4) and 0 <= starts[0] < 4
    assert len(starts) == (200 - starts[0] - 1) // 4
    assert not np.all(np.diff(x[:, 0]) > 0), "the windows were not shuffled"


def test_the_seed_fixes_the_window_order():
    first, _ = windows(seed=0)
    np.testing.assert_array_equal(windows(seed=0)[0], first)
    other, _ = windows(seed=1)
    assert not np.array_equal(other, first)


def test_window_errors():
    with pytest.raises(ValueError, match=r"window_dataset received a stream of 4 tokens, shorter than one "
                                         r"window of seq_len=4 \+ 1"):
        window_dataset(np.arange(4), seq_len=4)
    with pytest.raises(ArgumentError, match="window_dataset received seq_len=0"):
        window_dataset(np.arange(40), seq_len=0)
    with pytest.raises(ValueError, match=r"window_dataset received ids of shape \(2, 20\)"):
        window_dataset(np.zeros((2, 20), "int32"))
