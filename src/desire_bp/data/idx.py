"""Reading IDX files (the format of MNIST and Fashion-MNIST), raw or gzipped, with format checks.

Every problem raises :class:`DataError` (a ``ValueError``) naming the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

__all__ = [
    "COLS",
    "DataError",
    "IMAGE_MAGIC",
    "LABEL_MAGIC",
    "NUM_CLASSES",
    "PIXELS",
    "ROWS",
    "read_idx_images",
    "read_idx_labels",
]

StrPath = str | os.PathLike[str]

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
ROWS = COLS = 28
PIXELS = ROWS * COLS
NUM_CLASSES = 10

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # bytes per read


class DataError(ValueError):
    """A data file or a data argument is bad; the message names the file and the problem."""


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
