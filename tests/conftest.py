"""Shared fixtures: real images (shipped in tests/data/images, and the larger dev set when it is
beside the checkout), the default config, and one Ray instance per test session."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("RAYROT_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))
SHIPPED = REPO / "tests" / "data" / "images"


def has_dev_data() -> bool:
    return (DEV / "manifest.csv").exists()


def _listed(root: Path, category: str | None) -> list[Path]:
    with open(root / "manifest.csv") as fh:
        rows = list(csv.DictReader(fh))
    return [root / r["file"] for r in rows if category is None or r["category"] == category]


def shipped_images(category: str | None = None) -> list[Path]:
    """Paths of the real images shipped in tests/data/images (manifest order), optionally of
    one category (documents, maps, photos)."""
    return _listed(SHIPPED, category)


def dev_images(category: str | None = None) -> list[Path]:
    """Paths of the dev images (manifest order), optionally of one category; the shipped images
    when the dev set is not beside the checkout."""
    if not has_dev_data():
        return shipped_images(category)
    return _listed(DEV, category)


@pytest.fixture(scope="session")
def dev():
    return dev_images


@pytest.fixture(scope="session")
def cfg():
    from rayrot.config import load_config

    return load_config()


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (no dashboard)."""
    import ray

    if not ray.is_initialized():
        # Four logical CPUs on two cores: room for the scoring actors next to a Ray Train worker
        # or a Ray Data pool started by another test in the same session.
        ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    yield ray
    ray.shutdown()


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
