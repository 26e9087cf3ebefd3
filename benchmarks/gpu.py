"""GPU throughput: the model alone in FP16 against the scorer path shared by four workers.

    python benchmarks/gpu.py                 # needs CUDA; prints a table, writes out/gpu.json

1. Model alone: FP16, channels-last, inputs already on the GPU, at batch sizes 64..2048;
   the best tiles/s is the ceiling.
2. Scorer path: four worker processes share the GPU (as four Ray actors at num_gpus=0.25
   would), each a ``rayrot.scorer.TileScorer`` reading its tiles by coordinates from a
   pyramidal TIFF with pyvips, preprocessing them and scoring in FP16; aggregate tiles/s and
   peak GPU memory per worker. Without rotation TTA, so a tile is one forward pass as in 1;
   the TTA figure (four passes a tile) is reported too.

Ray itself is not used here (so the benchmark runs where Ray is not installed): the workers run
the same class the actors wrap, in plain processes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def model_alone(batch_sizes=(64, 128, 256, 512, 1024, 2048), seconds=3.0) -> list[dict]:
    import torch

    from rayrot.model import load_model

    module, card = load_model("orient_lcnet_x1", device="cuda")
    module = module.half().to(memory_format=torch.channels_last)
    rows = []
    for bs in batch_sizes:
        x = torch.randn(bs, 3, card.input_px, card.input_px, device="cuda", dtype=torch.half)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            for _ in range(5):
                module(x)
            torch.cuda.synchronize()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                module(x)
                n += bs
            torch.cuda.synchronize()
        rows.append({"batch": bs, "tiles_per_s": n / (time.perf_counter() - t0)})
    return rows


def make_slide(path: Path, side: int = 16384) -> Path:
    import pyvips

    ex = sorted((REPO / "rayrot" / "examples").glob("*.jpg"))
    cells = [pyvips.Image.new_from_file(str(p)).thumbnail_image(1024) for p in ex]
    cells = [c.gravity("centre", 1024, 1024, extend="white") for c in cells]
    n = side // 1024
    img = pyvips.Image.arrayjoin([cells[i % len(cells)] for i in range(n * n)], across=n)
    img.tiffsave(str(path), tile=True, tile_width=512, tile_height=512, pyramid=True,
                 compression="jpeg", Q=85, bigtiff=True)
    return path


def _worker(slide: str, tta: bool, batch: int, seconds: float, start, out):
    import torch

    from rayrot.config import load_config
    from rayrot.scorer import TileScorer

    cfg = load_config(overrides=[f"model.rotation_tta={str(tta).lower()}"])
    scorer = TileScorer(cfg, device="cuda")
    rng = np.random.default_rng(os.getpid())
    side = 16384 - 224

    def make_batch():
        xs, ys = rng.integers(0, side, batch), rng.integers(0, side, batch)
        return {"path": np.array([slide] * batch, dtype=object), "level": np.zeros(batch, int),
                "scale": np.ones(batch), "x": xs, "y": ys, "w": np.full(batch, 224),
                "h": np.full(batch, 224), "is_global": np.zeros(batch, bool)}

    scorer(make_batch())  # warm: opens the slide, loads kernels
    torch.cuda.reset_peak_memory_stats()
    start.wait()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        scorer(make_batch())
        n += batch
    out.put({"tiles": n, "seconds": time.perf_counter() - t0,
             "peak_gpu_mb": torch.cuda.max_memory_reserved() / 2 ** 20})


def scorer_path(slide: Path, workers=4, tta=False, batch=256, seconds=20.0) -> dict:
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(slide), tta, batch, seconds, start, out))
             for _ in range(workers)]
    for p in procs:
        p.start()
    start.wait()
    res = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = max(r["seconds"] for r in res)
    return {"workers": workers, "tta": tta, "batch": batch,
            "tiles_per_s": sum(r["tiles"] for r in res) / wall,
            "peak_gpu_mb_per_worker": max(r["peak_gpu_mb"] for r in res)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "gpu.json"))
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure")
        return 0
    alone = model_alone()
    best = max(alone, key=lambda r: r["tiles_per_s"])
    slide = make_slide(Path("/tmp/gpu_bench_slide.tif"))
    path = [scorer_path(slide, tta=False, seconds=args.seconds),
            scorer_path(slide, tta=True, seconds=args.seconds)]
    print(f"GPU: {torch.cuda.get_device_name()}")
    print("| model alone, FP16 batch | tiles/s |\n|---|---|")
    for r in alone:
        print(f"| {r['batch']} | {r['tiles_per_s']:.0f} |")
    print("\n| scorer path | tiles/s | vs model alone | peak GPU MB per worker |\n|---|---|---|---|")
    for r in path:
        forwards = r["tiles_per_s"] * (4 if r["tta"] else 1)
        print(f"| 4 workers, batch {r['batch']}, TTA {r['tta']} | {r['tiles_per_s']:.0f} | "
              f"{forwards / best['tiles_per_s']:.2f} (forward passes) | {r['peak_gpu_mb_per_worker']:.0f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"gpu": torch.cuda.get_device_name(), "model_alone": alone,
                                          "scorer_path": path}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
