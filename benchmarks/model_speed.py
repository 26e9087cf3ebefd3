"""The shipped network alone on the CPU: torch against onnxruntime, speed and memory.

    python benchmarks/model_speed.py                 # one thread, batches of 16 tiles
    python benchmarks/model_speed.py --threads 2 --batch 5

Each measurement runs in a fresh child process (so one does not inherit another's heap):

- ``ms_per_tile``: CPU milliseconds a 224-px tile, the best of ``--repeats`` calls on a batch of
  ``--batch`` random tiles, after one warm-up call; torch as the scorer runs it (BatchNorm
  fused, channels-last, inference mode), onnxruntime on the graph shipped beside the weights
  as the scorer opens it (no memory arena) and, for comparison, with onnxruntime's arena on;
- ``rss_mb``: the process's resident memory after the calls, over a bare interpreter's, i.e.
  what the backend (its library, the weights, the activations it keeps) adds to a worker.

Prints a markdown table and writes ``benchmarks/out/model_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
import numpy as np, psutil
backend, threads, batch, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
proc = psutil.Process()
base = proc.memory_info().rss
x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
if backend == "torch":
    import torch
    from rayrot.model import load_model
    torch.set_num_threads(threads)
    module, _ = load_model("orient_lcnet_x1", fuse=True)
    t = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
    def call():
        with torch.inference_mode():
            module(t)
else:
    import onnxruntime as ort
    from rayrot.model.files import read_card, weights_path
    from rayrot.model.onnx_backend import load_onnx_net
    weights = weights_path("orient_lcnet_x1")
    net, why = load_onnx_net(weights, read_card(weights.with_suffix(".json")), threads)
    assert net is not None, why
    session = net.session
    if backend == "onnxruntime-arena":
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(str(net.path), options, providers=["CPUExecutionProvider"])
    def call():
        session.run(["logits"], {"input": x})
call()
best = float("inf")
for _ in range(repeats):
    t0 = time.process_time()
    call()
    best = min(best, time.process_time() - t0)
print(json.dumps({"ms_per_tile": 1000 * best / batch, "rss_mb": (proc.memory_info().rss - base) / 1e6}))
"""

BACKENDS = ("torch", "onnxruntime", "onnxruntime-arena")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "model_speed.json")
    args = ap.parse_args(argv)
    rows = {}
    for backend in BACKENDS:
        run = subprocess.run([sys.executable, "-c", CHILD, backend, str(args.threads),
                              str(args.batch), str(args.repeats)],
                             capture_output=True, text=True, check=True)
        rows[backend] = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"| backend ({args.threads} thread(s), batches of {args.batch}) | ms a tile | "
          "added RSS MB |")
    print("|---|---|---|")
    for backend, r in rows.items():
        print(f"| {backend} | {r['ms_per_tile']:.2f} | {r['rss_mb']:.0f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": {"command": "python benchmarks/model_speed.py "
                                             + " ".join(sys.argv[1:]),
                                             "threads": args.threads, "batch": args.batch},
                                    "rows": rows}, indent=1) + "\n")
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
