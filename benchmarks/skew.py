"""Fine-skew benchmark: rayrot against jdeskew and deskew on the same tilted pages, in one run.

Documents and maps from the dev set (``RAYROT_DEV_DATA``, default ``../shared/data/dev``; manifest
categories ``documents`` and ``maps``) are turned to grey, enlarged, and tilted by known angles drawn uniformly (fixed seed)
from [-15, 15] and [-45, 45] degrees: PIL bicubic rotation, canvas expanded, white fill.

Sizes::

    a   the stored image enlarged 2x (about 2000 px)
    b   enlarged to a 600-dpi page: long side 7000 px (about 5000 x 7000)
    c   gigapixel: a mosaic of pages streamed through ``rayrot.detect`` (rayrot only)

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

from rayrot.config import load_config  # noqa: E402
from rayrot.skew import estimate_skew_array  # noqa: E402  (the product's measure_skew)

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
            limit = args.limit_b if size == "b" and args.limit_b else args.limit
            paths = paths[:limit] if limit else paths
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


def _vips_mosaic(paths: list[Path], cols: int, rows: int, page_long_px: int):
    """A lazy grey pyvips mosaic of pages, each enlarged to a 600-dpi page (long side 7000 px)."""
    import pyvips

    pages = []
    for p in paths:
        im = pyvips.Image.new_from_file(str(p)).colourspace("b-w")[0]
        pages.append(im.resize(page_long_px / max(im.width, im.height), kernel="lanczos3"))
    cw = max(p.width for p in pages) + 200
    ch = max(p.height for p in pages) + 200
    cells = [pages[i % len(pages)].gravity("centre", cw, ch, extend="white") for i in range(cols * rows)]
    return pyvips.Image.arrayjoin(cells, across=cols)


def run_gigapixel(args, run_cfg, rows_out: list[dict]) -> dict:
    """Size c: portrait dev documents tiled into one sheet of about a gigapixel, the whole sheet
    tilted by a known skew (libvips bicubic, white fill, canvas expanded) and written as a tiled
    pyramidal BigTIFF under .data/bench/; then ``rayrot.detect`` (the streaming pipeline) reads
    it with ``run_cfg`` (the whole config, ``--config`` and ``--set`` included)."""
    import pyvips

    import rayrot

    if not hasattr(rayrot, "detect"):
        return {"skipped": "rayrot.detect (the pipeline) is not available"}
    docs = [p for p in _manifest(["documents"])["documents"]]
    portrait = []
    for p in docs:
        with Image.open(p) as im:
            if im.height > im.width:
                portrait.append(p)
    out_dir = ROOT / ".data" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for k, rng_deg in enumerate(args.ranges):
        true = float(_angles(1, rng_deg, args.seed, "gigapixel")[0])
        pick = portrait[k * args.giga_cols * args.giga_rows:][: args.giga_cols * args.giga_rows] or portrait
        sheet = _vips_mosaic(pick, args.giga_cols, args.giga_rows, PAGE_LONG_PX)
        # libvips turns clockwise for a positive angle: -skew tilts the content by skew
        tilted = sheet.rotate(-true, interpolate=pyvips.Interpolate.new("bicubic"), background=[255])
        path = out_dir / f"skew_giga_{rng_deg:g}.tif"
        t0 = time.perf_counter()
        tmp = path.with_suffix(".tmp.tif")
        tilted.tiffsave(str(tmp), tile=True, tile_width=512, tile_height=512, pyramid=True,
                        compression="jpeg", Q=85, bigtiff=True)
        tmp.replace(path)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = rayrot.detect(str(path), run_cfg, progress=False)
        sec = time.perf_counter() - t0
        if res.error:
            done.append({"file": path.name, "error": res.error})
            continue
        err = float(_wrap90(res.skew_deg - true))
        row = dict(size="c", category="documents", range_deg=rng_deg, file=path.name, method="rayrot",
                   true_deg=true, est_deg=float(res.skew_deg), err_deg=err,
                   confidence=float(res.skew_confidence), seconds=sec,
                   skew_stage_seconds=float(res.seconds.get("skew", float("nan"))),
                   shape=[tilted.height, tilted.width])
        rows_out.append(row)
        done.append(dict(row, write_seconds=t_write, gigapixels=tilted.width * tilted.height / 1e9))
        print(f"c: {path.name}: {tilted.width}x{tilted.height} ({done[-1]['gigapixels']:.2f} Gpx), "
              f"true {true:.3f} est {res.skew_deg:.3f} err {err:.3f} conf {res.skew_confidence:.2f}, "
              f"detect {sec:.1f} s (skew stage {row['skew_stage_seconds']:.2f} s), "
              f"written in {t_write:.0f} s",
              flush=True)
        if not args.keep_giga:
            path.unlink()
    return {"images": done}


# ----------------------------------------------------------------------------- summary


def summarise(rows: list[dict], min_conf: float) -> list[dict]:
    keys = sorted({(r["size"], r["category"], r["range_deg"], r["method"]) for r in rows},
                  key=lambda k: (k[0], k[1], k[2], ["rayrot", "jdeskew", "deskew"].index(k[3])))
    out = []
    for size, cat, rng_deg, method in keys:
        sel = [r for r in rows if (r["size"], r["category"], r["range_deg"], r["method"])
               == (size, cat, rng_deg, method)]
        e = np.abs([r["err_deg"] for r in sel])
        row = dict(size=size, category=cat, range_deg=rng_deg, method=method, n=len(sel),
                   mean_abs_err_deg=float(e.mean()), median_abs_err_deg=float(np.median(e)),
                   within_0_1_pct=float(100.0 * np.mean(e <= 0.1)),
                   worst_deg=float(e.max()),
                   seconds_per_image=float(np.mean([r["seconds"] for r in sel])))
        if method == "rayrot":
            # rayrot declines (0.0) below min_confidence; how often, and how good its answers are
            ans = np.array([np.isfinite(r["confidence"]) and r["confidence"] >= min_conf for r in sel])
            row["answered_pct"] = float(100.0 * ans.mean())
            row["within_0_1_answered_pct"] = (float(100.0 * np.mean(e[ans] <= 0.1)) if ans.any()
                                              else float("nan"))
        out.append(row)
    return out


def table(summary: list[dict]) -> str:
    lines = ["| size | category | range | method | n | mean abs err (deg) | within 0.1 deg | "
             "worst (deg) | s / image | answered | within 0.1 deg of answered |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        extra = (f"{s['answered_pct']:.0f}% | {s['within_0_1_answered_pct']:.1f}%"
                 if "answered_pct" in s else "100% | (always answers)")
        lines.append(f"| {s['size']} | {s['category']} | ±{s['range_deg']:g} | {s['method']} | "
                     f"{s['n']} | {s['mean_abs_err_deg']:.3f} | {s['within_0_1_pct']:.1f}% | "
                     f"{s['worst_deg']:.3f} | {s['seconds_per_image']:.3f} | {extra} |")
    return "\n".join(lines)


def no_structure_table(rows: list[dict], min_conf: float) -> str:
    lines = ["| category | n | skew 0.0, confidence < min_confidence | turned by more than 0.1 deg | "
             "max confidence |",
             "|---|---:|---:|---:|---:|"]
    for cat in ("photos", "micro"):
        sel = [r for r in rows if r["category"] == cat]
        if not sel:
            continue
        ok = [r for r in sel if r["est_deg"] == 0.0 and r["confidence"] < min_conf]
        turned = [r for r in sel if abs(r["est_deg"]) > 0.1]
        names = ", ".join(f"{r['file']} {r['est_deg']:+.2f} deg" for r in turned)
        lines.append(f"| {cat} | {len(sel)} | {100.0 * len(ok) / len(sel):.0f}% | "
                     f"{len(turned)}{' (' + names + ')' if names else ''} | "
                     f"{max(r['confidence'] for r in sel):.2f} |")
    return "\n".join(lines)


def targets_table(summary: list[dict]) -> str:
    """The targets per size, category and range: rayrot against them and against jdeskew."""
    lines = ["| size | category | range | mean <= 0.03 | >= 99% within 0.1 | worst <= 0.1 | "
             "mean below jdeskew's | time <= jdeskew's |",
             "|---|---|---|---|---|---|---|---|"]
    by = {(s["size"], s["category"], s["range_deg"], s["method"]): s for s in summary}
    for (size, cat, rng_deg, method), r in by.items():
        if method != "rayrot":
            continue
        j = by.get((size, cat, rng_deg, "jdeskew"))

        def mark(ok: bool, text: str) -> str:
            return ("yes, " if ok else "**no**, ") + text

        cells = [mark(r["mean_abs_err_deg"] <= 0.03, f"{r['mean_abs_err_deg']:.3f}"),
                 mark(r["within_0_1_pct"] >= 99.0, f"{r['within_0_1_pct']:.1f}%"),
                 mark(r["worst_deg"] <= 0.1, f"{r['worst_deg']:.3f}")]
        if j:
            cells += [mark(r["mean_abs_err_deg"] < j["mean_abs_err_deg"],
                           f"{r['mean_abs_err_deg']:.3f} vs {j['mean_abs_err_deg']:.3f}"),
                      mark(r["seconds_per_image"] <= j["seconds_per_image"],
                           f"{r['seconds_per_image']:.3f} vs {j['seconds_per_image']:.3f} s")]
        else:
            cells += ["(no jdeskew at this size)", "-"]
        lines.append(f"| {size} | {cat} | ±{rng_deg:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def giga_table(giga: dict) -> str:
    if "images" not in giga:
        return f"Gigapixel (c): {giga.get('skipped', giga)}"
    lines = ["| size c image | pixels | true skew | rayrot | error | confidence | "
             "rayrot.detect s | skew stage s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for g in giga["images"]:
        if "error" in g:
            lines.append(f"| {g['file']} | failed: {g['error']} | | | | | | |")
            continue
        lines.append(f"| {g['file']} | {g['shape'][1]} x {g['shape'][0]} ({g['gigapixels']:.2f} Gpx) | "
                     f"{g['true_deg']:.3f} | {g['est_deg']:.3f} | {g['err_deg']:+.3f} | "
                     f"{g['confidence']:.2f} | {g['seconds']:.1f} | {g['skew_stage_seconds']:.2f} |")
    return "\n".join(lines)


NOTES = """\
How to read it. Each image is tilted by a known angle drawn uniformly from the range (seed 0), by
PIL bicubic rotation with the canvas expanded and white fill; size a = the stored dev image enlarged
2x (about 2000 px), b = enlarged to a 600-dpi page (long side 7000 px, the first 20 of each
category), c = a sheet of 30 dev pages at 600 dpi tilted as a whole (libvips bicubic), written as a
pyramidal BigTIFF and run through `rayrot.detect` with the config given (the default unless
`--config`/`--set`): the pipeline picks
the tiles; "rayrot.detect s" includes starting Ray (first image) and the 4-way model, "skew stage
s" is the skew alone (jdeskew and deskew need the whole image in memory and a 40000-px FFT or
Hough transform: not run). Errors are taken mod 90 deg. Every method
gets the same grey array and the same search range; seconds are the method's call alone, one
thread, on a 2-core machine shared with other jobs (compare within a row group, not across runs).
rayrot measures 512-px tiles at the level where the long side is about 2048 px plus the whole
image in one tile, and answers 0.0 when its confidence is below `skew.min_confidence` (0.5);
"answered" is how often it did not decline, and the last column is its accuracy when it answered.
Maps: many dev maps have no straight lines of their own (country outlines, shaded relief) - their
only line structure is the edge of the tilted image against the white fill (as a scanned sheet's
edge against the scanner bed). rayrot measures that border apart (straight sides of the outline
of what differs from the surround; two or more that agree make a border) and answers with it
when the tiles are not sure of their own answer. A few dev maps are drawn on white to their edges
(kgeography countries on a white sea, hexbin plots): tilted on white they show no border and no
straight lines, and rayrot declines on them (0.0, never a guess); a decline counts the whole
tilt as its error, which is most of rayrot's mean error over maps.
"""


def merge(payloads: list[dict]) -> dict:
    """Several runs' JSON as one (the first run's config; rows pooled, summary recomputed)."""
    if len(payloads) == 1:
        return payloads[0]
    out = dict(payloads[0])
    out["command"] = " and ".join(f"`{p['command']}`" for p in payloads).strip("`")
    out["date"] = max(p.get("date", "") for p in payloads)
    out["seconds_total"] = sum(p["seconds_total"] for p in payloads)
    out["rows"] = [r for p in payloads for r in p["rows"]]
    out["summary"] = summarise(out["rows"], float(out["config"]["min_confidence"]))
    out["no_structure"] = next((p["no_structure"] for p in payloads if p.get("no_structure")), [])
    out["gigapixel"] = next((p["gigapixel"] for p in payloads if "images" in p.get("gigapixel", {})),
                            payloads[0].get("gigapixel", {}))
    return out


def render(payload: dict) -> str:
    """The Skew section of RESULTS.md from a run's JSON."""
    min_conf = float(payload["config"]["min_confidence"])
    summary = payload["summary"]
    md = [SECTION, "", f"`benchmarks/skew.py`. Command: `{payload['command']}` "
          f"({payload.get('date', '')}, {payload['seconds_total']:.0f} s in all).", "",
          table(summary), "", "The targets (rayrot):", "", targets_table(summary), ""]
    if payload.get("no_structure"):
        md += ["Content without line structure (rayrot only, untilted, size a): the answer should be "
               f"0.0 with confidence below min_confidence = {min_conf:g}.", "",
               no_structure_table(payload["no_structure"], min_conf), ""]
    md += [giga_table(payload.get("gigapixel", {})), "", NOTES]
    return "\n".join(md)


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
    ap.add_argument("--limit-b", type=int, default=20,
                    help="first N images per category at size b (0 = as --limit); 35-Mpx pages are "
                         "slow for the whole-image methods")
    ap.add_argument("--giga-cols", type=int, default=6, help="size c: pages across the sheet")
    ap.add_argument("--giga-rows", type=int, default=5, help="size c: pages down the sheet")
    ap.add_argument("--keep-giga", action="store_true", help="keep the size-c TIFFs in .data/bench/")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--deskew-b", action="store_true",
                    help="also run deskew at size b (slow: Canny + Hough on 35 Mpx)")
    ap.add_argument("--no-structure", action=argparse.BooleanOptionalAction, default=True,
                    help="run dev photos and micrographs through rayrot (expect 0.0, low confidence)")
    ap.add_argument("--config", default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=str(OUT_JSON))
    ap.add_argument("--results", action="store_true", help="write the Skew section of RESULTS.md")
    ap.add_argument("--from-json", default=None, metavar="PATH[,PATH...]",
                    help="run nothing: print (and with --results write) the tables of an earlier run, "
                         "or of several runs merged (e.g. sizes a,b in one run and c in another)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.from_json:
        md = render(merge([json.loads(Path(p).read_text()) for p in args.from_json.split(",") if p]))
        print(md)
        if args.results:
            write_results(md)
        return 0
    args.sizes = [s for s in args.sizes.split(",") if s]
    args.ranges = [float(r) for r in args.ranges.split(",") if r]
    args.categories = [c for c in args.categories.split(",") if c]
    args.methods = [m for m in args.methods.split(",") if m]
    run_cfg = load_config(args.config, overrides=args.set)
    cfg = run_cfg.skew

    t0 = time.time()
    rows = run_sizes(args, cfg)
    nostruct = run_no_structure(args, cfg) if args.no_structure else []
    giga = run_gigapixel(args, run_cfg, rows) if "c" in args.sizes else {"skipped": "not requested"}
    summary = summarise(rows, cfg.min_confidence)
    cmd = "python benchmarks/skew.py " + " ".join(argv if argv is not None else sys.argv[1:])
    payload = dict(command=cmd.strip(), date=time.strftime("%Y-%m-%d"), config=dict(vars(cfg)),
                   seed=args.seed, machine=platform.platform(), seconds_total=time.time() - t0,
                   summary=summary, no_structure=nostruct, gigapixel=giga, rows=rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(out)
    md = render(payload)
    print(md)
    if args.results:
        write_results(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
