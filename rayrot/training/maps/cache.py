"""Write rendered maps into shards for training.

    python -m rayrot.training.maps.cache --out .data/cache_maps --n 3000 --seed 0 \\
        [--mapdata .data/mapdata] [--fonts .data/fonts] [--shard-size 250] [--workers 1]

Format (read with ``np.load(path)``, no pickle needed):

* ``OUT/shard_XXXX.npz`` (uncompressed npz), one per ``--shard-size`` renders, holding
  ``img_00000``, ``img_00001``, ... : each an upright, north-up (H, W, 3) uint8 RGB map,
  downscaled (Lanczos) so that its long side is at most 640 px (sizes differ: ragged);
  ``kinds``: a 1-D ``<U16`` array, one kind name per image in key order (political,
  labelled, highlight, provinces, choropleth, relief, relief_real, raster_legend,
  raster_local, street, coast: ``render.KINDS``);
  ``seeds``: int64, the render seed of each image (``np.random.default_rng(seed)``
  reproduces it with :func:`rayrot.training.maps.render.render_map_kind`).
* Shards are written to ``shard_XXXX.tmp.npz`` and renamed when complete, so a reader
  never sees a partial shard; an existing complete shard is skipped (the command resumes).
* ``OUT/manifest.json``: counts per kind and the arguments, rewritten after each shard.

Shard ``k`` renders seeds ``seed * 10**7 + k * shard_size + i``, so shards are
independent and reproducible.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image


def _render_shard(args):
    k, seed, size, mapdata, fonts, max_side = args
    from .render import MapAssets, render_map_kind
    global _ASSETS
    try:
        assets = _ASSETS
    except NameError:
        assets = _ASSETS = MapAssets.load(mapdata, fonts)
    imgs, kinds, seeds = {}, [], []
    for i in range(size):
        s = seed * 10 ** 7 + k * size + i
        for attempt in range(5):
            try:
                img, kind = render_map_kind(np.random.default_rng(s), assets)
                break
            except Exception as e:          # a rare bad draw: log it, take the next seed
                print(f"seed {s}: {type(e).__name__}: {e}", flush=True)
                s += 10 ** 6
        h, w = img.shape[:2]
        f = max_side / max(h, w)
        if f < 1:
            img = np.asarray(Image.fromarray(img).resize((max(1, round(w * f)), max(1, round(h * f))),
                                                         Image.LANCZOS))
        imgs[f"img_{i:05d}"] = np.ascontiguousarray(img)
        kinds.append(kind)
        seeds.append(s)
    return k, imgs, np.array(kinds, "<U16"), np.array(seeds, np.int64)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="render maps into npz shards")
    ap.add_argument("--out", type=Path, default=Path(".data/cache_maps"))
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mapdata", type=Path, default=Path(".data/mapdata"))
    ap.add_argument("--fonts", type=Path, default=Path(".data/fonts"))
    ap.add_argument("--shard-size", type=int, default=250)
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    fonts = str(a.fonts) if a.fonts.is_dir() else None
    nshard = (a.n + a.shard_size - 1) // a.shard_size
    jobs = []
    for k in range(nshard):
        size = min(a.shard_size, a.n - k * a.shard_size)
        if (a.out / f"shard_{k:04d}.npz").exists():
            continue
        jobs.append((k, a.seed, size, str(a.mapdata), fonts, a.max_side))
    print(f"{nshard} shards, {len(jobs)} to render into {a.out}", flush=True)
    t0 = time.time()
    done = 0
    counts: dict[str, int] = {}

    def write(res):
        nonlocal done
        k, imgs, kinds, seeds = res
        tmp = a.out / f"shard_{k:04d}.tmp.npz"
        np.savez(tmp, kinds=kinds, seeds=seeds, **imgs)
        os.replace(tmp, a.out / f"shard_{k:04d}.npz")
        done += len(kinds)
        for kd in kinds:
            counts[str(kd)] = counts.get(str(kd), 0) + 1
        dt = time.time() - t0
        print(f"shard {k:04d}: {done} renders in {dt:.0f}s ({done / dt:.2f}/s)", flush=True)
        (a.out / "manifest.json").write_text(json.dumps(
            {"n": a.n, "seed": a.seed, "shard_size": a.shard_size, "max_side": a.max_side,
             "kinds_this_run": counts}, indent=1))

    if a.workers > 1:
        from multiprocessing import Pool
        with Pool(a.workers) as pool:
            for res in pool.imap_unordered(_render_shard, jobs):
                write(res)
    else:
        for j in jobs:
            write(_render_shard(j))


if __name__ == "__main__":
    main()
