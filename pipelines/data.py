"""Where data files live, and how they are fetched and checked.

Files are looked up in the data directory: `$KERASSEQ_DATA_DIR` if set, else
`~/.cache/kerasseq`. A file missing there is downloaded into it by
`keras.utils.get_file` (progress bar, SHA-256 check), and a file named in
`CHECKSUMS` is checked wherever it comes from. What Keras lacks is here: the
lookup in the shared data layout, and the git blob id check that the full
Jena CSV is known by.
"""

import hashlib
import os
import zipfile
from pathlib import Path

# Known files, by their path in the data directory (the layout of the shared
# data set), with ("sha256" | "md5" | "git_blob_sha1", hex digest) of the file as
# stored. The full Jena CSV is known only by its git blob id, the one value
# two public repositories holding the whole file agree on.
CHECKSUMS = {
    # The archive as Stanford serves it, known by the MD5 published with it.
    "aclImdb_v1.tar.gz": ("md5", "7c2ac02c03563afcf9b574c7e56c153a"),
    "aclImdb_v1.tar.xz": ("sha256", "de19f7ec1063f7ea8a38a4aeea839c13423493f57c719cabb4895f1a50cb43f6"),
    "ptb/ptb.train.txt.gz": ("sha256", "c4c6455d85f60640431f7bc738d51265ba2d55dcce10e8906322d6f9e3dcca81"),
    "ptb/ptb.valid.txt.gz": ("sha256", "f2148d96d82f827399b7e5040868a4541bd2d2612ebaf5a2ff213bc07fd74eb8"),
    "ptb/ptb.test.txt.gz": ("sha256", "5015d206077ff3e96161868c5c280ec8a28e9ad5617ef99ee0e734aaef6130c5"),
    "tinyshakespeare.txt.gz": ("sha256", "bed00f18e91cda6838950656f0a95e07e0f4dbe8649a4b959f7602a7e53fbc6e"),
    "jena_climate_2009_2016.partial-4000rows-12cols.csv.gz": (
        "sha256", "9de67d18a184d5ea11e9a5f5ab7e0b258d30ab1233b68f47589ac79aa5c19e83"),
    "jena_climate_2009_2016.head-19rows-15cols.csv.gz": (
        "sha256", "530dc1bd0d6edde733f58f9bcf425d9baf64643031cdc2896fd228a185b1ff19"),
    "jena/jena_climate_2009_2016.hourly-6cols.csv.gz": (
        "sha256", "f49f94ef915a2f1b60eaf99ffc495145363f42af01f55739fc68791eff18c611"),
    "jena_climate_2009_2016.csv": ("git_blob_sha1", "3dc17139ed8afe4f693b3b88cbdd6e3a69e2de0c"),
}


def data_dir():
    """Returns the data directory: `$KERASSEQ_DATA_DIR`, else `~/.cache/kerasseq`.

    Returns:
        A `Path` (not created here).

    Example:
    >>> os.environ["KERASSEQ_DATA_DIR"] = "/srv/data"  # doctest: +SKIP
    >>> data_dir()  # doctest: +SKIP
    PosixPath('/srv/data')
    """
    return Path(os.environ.get("KERASSEQ_DATA_DIR") or Path.home() / ".cache" / "kerasseq")


def find(filename):
    """Returns the path of `filename` in the data directory, or `None`.

    Looks for `data_dir() / filename`, then for the file at its place in the
    shared layout (e.g. `jena/` for the hourly Jena file).

    Args:
        filename: a file name, e.g. `"ptb.train.txt.gz"`.

    Returns:
        A `Path` to an existing file, or `None`.

    Example:
    >>> find("no-such-file.csv") is None
    True
    """
    candidates = [data_dir() / filename]
    candidates += [data_dir() / known for known in CHECKSUMS if Path(known).name == filename]
    return next((path for path in candidates if path.is_file()), None)


def fetch(filename, *, url, sha256=None, git_blob_sha1=None, md5=None, path=None):
    """Returns a local path to `filename`, downloading it if needed.

    Uses `path` if given, else the file in the data directory (see `find`),
    else downloads `url` into the data directory with
    `keras.utils.get_file`. The file is checked against `sha256` /
    `git_blob_sha1`, or against `CHECKSUMS` when neither is given and the
    file's name is a known one. A download that fails its check is deleted.

    Args:
        filename: the file's name in the data directory.
        url: where to download it from.
        sha256: optional hex SHA-256 the file must have.
        git_blob_sha1: optional git blob id the file must have.
        md5: optional hex MD5 the file must have (where that is all the
            source publishes).
        path: optional local file to use instead.

    Returns:
        The `Path` of the checked file.

    Example:
    >>> fetch("ptb.valid.txt.gz", url="https://example.org/ptb.valid.txt.gz")  # doctest: +SKIP
    PosixPath('/home/me/.cache/kerasseq/ptb/ptb.valid.txt.gz')
    """
    if sha256 is None and git_blob_sha1 is None and md5 is None:
        # By the name of the file used, so a renamed copy passed as `path`
        # (perhaps edited on purpose) is not held to the original's checksum.
        sha256, git_blob_sha1, md5 = _known_checksum(Path(path or filename).name)
    if path is not None:
        local = Path(path)
        if not local.is_file():
            raise FileNotFoundError(f"fetch received path={str(path)!r}, which is not a file.")
    else:
        local = find(filename)
    if local is not None:
        return verify(local, sha256=sha256, git_blob_sha1=git_blob_sha1, md5=md5)
    local = _download(filename, url, sha256)
    try:
        return verify(local, git_blob_sha1=git_blob_sha1, md5=md5)
    except ValueError:
        # A bad download is not kept: the next call downloads it again.
        local.unlink()
        raise


def verify(path, *, sha256=None, git_blob_sha1=None, md5=None, member=None):
    """Raises `ValueError` if the file at `path` has not the given checksum(s).

    Args:
        path: the file to check.
        sha256: optional hex SHA-256.
        git_blob_sha1: optional git blob id: SHA-1 of `b"blob <size>\\0"`
            followed by the bytes.
        md5: optional hex MD5.
        member: optional name of a file in the zip archive `path`: that file
            is checked, unpacked on the fly, instead of the archive.

    Returns:
        `path`.

    Example:
    >>> verify(__file__) == __file__
    True
    """
    expected = {"sha256": sha256, "git_blob_sha1": git_blob_sha1, "md5": md5}
    for kind, digest in expected.items():
        if digest is None:
            continue
        actual = _digest(path, kind, member)
        if actual != digest.lower():
            checked = path if member is None else f"{member} in {path}"
            raise ValueError(
                f"{checked} has {kind} {actual}, expected {digest}: the file is "
                "corrupt, truncated or another version. Delete it and fetch "
                "it again."
            )
    return path


def _known_checksum(filename):
    for known, (kind, digest) in CHECKSUMS.items():
        if Path(known).name == Path(filename).name:
            return tuple(digest if kind == k else None for k in ("sha256", "git_blob_sha1", "md5"))
    return None, None, None


def _digest(path, kind, member=None):
    if member is None:
        with open(path, "rb") as file:
            return _hash(file, os.path.getsize(path), kind)
    with zipfile.ZipFile(path) as archive, archive.open(member) as file:
        return _hash(file, archive.getinfo(member).file_size, kind)


def _hash(file, size, kind):
    if kind in ("sha256", "md5"):
        hasher = hashlib.new(kind)
    else:
        hasher = hashlib.sha1(b"blob %d\0" % size)
    for block in iter(lambda: file.read(1 << 20), b""):
        hasher.update(block)
    return hasher.hexdigest()


def _download(filename, url, sha256):
    # Imported here: `import pipelines.data` must not start TensorFlow.
    import keras

    target = data_dir() / filename
    elsewhere = (
        f"Download it elsewhere and put it at {target} (or set "
        "KERASSEQ_DATA_DIR to the directory that holds it), or pass its path."
    )
    # get_file saves into /tmp/.keras when `cache_dir` is not a writable
    # directory, where `find` never looks: the file lands at `target` or
    # is not downloaded.
    target.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(target.parent, os.W_OK):
        raise FileNotFoundError(
            f"{filename} is not in the data directory and cannot be downloaded "
            f"from {url}: {target.parent} is not writable. {elsewhere}"
        )
    # get_file raises a bare Exception when the URL cannot be fetched, after
    # deleting any partial file; on a hash mismatch it raises ValueError and
    # keeps the file. Which one happened is told by the file.
    try:
        keras.utils.get_file(
            fname=target.name, origin=url, file_hash=sha256, hash_algorithm="sha256",
            cache_dir=target.parent, cache_subdir=".",
        )
    except Exception as error:
        if not target.is_file():
            raise FileNotFoundError(
                f"{filename} is not in the data directory and could not be "
                f"downloaded from {url} ({error}). {elsewhere}"
            ) from error
        target.unlink()
        raise ValueError(
            f"{filename} downloaded from {url} has not the expected sha256 "
            f"{sha256}: the download is corrupt or the file changed at its "
            f"source, and was deleted. Try again, or: {elsewhere}"
        ) from error
    return target
