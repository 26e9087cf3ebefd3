"""Helpers shared by the benchmark scripts: generated test images, memory sampling, tables."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("RAYROT_DEV_DATA", REPO.parent / "shared" / "data" / "dev"))
OUT = REPO / "benchmarks" / "out"


def dev_paths(category: str | None = None) -> list[Path]:
    with open(DEV / "manifest.csv") as fh:
        return [DEV / r["file"] for r in csv.DictReader(fh) if category in (None, r["category"])]


def make_pyramid(side_px: int, path: Path, categories=("documents", "maps", "photos"),
                 rotate_k: int = 0, cell_px: int = 1024) -> Path:
    """A square pyramidal BigTIFF with JPEG tiles, a mosaic of upright dev images (cached)."""
    import pyvips

    if path.exists():
        return path
    paths = [p for c in categories for p in dev_paths(c)]
    cells = []
    for p in paths:
        img = pyvips.Image.thumbnail(str(p), cell_px - 32, height=cell_px - 32, size="down")
        img = img.colourspace("srgb")
        img = img.flatten(background=[255, 255, 255]) if img.hasalpha() else img
        img = img[:3] if img.bands > 3 else img
        cells.append(img.gravity("centre", cell_px, cell_px, extend="white").copy_memory())
    n = -(-side_px // cell_px)
    grid = [cells[(i * 7) % len(cells)] for i in range(n * n)]
    img = pyvips.Image.arrayjoin(grid, across=n).crop(0, 0, side_px, side_px)
    img = [img, img.rot270(), img.rot180(), img.rot90()][rotate_k % 4]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    img.tiffsave(str(tmp), tile=True, tile_width=512, tile_height=512, pyramid=True,
                 compression="jpeg", Q=85, bigtiff=True)
    os.replace(tmp, path)
    return path


class PeakMemory:
    """Samples the summed resident memory of this process and all its descendants
    (the driver, and a local Ray's raylet, object store and workers)."""

    def __init__(self, interval_s: float = 0.05):
        import psutil

        self._psutil = psutil
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()

    def _sample(self) -> int:
        me = self._psutil.Process()
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            time.sleep(self.interval_s)

    def __enter__(self):
        self.baseline_bytes = self._sample()
        self.peak_bytes = self.baseline_bytes
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())


def print_table(rows: list[dict], columns: list[str]) -> None:
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return "" if v is None else str(v)


def write_json(name: str, payload) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path
