"""The command line: detect and correct the orientation of images, on a local Ray or a cluster.

    rayrot --input slide.svs --output out/            # the console script
    python -m rayrot --input slide.svs --output out/  # the same
    ray job submit --working-dir . -- python rayrot/run.py --input slide.svs --output out/

Run directly, it starts a local Ray; submitted as a Ray job, it joins that cluster.
Each input gets one line on stdout as it finishes; each bad input exactly one line on stderr,
``rayrot: error: <path>: <reason>``; the run ends with a summary line on stderr (images per
angle, undetermined, failed, seconds). Everything else (libvips warnings, Ray's messages) goes
to the log, ``<output>/rayrot.log``, and to stderr only when asked (``-v``, ``--log-level``).
``--dry-run`` lists the inputs found and the outputs planned, and stops there. The exit status
is 0 when every input succeeded, 1 when any failed, 2 for a bad command line or configuration,
130 when stopped by Ctrl-C (a rerun of the same command resumes).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter

from .config import load_config
from .errors import RayrotError

__all__ = ["build_parser", "main", "package_version", "run_summary"]

_LOG_LEVELS = ("debug", "info", "warning", "error")

# Ray's switch for a node that is one machine, not part of a cluster (ray_constants).
_RAY_SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


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
    p.add_argument("--overwrite", action="store_true",
                   help="redo every input, also those a previous run into --output finished")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--verbose", "-v", action="count", default=0,
                   help="log more on stderr: -v what is written and inferred, -vv debugging")
    p.add_argument("--log-level", choices=_LOG_LEVELS, default=None,
                   help="log level on stderr (default warning; overrides -v)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the inputs found and the outputs planned; score and write nothing")
    return p


def _print_result(res) -> bool:
    """One line for ``res``: its answer on stdout, or its error on stderr. True if it failed."""
    if res.error:
        reason = res.error
        if reason.startswith(f"{res.path}: "):
            reason = reason[len(res.path) + 2:]
        print(f"rayrot: error: {res.path}: {' '.join(reason.split())}", file=sys.stderr, flush=True)
        return True
    angle = "undetermined" if res.angle is None else f"{res.angle}"
    print(f"{res.path}\tangle={angle}\tconfidence={res.confidence:.3f}\t"
          f"skew_deg={res.skew_deg:.2f}\ttiles={res.tiles_scored}", flush=True)
    return False


def _log_to(output: str | None, terminal_level: int | None) -> None:
    """Send rayrot's and libraries' log records to ``<output>/rayrot.log`` (a local output
    folder), and to stderr at ``terminal_level`` when the user asked for it; otherwise the
    terminal gets only this command's own lines."""
    from .output.files import is_url

    root = logging.getLogger()
    root.setLevel(logging.INFO if terminal_level is None else min(logging.INFO, terminal_level))
    logging.getLogger("pyvips").setLevel(logging.WARNING)  # libvips' chatter at INFO
    handler: logging.Handler = logging.NullHandler()
    if output and not is_url(output):
        from pathlib import Path

        try:
            Path(output).mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(Path(output) / "rayrot.log")
            handler.setLevel(logging.INFO)
        except OSError:  # the unwritable folder is reported by the run itself
            pass
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if terminal_level is not None:
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setLevel(terminal_level)
        terminal.setFormatter(logging.Formatter("rayrot: %(message)s"))
        root.addHandler(terminal)


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
    asked = args.verbose or args.log_level
    # a dry run writes nothing, not even the log
    _log_to(None if args.dry_run else args.output, _log_level(args) if asked else None)
    if not args.address and not os.environ.get("RAY_ADDRESS"):
        # The embedded Ray of this process listens on the loopback address only: Ray takes a
        # node's routable address unless told the node is a single machine (read when ray is
        # imported, and passed on to its processes). Token authentication stays as Ray sets it.
        os.environ.setdefault(_RAY_SINGLE_MACHINE, "0")
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
    from .batch import BatchInterrupted

    progress = not args.quiet and sys.stderr.isatty()
    failed = 0

    def report(res) -> None:
        nonlocal failed
        failed += _print_result(res)

    try:
        if args.output:
            results = api.correct(args.input, args.output, cfg, progress=progress,
                                  overwrite=args.overwrite, on_result=report)
        else:
            results = api.detect(list(args.input), cfg, progress=progress)
            for res in results:
                report(res)
    except RayrotError as exc:  # e.g. an unwritable output folder: nothing can be done
        print(f"rayrot: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        done = (f"{exc.finished} of {exc.total} inputs finished; run the same command again to "
                "resume" if isinstance(exc, BatchInterrupted) else "nothing written")
        print(f"rayrot: interrupted: {done}", file=sys.stderr)
        return 130
    print(run_summary(results, time.perf_counter() - start), file=sys.stderr)
    return 1 if failed else 0
