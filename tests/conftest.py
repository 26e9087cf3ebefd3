"""Shared fixtures: real images from ../shared/data/dev, a config tuned for quick tests,
and one Ray instance per test session."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("RAYROT_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))


def dev_images(category: str | None = None) -> list[Path]:
    """Paths of the dev images (manifest order), optionally of one category."""
    manifest = DEV / "manifest.csv"
    if not manifest.exists():
        pytest.skip(f"dev data not found at {DEV}")
    with open(manifest) as fh:
        rows = list(csv.DictReader(fh))
    return [DEV / r["file"] for r in rows if category is None or r["category"] == category]


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
