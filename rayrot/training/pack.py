"""Shrink the real training images once into a compact folder the training run reads.

Decoding multi-megapixel wallpapers and scans for every sample is the slowest part of
training, so the sources are packed first:
each image is decoded (EXIF orientation applied, alpha on white), shrunk so its long side is
at most ``--max-px``, and written as JPEG (or WebP) under the same relative path::

    python -m rayrot.training.pack --src .data/sources --out .data/train_pack \\
        --max-px 1024 --quality 85

The split
into train and validation files (a hash of the relative path without its suffix) is the
same before and after packing. The dev set is refused.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

from .dataset import IMAGE_SUFFIXES, REAL_CATEGORIES, _is_reserved, load_image

__all__ = ["pack_sources"]

LOGGER = logging.getLogger("rayrot.training.pack")


def _encode(args: tuple[str, int, int, str]) -> tuple[str, bytes | None, str]:
    path, max_px, quality, fmt = args
    try:
        rgb = load_image(path, max_px)
    except Exception as exc:  # a broken source file is skipped, not fatal
        return path, None, repr(exc)
    if min(rgb.shape[:2]) < 32:
        return path, None, "smaller than 32 px"
    buf = io.BytesIO()
    im = Image.fromarray(rgb)
    if fmt == "webp":
        im.save(buf, "WEBP", quality=quality, method=4)
    else:
        im.save(buf, "JPEG", quality=quality, optimize=True)
    return path, buf.getvalue(), ""


def pack_sources(src: str | Path, out: str | Path, max_px: int = 1024, quality: int = 85,
                 fmt: str = "jpeg", workers: int = 2,
                 max_per_category: dict[str, int] | None = None) -> dict[str, tuple[int, int]]:
    """Pack ``src/<category>/**`` into ``out/<category>/**.<fmt>``.

    Returns
    -------
    stats : dict
        category -> (files written, bytes written)
    """
    src, out = Path(src), Path(out)
    if _is_reserved(src):
        raise ValueError(f"refusing to pack {src}: the dev set is for evaluation only")
    suffix = ".webp" if fmt == "webp" else ".jpg"
    stats: dict[str, tuple[int, int]] = {}
    for cat in REAL_CATEGORIES:
        files = sorted(p for p in (src / cat).rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not _is_reserved(p)) \
            if (src / cat).is_dir() else []
        if max_per_category and cat in max_per_category:
            step = max(1, len(files) // max(1, max_per_category[cat]))
            files = files[::step][:max_per_category[cat]]
        n, nbytes = 0, 0
        jobs = [(str(p), max_px, quality, fmt) for p in files]
        with ProcessPoolExecutor(workers) as pool:
            for path, data, why in pool.map(_encode, jobs, chunksize=4):
                if data is None:
                    LOGGER.warning("skipped %s: %s", path, why)
                    continue
                rel = Path(path).relative_to(src).with_suffix(suffix)
                dst = out / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp = dst.with_name(f".{dst.name}.tmp")
                tmp.write_bytes(data)
                tmp.replace(dst)
                n, nbytes = n + 1, nbytes + len(data)
        stats[cat] = (n, nbytes)
        LOGGER.info("%s: %d files, %.1f MiB", cat, n, nbytes / 2**20)
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Pack real training images (shrink + re-encode).")
    ap.add_argument("--src", default=".data/sources")
    ap.add_argument("--out", default=".data/train_pack")
    ap.add_argument("--max-px", type=int, default=1024)
    ap.add_argument("--quality", type=int, default=85)
    ap.add_argument("--format", choices=["jpeg", "webp"], default="jpeg")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-per-category", default="",
                    help="e.g. documents=400,textures=150 (evenly spaced subset)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    caps = {}
    for item in filter(None, args.max_per_category.split(",")):
        k, v = item.split("=")
        caps[k] = int(v)
    stats = pack_sources(args.src, args.out, args.max_px, args.quality, args.format,
                         args.workers, caps)
    total = sum(b for _, b in stats.values())
    print(f"packed {sum(n for n, _ in stats.values())} files, {total / 2**20:.1f} MiB into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
