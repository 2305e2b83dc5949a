"""Datasets: the embedded MNIST sample, MNIST, Fashion-MNIST, CIFAR-10 and the user's own.

Loading never touches the network unless asked to (``download=True``); see
:mod:`gdd_studio.data.registry` for where each dataset is looked for and
:mod:`gdd_studio.data.formats` for the checked file readers. No Qt here.
"""

from .registry import (
    BUILTIN_DATASETS,
    FASHION_MNIST_SYSTEM_DIRS,
    NORMALIZATION,
    TITLES,
    DatasetStatus,
    ImageDataset,
    check_dataset_spec,
    dataset_family,
    list_datasets,
    load_dataset,
)

__all__ = [
    "BUILTIN_DATASETS",
    "FASHION_MNIST_SYSTEM_DIRS",
    "NORMALIZATION",
    "TITLES",
    "DatasetStatus",
    "ImageDataset",
    "check_dataset_spec",
    "dataset_family",
    "list_datasets",
    "load_dataset",
]
