import hashlib
import os
import re
import time
import zipfile
from pathlib import Path

import pytest

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


def test_verify_a_file_in_a_zip(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner/hello.txt", CONTENT)
    assert verify(archive, sha256=SHA256, git_blob_sha1=GIT_BLOB, member="inner/hello.txt") == archive
    with pytest.raises(ValueError, match=rf"inner/hello.txt in {archive} has sha256 {SHA256}, expected 0{{64}}"):
        verify(archive, sha256="0" * 64, member="inner/hello.txt")


def test_fetch_finds_a_known_file_in_its_subfolder(data_home, monkeypatch):
    monkeypatch.setitem(CHECKSUMS, "sub/hello.txt", ("sha256", SHA256))
    (data_home / "sub").mkdir(parents=True)
    (data_home / "sub" / "hello.txt").write_bytes(CONTENT)
    assert find("hello.txt") == data_home / "sub" / "hello.txt"
    assert fetch("hello.txt", url="file:///nowhere") == data_home / "sub" / "hello.txt"
    (data_home / "sub" / "hello.txt").write_bytes(b"changed\n")
    with pytest.raises(ValueError, match="sub/hello.txt has sha256"):
        fetch("hello.txt", url="file:///nowhere")


@pytest.mark.parametrize("filename", ["hello.txt", "sub/hello.txt"])
def test_fetch_downloads_into_the_data_dir(data_home, tmp_path, filename, capsys):
    # The data directory does not exist yet: keras.utils.get_file would then
    # save into /tmp/.keras, where `find` never looks.
    source = tmp_path / "remote.txt"
    source.write_bytes(CONTENT)
    path = fetch(filename, url=source.as_uri(), sha256=SHA256)
    assert path == data_home / filename and path.read_bytes() == CONTENT
    # Downloaded by keras.utils.get_file, which says so before its progress bar.
    assert f"Downloading data from {source.as_uri()}" in capsys.readouterr().out
    # No temporary file is left next to it.
    assert [p.name for p in path.parent.iterdir()] == ["hello.txt"]
    # Found there next time, without downloading.
    source.unlink()
    assert fetch(filename, url=source.as_uri(), sha256=SHA256) == path


def test_fetch_does_not_keep_a_download_with_a_wrong_sha256(data_home, tmp_path):
    source = tmp_path / "remote.txt"
    source.write_bytes(b"truncated")
    with pytest.raises(ValueError) as error:
        fetch("hello.txt", url=source.as_uri(), sha256=SHA256)
    assert str(error.value) == (
        f"hello.txt downloaded from {source.as_uri()} has not the expected sha256 {SHA256}: the download is "
        "corrupt or the file changed at its source, and was deleted. Try again, or: Download it elsewhere and "
        f"put it at {data_home / 'hello.txt'} (or set KERASSEQ_DATA_DIR to the directory that holds it), or "
        "pass its path."
    )
    assert list(data_home.iterdir()) == []


def test_fetch_does_not_keep_a_download_with_a_wrong_git_blob(data_home, tmp_path):
    source = tmp_path / "remote.txt"
    source.write_bytes(b"truncated")
    with pytest.raises(ValueError, match=rf"{data_home / 'hello.txt'} has git_blob_sha1 [0-9a-f]{{40}}, "
                                         rf"expected {GIT_BLOB}"):
        fetch("hello.txt", url=source.as_uri(), git_blob_sha1=GIT_BLOB)
    assert list(data_home.iterdir()) == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "file:///nowhere/hello.txt"])
def test_fetch_without_network_says_where_to_put_the_file(data_home, url):
    began = time.monotonic()
    with pytest.raises(FileNotFoundError) as error:
        fetch("hello.txt", url=url)
    # Nothing listens on the discard port: refused at once, not timed out.
    assert time.monotonic() - began < 10
    message = str(error.value)
    assert message.startswith(f"hello.txt is not in the data directory and could not be downloaded from {url} (")
    assert message.endswith(
        f"). Download it elsewhere and put it at {data_home / 'hello.txt'} (or set KERASSEQ_DATA_DIR to the "
        "directory that holds it), or pass its path."
    )
    assert list(data_home.iterdir()) == []


def test_fetch_does_not_download_into_a_read_only_data_dir(data_home, monkeypatch):
    # As os.access answers for a read-only directory; a chmod would not do
    # when the tests run as root, who may write anywhere.
    data_home.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(FileNotFoundError, match=rf"hello.txt is not in the data directory and cannot be "
                                                rf"downloaded from file:///nowhere: {data_home} is not "
                                                rf"writable\. Download it elsewhere and put it at "):
        fetch("hello.txt", url="file:///nowhere")


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


def readme_checksums(text):
    """Returns {file: sha256 of the stored file} from the data README.

    The files are those of the README's first table; a SHA-256 (64 hex
    digits) belongs to the last file named before it or on its line, unless
    the line gives it for the raw (uncompressed) content.
    """
    listed = re.findall(r"^\| `([^`]+)` \|", text.split("\n---\n")[0], flags=re.M)
    found, current = {}, None
    for line in text.splitlines():
        current = next((name for name in re.findall(r"`([^`]+)`", line) if name in listed), current)
        for digest in re.findall(r"\b[0-9a-f]{64}\b", line):
            if not re.search(r"raw|uncompressed", line):
                found.setdefault(current, []).append(digest)
    return listed, found


def test_known_checksums_cover_the_data_readme(data_file):
    text = data_file("README.md").read_text()
    listed, found = readme_checksums(text)
    # Every file of the table has one checksum, or the README's format changed.
    assert len(listed) >= 8 and sorted(found) == sorted(listed), (listed, found)
    for name, digests in found.items():
        assert digests == [CHECKSUMS[name][1]] and CHECKSUMS[name][0] == "sha256", name
    # The full Jena CSV, not in the shared data, is known by the git blob id the README gives.
    assert CHECKSUMS["jena_climate_2009_2016.csv"] == ("git_blob_sha1", "3dc17139ed8afe4f693b3b88cbdd6e3a69e2de0c")
    assert "3dc17139ed8afe4f693b3b88cbdd6e3a69e2de0c" in text
