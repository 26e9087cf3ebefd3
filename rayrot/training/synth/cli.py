"""python -m rayrot.training.synth --out DIR --n N: save previews of rendered samples."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from .assets import SynthAssets
from .maps import render_map
from .pages import render_document
from .scripts import KINDS
from .textures import render_sample

__all__ = []


def _main(argv=None):
    ap = argparse.ArgumentParser(description="Save synthetic preview images.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--fonts", default=".data/fonts")
    ap.add_argument("--text", default=".data/text")
    ap.add_argument("--script", default=None, help="force a script (documents and maps)")
    ap.add_argument("--genre", default=None, help="force a document genre")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    assets = SynthAssets.load(args.fonts, args.text)
    print(f"assets: {time.perf_counter() - t0:.2f}s, scripts {assets.scripts}")
    for kind in args.kinds.split(","):
        times = []
        for i in range(args.n):
            rng = np.random.default_rng([args.seed, i, KINDS.index(kind)])
            t = time.perf_counter()
            if kind == "document" and (args.script or args.genre):
                img = render_document(rng, assets, script=args.script, genre=args.genre)
            elif kind == "map" and args.script:
                img = render_map(rng, assets, script=args.script)
            else:
                img = render_sample(rng, assets, kind)
            times.append(time.perf_counter() - t)
            Image.fromarray(img).save(out / f"{kind}_{i:03d}.png")
        print(f"{kind}: {1e3 * np.mean(times):.1f} ms mean, {1e3 * np.median(times):.1f} ms "
              f"median, {1e3 * np.max(times):.1f} ms max over {len(times)}")

