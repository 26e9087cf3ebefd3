"""Fine-skew benchmark: rayrot against jdeskew and deskew on the same tilted pages, in one run.

Documents and maps from the dev set (``/work/shared/data/dev``, manifest categories ``documents``
and ``maps``) are turned to grey, enlarged, and tilted by known angles drawn uniformly (fixed seed)
from [-15, 15] and [-45, 45] degrees: PIL bicubic rotation, canvas expanded, white fill.

Sizes::

    a   the stored image enlarged 2x (about 2000 px, the issue's anchor)
    b   enlarged to a 600-dpi page: long side 7000 px (about 5000 x 7000)
    c   gigapixel: a mosaic of pages streamed through ``rayrot.detect`` (rayrot only; runs once
        the pipeline exists, otherwise it is reported as skipped)

Each method gets the same grey ``(H, W) uint8`` array and the same search range (the range the
angles were drawn from). Errors are taken mod 90 degrees (a quarter turn is the 4-way classifier's
business), so a method's answer of 44.9 for a true -45.0 counts as 0.1 off. rayrot answers 0.0
when its confidence is below ``skew.min_confidence``; that answer is scored like any other.
Seconds are wall-clock seconds of the method's call alone, one thread (``OMP_NUM_THREADS=1``,
OpenCV limited to one thread), on a shared machine: compare within one run, not across runs.

Content without line structure (dev photos and micrographs, untilted) is also run through rayrot:
the table gives the share that comes back as 0.0 with confidence below ``skew.min_confidence``.

    python benchmarks/skew.py                          # sizes a and b, all documents and maps
    python benchmarks/skew.py --sizes a --limit 20     # quick look
    python benchmarks/skew.py --set skew.tile_px=384   # another setting of rayrot

Writes ``benchmarks/out/skew.json`` and (with ``--results``) the "Skew" section of
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rayrot.config import load_config  # noqa: E402
from rayrot.skew import estimate_skew_array  # noqa: E402

DEV = Path(os.environ.get("RAYROT_DEV_DATA", ROOT.parent / "shared" / "data" / "dev"))
OUT_JSON = ROOT / "benchmarks" / "out" / "skew.json"
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Skew"
PAGE_LONG_PX = 7000  # size b: long side of a 600-dpi A4-ish page


# ----------------------------------------------------------------------------- methods


def _rayrot(cfg):
    def run(gray: np.ndarray, max_angle: float) -> tuple[float, float]:
        c = cfg if max_angle == cfg.max_angle_deg else _with_max(cfg, max_angle)
        est = estimate_skew_array(gray, c)
        return est.angle_deg, est.confidence, {"n_tiles": est.n_tiles, "spread_deg": est.spread_deg}
    return run


def _with_max(cfg, max_angle: float):
    import dataclasses
    return dataclasses.replace(cfg, max_angle_deg=float(max_angle))


def _jdeskew():
    import cv2
    from jdeskew.estimator import get_angle

    cv2.setNumThreads(1)

    def run(gray: np.ndarray, max_angle: float) -> tuple[float, float]:
        # jdeskew returns the counter-clockwise turn that straightens: the opposite of skew_deg
        return -float(get_angle(gray, angle_max=max_angle)), float("nan"), {}
    return run


def _deskew():
    from deskew import determine_skew

    def run(gray: np.ndarray, max_angle: float) -> tuple[float, float]:
        a = determine_skew(gray, min_angle=-max_angle, max_angle=max_angle)
        # like jdeskew, deskew's angle is the counter-clockwise turn; None when it finds nothing
        return (0.0 if a is None else -float(a)), float("nan"), {}
    return run


# ----------------------------------------------------------------------------- data


def _manifest(categories: list[str]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {c: [] for c in categories}
    with open(DEV / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["category"] in out:
                out[row["category"]].append(DEV / row["file"])
    return {c: sorted(v) for c, v in out.items()}


def _load_gray(path: Path, size: str) -> Image.Image:
    im = Image.open(path).convert("L")
    if size == "a":
        return im.resize((im.width * 2, im.height * 2), Image.LANCZOS)
    if size == "b":
        f = PAGE_LONG_PX / max(im.size)
        return im.resize((round(im.width * f), round(im.height * f)), Image.LANCZOS)
    raise ValueError(f"unknown size {size!r}")


def _tilt(im: Image.Image, skew_deg: float) -> np.ndarray:
    """Content tilted so that its skew_deg (clockwise turn that straightens it) is ``skew_deg``."""
    # PIL turns counter-clockwise for a positive angle: the clockwise turn that undoes it is +a
    return np.asarray(im.rotate(skew_deg, resample=Image.BICUBIC, expand=True, fillcolor=255))


def _angles(n: int, rng_deg: float, seed: int, category: str) -> np.ndarray:
    key = sum(ord(ch) for ch in category)
    return np.random.default_rng([seed, int(rng_deg), key]).uniform(-rng_deg, rng_deg, n)


def _wrap90(a):
    return (np.asarray(a, dtype=np.float64) + 45.0) % 90.0 - 45.0


# ----------------------------------------------------------------------------- runs


def run_sizes(args, cfg) -> list[dict]:
    methods = {"rayrot": _rayrot(cfg)}
    if "jdeskew" in args.methods:
        methods["jdeskew"] = _jdeskew()
    if "deskew" in args.methods:
        methods["deskew"] = _deskew()
    methods = {k: v for k, v in methods.items() if k in args.methods}
    files = _manifest(args.categories)
    rows = []
    for size in args.sizes:
        if size == "c":
            continue
        for cat, paths in files.items():
            paths = paths[: args.limit] if args.limit else paths
            for rng_deg in args.ranges:
                truth = _angles(len(paths), rng_deg, args.seed, cat)
                for path, true in zip(paths, truth):
                    base = _load_gray(path, size)
                    gray = _tilt(base, float(true))
                    for name, fn in methods.items():
                        if name == "deskew" and size == "b" and not args.deskew_b:
                            continue
                        t0 = time.perf_counter()
                        est, conf, extra = fn(gray, float(rng_deg))
                        sec = time.perf_counter() - t0
                        err = float(_wrap90(est - true))
                        rows.append(dict(size=size, category=cat, range_deg=rng_deg, file=path.name,
                                         method=name, true_deg=float(true), est_deg=float(est),
                                         err_deg=err, confidence=conf, seconds=sec,
                                         shape=list(gray.shape), **extra))
                        if args.verbose:
                            print(f"{size} {cat:9s} ±{rng_deg:<4g} {path.name[:34]:34s} {name:8s} "
                                  f"true {true:8.3f} est {est:8.3f} err {err:7.3f} {sec:6.3f}s",
                                  flush=True)
    return rows


def run_no_structure(args, cfg) -> list[dict]:
    files = _manifest(["photos", "micro"])
    rows = []
    for cat, paths in files.items():
        paths = paths[: args.limit] if args.limit else paths
        for path in paths:
            gray = np.asarray(_load_gray(path, "a"))
            t0 = time.perf_counter()
            est = estimate_skew_array(gray, cfg)
            rows.append(dict(category=cat, file=path.name, est_deg=est.angle_deg,
                             confidence=est.confidence, n_tiles=est.n_tiles,
                             spread_deg=est.spread_deg, seconds=time.perf_counter() - t0))
    return rows


def run_gigapixel(args, cfg) -> dict:
    import rayrot
    if not hasattr(rayrot, "detect"):
        return {"skipped": "rayrot.detect (the pipeline) is not available yet"}
    return {"skipped": "gigapixel mosaic run not wired yet"}


# ----------------------------------------------------------------------------- summary


def summarise(rows: list[dict]) -> list[dict]:
    keys = sorted({(r["size"], r["category"], r["range_deg"], r["method"]) for r in rows},
                  key=lambda k: (k[0], k[1], k[2], ["rayrot", "jdeskew", "deskew"].index(k[3])))
    out = []
    for size, cat, rng_deg, method in keys:
        sel = [r for r in rows if (r["size"], r["category"], r["range_deg"], r["method"])
               == (size, cat, rng_deg, method)]
        e = np.abs([r["err_deg"] for r in sel])
        out.append(dict(size=size, category=cat, range_deg=rng_deg, method=method, n=len(sel),
                        mean_abs_err_deg=float(e.mean()), median_abs_err_deg=float(np.median(e)),
                        within_0_1_pct=float(100.0 * np.mean(e <= 0.1)),
                        worst_deg=float(e.max()),
                        seconds_per_image=float(np.mean([r["seconds"] for r in sel]))))
    return out


def table(summary: list[dict]) -> str:
    lines = ["| size | category | range | method | n | mean abs err (deg) | within 0.1 deg | "
             "worst (deg) | s / image |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for s in summary:
        lines.append(f"| {s['size']} | {s['category']} | ±{s['range_deg']:g} | {s['method']} | "
                     f"{s['n']} | {s['mean_abs_err_deg']:.3f} | {s['within_0_1_pct']:.1f}% | "
                     f"{s['worst_deg']:.3f} | {s['seconds_per_image']:.3f} |")
    return "\n".join(lines)


def no_structure_table(rows: list[dict], cfg) -> str:
    lines = ["| category | n | skew 0.0 with confidence < min_confidence | max confidence |",
             "|---|---:|---:|---:|"]
    for cat in ("photos", "micro"):
        sel = [r for r in rows if r["category"] == cat]
        if not sel:
            continue
        ok = [r for r in sel if r["est_deg"] == 0.0 and r["confidence"] < cfg.min_confidence]
        lines.append(f"| {cat} | {len(sel)} | {100.0 * len(ok) / len(sel):.0f}% | "
                     f"{max(r['confidence'] for r in sel):.2f} |")
    return "\n".join(lines)


def write_results(md: str) -> None:
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + md.rstrip("\n") + "\n"
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        end = len(text) if nxt < 0 else nxt + 1
        text = text[:start] + md.rstrip("\n") + "\n" + ("\n" + text[end:] if nxt >= 0 else "")
    tmp = RESULTS_MD.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(RESULTS_MD)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="a,b", help="comma list of a, b, c")
    ap.add_argument("--ranges", default="15,45", help="comma list of half-ranges in degrees")
    ap.add_argument("--categories", default="documents,maps")
    ap.add_argument("--methods", default="rayrot,jdeskew,deskew")
    ap.add_argument("--limit", type=int, default=0, help="first N images per category (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--deskew-b", action="store_true",
                    help="also run deskew at size b (slow: Canny + Hough on 35 Mpx)")
    ap.add_argument("--no-structure", action=argparse.BooleanOptionalAction, default=True,
                    help="run dev photos and micrographs through rayrot (expect 0.0, low confidence)")
    ap.add_argument("--config", default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=str(OUT_JSON))
    ap.add_argument("--results", action="store_true", help="write the Skew section of RESULTS.md")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    args.sizes = [s for s in args.sizes.split(",") if s]
    args.ranges = [float(r) for r in args.ranges.split(",") if r]
    args.categories = [c for c in args.categories.split(",") if c]
    args.methods = [m for m in args.methods.split(",") if m]
    cfg = load_config(args.config, overrides=args.set).skew

    t0 = time.time()
    rows = run_sizes(args, cfg)
    summary = summarise(rows)
    nostruct = run_no_structure(args, cfg) if args.no_structure else []
    giga = run_gigapixel(args, cfg) if "c" in args.sizes else {"skipped": "not requested"}
    md_table = table(summary)
    print(md_table)
    if nostruct:
        print()
        print(no_structure_table(nostruct, cfg))
    print(f"\ngigapixel (c): {giga}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = "python benchmarks/skew.py " + " ".join(argv if argv is not None else sys.argv[1:])
    payload = dict(command=cmd.strip(), config=dict(vars(cfg)), seed=args.seed,
                   machine=platform.platform(), seconds_total=time.time() - t0,
                   summary=summary, no_structure=nostruct, gigapixel=giga, rows=rows)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(out)
    if args.results:
        md = [SECTION, "", f"Command: `{cmd.strip()}` ({time.strftime('%Y-%m-%d')}, "
              f"{time.time() - t0:.0f} s, one thread per method on a shared 2-core machine)", "",
              md_table, ""]
        if nostruct:
            md += ["Content without line structure (rayrot only, untilted, size a):", "",
                   no_structure_table(nostruct, cfg), ""]
        md += [f"Gigapixel (c): {giga.get('skipped', giga)}", ""]
        write_results("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
