"""Rendered training images kept on disk, so the renderer never sits in the training loop.

A cache is a folder of shards. Each shard ``shard_XXXX.npz`` is an uncompressed NumPy archive
holding one upright ``(H, W, 3)`` uint8 image per key ``img_00000``, ``img_00001``, ... and a
1-D string array ``kinds`` (one short style name per image, e.g. ``article`` or ``political``).
Shards are written under a temporary name and renamed when complete, so a folder only ever
holds whole shards; a render of one shard is seeded by ``(seed, shard index)``, so the same
command makes the same cache and an interrupted one can be completed.

    python -m rayrot.training.render_cache --kind synth_documents --n 4000 --out .data/render/synth_documents
    python -m rayrot.training.render_cache --kind synth_maps --n 1500 --out .data/render/synth_maps

Images are shrunk so the long side is at most ``--max-px`` (the views cut from them are
224-px tiles of 8..100 % of the short side, so little detail is lost at 768).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["RenderCache", "write_cache", "as_rgb", "RENDER_KINDS"]

LOGGER = logging.getLogger(__name__)

RENDER_KINDS = ("synth_documents", "synth_maps", "synth_textures")


class RenderCache:
    """Random access to the images of a cache folder (shards are opened lazily, memory-mapped
    by NumPy's npz reader one image at a time)."""

    def __init__(self, folder: str | Path, part: str = "all"):
        """``part``: ``"all"``, or ``"val"`` (the last shard, held out for validation when there
        are at least two) and ``"train"`` (the others)."""
        self.folder = Path(folder)
        shards = sorted(self.folder.glob("shard_*.npz"))
        if part not in ("all", "train", "val"):
            raise ValueError(f"part must be all, train or val, got {part!r}")
        if part != "all" and len(shards) >= 2:
            shards = shards[-1:] if part == "val" else shards[:-1]
        self.shards = shards
        self._index: list[tuple[int, str]] = []
        self._open: dict[int, np.lib.npyio.NpzFile] = {}
        for si, path in enumerate(self.shards):
            with np.load(path) as z:
                self._index += [(si, k) for k in z.files if k.startswith("img_")]

    def __len__(self) -> int:
        return len(self._index)

    def get(self, i: int) -> np.ndarray:
        si, key = self._index[i]
        z = self._open.get(si)
        if z is None:
            z = self._open[si] = np.load(self.shards[si])
        return np.ascontiguousarray(z[key])

    def random(self, rng: np.random.Generator) -> np.ndarray:
        return self.get(int(rng.integers(len(self._index))))


def as_rgb(out: object) -> np.ndarray:
    """A renderer's output (array, PIL image, or a tuple led by one) as ``(H, W, 3)`` uint8 RGB,
    alpha composited on white."""
    if isinstance(out, tuple):
        out = out[0]
    if isinstance(out, Image.Image):
        out = np.asarray(out.convert("RGB"))
    arr = np.asarray(out)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.shape[-1] == 4:
        a = arr[..., 3:4].astype(np.float32) / 255
        arr = (arr[..., :3] * a + 255 * (1 - a)).astype(np.uint8)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _shrink(img: np.ndarray, max_px: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = max_px / max(h, w)
    if s >= 1:
        return img
    im = Image.fromarray(img).resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return np.asarray(im)


def _render_one(kind: str, rng: np.random.Generator, assets) -> np.ndarray:
    from . import synth

    if kind == "synth_documents":
        return as_rgb(synth.render_document(rng, assets))
    if kind == "synth_maps":
        return as_rgb(synth.render_map(rng, assets))
    if kind == "synth_textures":
        return as_rgb(synth.render_texture(rng))
    raise ValueError(f"unknown render kind {kind!r}; known: {RENDER_KINDS}")


def write_cache(kind: str, n: int, out: str | Path, *, seed: int = 0, per_shard: int = 100,
                max_px: int = 768, fonts_dir: str = ".data/fonts", text_dir: str = ".data/text"
                ) -> dict:
    """Render ``n`` images of ``kind`` into ``out`` (shards already there are kept)."""
    from . import synth

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.tmp*"):  # a shard interrupted mid-write
        stale.unlink()
    # Textures need no fonts or text.
    assets = None if kind == "synth_textures" else synth.SynthAssets.load(fonts_dir, text_dir)
    t0, made = time.perf_counter(), 0
    for si in range((n + per_shard - 1) // per_shard):
        path = out / f"shard_{si:04d}.npz"
        if path.exists():
            continue
        rng = np.random.default_rng([seed, si])
        arrays = {}
        for j in range(min(per_shard, n - si * per_shard)):
            arrays[f"img_{j:05d}"] = _shrink(_render_one(kind, rng, assets), max_px)
        arrays["kinds"] = np.array([kind] * len(arrays))
        tmp = out / f"{path.stem}.tmp{os.getpid()}.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        made += len(arrays) - 1
        LOGGER.info("%s: shard %d (%d images, %.1f renders/s)", kind, si, len(arrays) - 1,
                    made / (time.perf_counter() - t0))
    return {"kind": kind, "out": str(out), "rendered": made, "images": len(RenderCache(out)),
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", required=True, choices=RENDER_KINDS)
    ap.add_argument("--n", type=int, required=True, help="images in the finished cache")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-shard", type=int, default=100)
    ap.add_argument("--max-px", type=int, default=768)
    ap.add_argument("--fonts", default=".data/fonts")
    ap.add_argument("--text", default=".data/text")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    res = write_cache(args.kind, args.n, args.out, seed=args.seed, per_shard=args.per_shard,
                      max_px=args.max_px, fonts_dir=args.fonts, text_dir=args.text)
    print(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
