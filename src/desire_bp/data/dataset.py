"""A split of a data set in memory, and loading it from its folder (fetching it if needed)."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .fetch import fetch_dataset
from .files import (
    SHA256,
    SPLIT_FILES,
    _check_name,
    _check_split,
    _find_file,
    _verify_file,
    dataset_dir,
)
from .idx import (
    COLS,
    NUM_CLASSES,
    PIXELS,
    ROWS,
    DataError,
    StrPath,
    read_idx_images,
    read_idx_labels,
)

__all__ = ["Dataset", "load_dataset"]


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
