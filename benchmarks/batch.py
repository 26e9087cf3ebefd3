"""Batch throughput: many ordinary images through a Ray Dataset against a plain loop.

    python benchmarks/batch.py                 # 1000 images
    python benchmarks/batch.py --n 200         # quicker
    python benchmarks/batch.py --config configs/fast.yaml   # the CPU-frugal preset

The images (mixed sizes up to 5000 x 4000, JPEG and PNG) are built once from dev images into
benchmarks/out/cache/batch/. The loop is the simplest way, in one process: open with PIL, apply
EXIF orientation, the adaptive resize (LANCZOS), score the whole image as one tile with the same
model, one image at a time. rayrot is ``rayrot.detect_dataset`` over a Ray Dataset of the paths.
Both are timed in the same run. The loop runs in a child process (so the driver that runs Ray
Data never loads torch) and reports its own peak RSS. For rayrot the summed PSS (shared pages
counted once; the figure the memory target is judged on) and RSS of the driver and every Ray
process are sampled over the run; ``pss_first_q_gb`` / ``pss_last_q_gb`` are the peaks over the
first and last quarter of it, to show whether memory stays flat. ``load_1m`` is the machine's
1-minute load average at the start (other jobs share this machine).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np


from _common import OUT, PeakMemory, dev_paths, print_table, write_json  # noqa: E402


def build_images(n: int) -> list[Path]:
    from PIL import Image

    folder = OUT / "cache" / "batch"
    folder.mkdir(parents=True, exist_ok=True)
    sources = [p for c in ("documents", "photos", "maps") for p in dev_paths(c)]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        ext = "jpg" if i % 3 else "png"
        path = folder / f"img{i:04d}.{ext}"
        paths.append(path)
        if path.exists():
            continue
        src = Image.open(sources[i % len(sources)]).convert("RGB")
        long_side = int(rng.choice([800, 1600, 2400, 3600, 5000]))
        f = long_side / max(src.size)
        img = src.resize((max(1, round(src.width * f)), max(1, round(src.height * f))), Image.BICUBIC)
        img = img.rotate(90 * int(rng.integers(4)), expand=True)
        tmp = path.with_name(path.stem + ".tmp." + ext)
        img.save(tmp, quality=90) if ext == "jpg" else img.save(tmp, compress_level=1)
        os.replace(tmp, path)
    return paths


def plain_loop(paths: list[Path], cfg) -> tuple[float, int]:
    """Open, resize, score one at a time, in this process: (seconds, peak RSS in bytes)."""
    import resource

    import torch
    from PIL import Image, ImageOps

    from rayrot.model import load_model, predict_proba
    from rayrot.model.preprocess import letterbox
    from rayrot.plan.tiling import ordinary_long_px

    torch.set_num_threads(1)
    module, card = load_model(cfg.model.name)
    t0 = time.perf_counter()
    for p in paths:
        img = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
        long_px = ordinary_long_px(max(img.size), cfg.tiling)
        if long_px != max(img.size):
            f = long_px / max(img.size)
            img = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))), Image.LANCZOS)
        predict_proba(module, card, letterbox(np.asarray(img), card.input_px, card.pad_value)[None],
                      rotation_tta=cfg.model.rotation_tta)
    return time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--config", default=None,
                    help="rayrot config YAML over configs/default.yaml, e.g. configs/fast.yaml")
    args = ap.parse_args(argv)

    import ray

    import rayrot
    from rayrot.config import load_config

    cfg = load_config(args.config)
    paths = build_images(args.n)
    load_1m = os.getloadavg()[0]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        loop_s, loop_rss = pool.apply(plain_loop, (paths, cfg))
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    # Warm the actor pool on a few images so the timing below is throughput, not start-up.
    rayrot.detect_dataset(ray.data.from_items([{"path": str(p)} for p in paths[:8]]), cfg).take_all()
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        ds = ray.data.from_items([{"path": str(p)} for p in paths])
        rows = rayrot.detect_dataset(ds, cfg).take_all()
        rayrot_s = time.perf_counter() - t0
    errors = sum(1 for r in rows if r["error"])
    quarter = rayrot_s / 4
    first = [pss for t, _, pss in mem.timeline if t <= quarter]
    last = [pss for t, _, pss in mem.timeline if t >= 3 * quarter]
    row = {"images": len(paths), "load_1m": round(load_1m, 2), "loop_s": loop_s,
           "loop_img_per_s": len(paths) / loop_s, "loop_rss_gb": loop_rss / 1e9,
           "rayrot_s": rayrot_s, "rayrot_img_per_s": len(paths) / rayrot_s,
           "speedup": loop_s / rayrot_s, "pss_gb": mem.peak_pss_bytes / 1e9,
           "rss_gb": mem.peak_bytes / 1e9,
           "pss_first_q_gb": max(first, default=0) / 1e9, "pss_last_q_gb": max(last, default=0) / 1e9,
           "errors": errors, "cpus": os.cpu_count(), "load_1m_end": round(os.getloadavg()[0], 2)}
    print_table([row], list(row))
    print(f"\nPSS at the peak, MB: {mem.peak_summary()}")
    write_json("batch.json", {**row, "pss_peak_by_process_mb": mem.peak_summary(),
                              "timeline_s_rss_pss": mem.timeline})
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
