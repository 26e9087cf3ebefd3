"""The command line: detect and correct the orientation of images, on a local Ray or a cluster.

    rayrot --input slide.svs --output out/            # the console script
    python -m rayrot --input slide.svs --output out/  # the same
    ray job submit --working-dir . -- python rayrot/run.py --input slide.svs --output out/

Run directly, it starts a local Ray; submitted as a Ray job, it joins that cluster.
Each input gets one line on stdout; each bad input one line on stderr naming the file and
the reason. The exit status is 0 when every input succeeded, 1 when any failed, 2 for a
bad command line or configuration.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .config import load_config
from .errors import RayrotError

__all__ = ["build_parser", "main", "package_version"]


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
                   help="comma-separated outputs: parquet,zarr,image,overlay,ome-tiff")
    p.add_argument("--overlay", action="store_true",
                   help="also save out/<name>.overlay.png (thumbnail with each tile's vote)")
    p.add_argument("--no-skew", action="store_true", help="keep pure 90-degree corrections")
    p.add_argument("--address", default=None, help="Ray cluster address (default: the job's, or local)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="rayrot: %(message)s")
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
    return 1 if failed else 0
