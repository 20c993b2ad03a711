import hashlib
from pathlib import Path

import pytest

from pipelines import data
from pipelines.data import CHECKSUMS, data_dir, fetch, find, verify

CONTENT = b"hello\n"
SHA256 = hashlib.sha256(CONTENT).hexdigest()
# `printf 'hello\n' | git hash-object --stdin`
GIT_BLOB = "ce013625030ba8dba906f756967f9e9ca394464a"


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("KERASSEQ_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".cache" / "kerasseq"


def test_verify_sha256_and_git_blob(tmp_path):
    path = tmp_path / "hello.txt"
    path.write_bytes(CONTENT)
    assert verify(path, sha256=SHA256, git_blob_sha1=GIT_BLOB) == path
    with pytest.raises(ValueError, match=rf"hello.txt has git_blob_sha1 {GIT_BLOB}, expected 0{{40}}: the file is "
                                         r"corrupt, truncated or another version\. Delete it"):
        verify(path, git_blob_sha1="0" * 40)


def test_fetch_finds_a_known_file_in_its_subfolder(data_home, monkeypatch):
    monkeypatch.setitem(CHECKSUMS, "sub/hello.txt", ("sha256", SHA256))
    (data_home / "sub").mkdir(parents=True)
    (data_home / "sub" / "hello.txt").write_bytes(CONTENT)
    assert find("hello.txt") == data_home / "sub" / "hello.txt"
    assert fetch("hello.txt", url="file:///nowhere") == data_home / "sub" / "hello.txt"
    (data_home / "sub" / "hello.txt").write_bytes(b"changed\n")
    with pytest.raises(ValueError, match="sub/hello.txt has sha256"):
        fetch("hello.txt", url="file:///nowhere")


def test_fetch_downloads_into_the_data_dir(data_home, tmp_path):
    source = tmp_path / "remote.txt"
    source.write_bytes(CONTENT)
    path = fetch("hello.txt", url=source.as_uri(), sha256=SHA256)
    assert path == data_home / "hello.txt" and path.read_bytes() == CONTENT
    # No temporary file is left next to it.
    assert [p.name for p in data_home.iterdir()] == ["hello.txt"]


def test_fetch_does_not_keep_a_bad_download(data_home, tmp_path):
    source = tmp_path / "remote.txt"
    source.write_bytes(b"truncated")
    with pytest.raises(ValueError, match="hello.txt has sha256"):
        fetch("hello.txt", url=source.as_uri(), sha256=SHA256)
    assert list(data_home.iterdir()) == []


def test_fetch_without_network_says_where_to_put_the_file(data_home, tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"hello.txt is not in the data directory and could not be "
                                                rf"downloaded from file://.*put it at {data_home / 'hello.txt'}"):
        fetch("hello.txt", url=(tmp_path / "missing").as_uri())
    assert list(data_home.iterdir()) == []


def test_fetch_checks_a_given_path_by_its_name(tmp_path, monkeypatch):
    monkeypatch.setitem(CHECKSUMS, "hello.txt", ("sha256", "0" * 64))
    known, renamed = tmp_path / "hello.txt", tmp_path / "my-hello.txt"
    known.write_bytes(CONTENT)
    renamed.write_bytes(CONTENT)
    with pytest.raises(ValueError, match="hello.txt has sha256"):
        fetch("hello.txt", url="file:///nowhere", path=known)
    assert fetch("hello.txt", url="file:///nowhere", path=renamed) == renamed
    with pytest.raises(FileNotFoundError, match=r"fetch received path='.*nothing.txt', which is not a file\."):
        fetch("hello.txt", url="file:///nowhere", path=tmp_path / "nothing.txt")


@pytest.mark.parametrize("name", [k for k, (kind, _) in CHECKSUMS.items() if kind == "sha256"])
def test_known_checksums_match_the_shared_files(name, data_file):
    path = data_file(name)
    assert fetch(Path(name).name, url="file:///nowhere", path=path) == path


def test_known_checksums_cover_the_data_readme():
    assert data.CHECKSUMS["jena/jena_climate_2009_2016.hourly-6cols.csv.gz"][1].startswith("f49f94ef")
    assert len([k for k, (kind, _) in CHECKSUMS.items() if kind == "sha256"]) == 8
