"""The command line: detect and correct the orientation of images, on a local Ray or a cluster.

    rayrot --input slide.svs --output out/            # the console script
    python -m rayrot --input slide.svs --output out/  # the same
    ray job submit --working-dir . -- python rayrot/run.py --input slide.svs --output out/

Run directly, it starts a local Ray; submitted as a Ray job, it joins that cluster.
Each input gets one line on stdout; each bad input one line on stderr naming the file and
the reason; the run ends with a summary line on stderr (images per angle, undetermined,
failed, seconds). ``--dry-run`` lists the inputs found and the outputs planned, and stops
there. The exit status is 0 when every input succeeded, 1 when any failed, 2 for a
bad command line or configuration.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter

from .config import load_config
from .errors import RayrotError

__all__ = ["build_parser", "main", "package_version", "run_summary"]

_LOG_LEVELS = ("debug", "info", "warning", "error")


def package_version() -> str:
    """rayrot's version from the installed package's metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rayrot")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rayrot", description="Find which way up gigantic images are and turn them upright.")
    p.add_argument("--version", action="version", version=f"rayrot {package_version()}")
    p.add_argument("--input", "-i", nargs="+", required=True,
                   help="image files, folders or globs (quote globs)")
    p.add_argument("--output", "-o", default=None,
                   help="output folder; without it, only detect and print")
    p.add_argument("--config", "-c", default=None,
                   help="YAML file (or a preset name: slides, satellite, documents, fast)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. --set tiling.max_tiles=32 (repeatable)")
    p.add_argument("--model", default=None, help="registered model name or .safetensors path")
    p.add_argument("--formats", default=None,
                   help="comma-separated outputs: parquet,zarr,image,overlay")
    p.add_argument("--overlay", action="store_true",
                   help="also save out/<name>.overlay.png (thumbnail with each tile's vote)")
    p.add_argument("--no-skew", action="store_true", help="keep pure 90-degree corrections")
    p.add_argument("--address", default=None, help="Ray cluster address (default: the job's, or local)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--verbose", "-v", action="count", default=0,
                   help="log more on stderr: -v what is written and inferred, -vv debugging")
    p.add_argument("--log-level", choices=_LOG_LEVELS, default=None,
                   help="log level on stderr (default warning; overrides -v)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the inputs found and the outputs planned; score and write nothing")
    return p


def _log_level(args: argparse.Namespace) -> int:
    if args.log_level:
        return getattr(logging, args.log_level.upper())
    return {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)


def run_summary(results, seconds: float) -> str:
    """The end-of-run line: images per angle, undetermined, failed, and wall-clock seconds.

    >>> from rayrot.result import DetectionResult as R
    >>> run_summary([R("a", angle=90), R("b", angle=90), R("c"), R("d", error="d: no such file")], 2.5)
    'rayrot: 4 images in 2.5 s: 0: 0, 90: 2, 180: 0, 270: 0, undetermined: 1, failed: 1'
    """
    found = Counter("failed" if r.error else r.angle for r in results)
    angles = ", ".join(f"{a}: {found[a]}" for a in (0, 90, 180, 270))
    return (f"rayrot: {len(results)} images in {seconds:.1f} s: {angles}, "
            f"undetermined: {found[None]}, failed: {found['failed']}")


def _dry_run(args: argparse.Namespace, cfg) -> int:
    """Print each input found and, with ``--output``, the files it would get; nothing is read
    beyond the folder listings, nothing scored or written."""
    from . import api

    plan = api.planned_outputs(args.input, args.output, cfg)
    for path, outputs in plan["images"]:
        print("\t".join([path, *outputs]), flush=True)
    if plan["batch"]:
        print("\t".join(["(batch)", *plan["batch"]]), flush=True)
    print(f"rayrot: dry run: {len(plan['images'])} input(s) found, nothing scored or written",
          file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    logging.basicConfig(level=_log_level(args), format="rayrot: %(message)s")
    overrides = list(args.overrides)
    if args.model:
        overrides.append(f"model.name={args.model}")
    if args.no_skew:
        overrides.append("skew.enabled=false")
    if args.address:
        overrides.append(f"ray.address={args.address}")
    try:
        cfg = load_config(args.config, overrides)
        formats = list(cfg.output.formats)
        if args.formats:
            formats = [f.strip() for f in args.formats.split(",") if f.strip()]
        if args.overlay and "overlay" not in formats:
            formats.append("overlay")
        if formats != list(cfg.output.formats):
            cfg = cfg.replace(output={"formats": formats})
    except RayrotError as exc:
        print(f"rayrot: error: {exc}", file=sys.stderr)
        return 2

    if args.dry_run:
        return _dry_run(args, cfg)
    from . import api

    progress = not args.quiet and sys.stderr.isatty()
    try:
        if args.output:
            results = api.correct(args.input, args.output, cfg, progress=progress)
        else:
            results = api.detect(list(args.input), cfg, progress=progress)
    except RayrotError as exc:  # e.g. an unwritable output folder: nothing can be done
        print(f"rayrot: error: {exc}", file=sys.stderr)
        return 1
    failed = 0
    for res in results:
        if res.error:
            failed += 1
            print(f"rayrot: error: {res.error}", file=sys.stderr)
            continue
        angle = "undetermined" if res.angle is None else f"{res.angle}"
        print(f"{res.path}\tangle={angle}\tconfidence={res.confidence:.3f}\t"
              f"skew_deg={res.skew_deg:.2f}\ttiles={res.tiles_scored}", flush=True)
    if failed:
        print(f"rayrot: {failed} of {len(results)} input(s) failed", file=sys.stderr)
    print(run_summary(results, time.perf_counter() - start), file=sys.stderr)
    return 1 if failed else 0
