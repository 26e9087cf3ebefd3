"""Output names of a batch: one readable, deterministic name per input, never shared.

An input's outputs are named from its path relative to the common folder of the batch's
inputs, without its suffix: inputs ``scans/a/scan.jpg`` and ``scans/b/scan.jpg`` give
``a/scan`` and ``b/scan`` (``out/a/scan.zarr``, ``out/b/scan.corrected.jpg``). Inputs that
would still share a name (``a/scan.jpg`` and ``a/scan.png``) keep their suffix in it
(``a/scan.jpg``, ``a/scan.png``). The same inputs give the same names in every run, which is
what lets a rerun find the outputs of the last one.

Inputs are also cleaned here: the same file named twice is processed once, and nothing inside
the output folder or inside another rayrot output folder (one holding ``.rayrot``) is taken as
an input.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["STATE_DIR", "batch_inputs", "output_names"]

LOGGER = logging.getLogger(__name__)

# The hidden folder rayrot keeps in every output folder (the run's lock); it also marks the
# folder as rayrot's own, so a later run never reads its files as inputs.
STATE_DIR = ".rayrot"

_MULTI_SUFFIXES = (".ome.tiff", ".ome.tif")


def batch_inputs(files: list[str], out_dir: str | os.PathLike | None = None) -> list[str]:
    """``files`` without repeats and without rayrot's own outputs, in order.

    Parameters
    ----------
    files : list of str
        Expanded input paths.
    out_dir : path, optional
        The run's output folder: files inside it are never inputs.

    Returns
    -------
    files : list of str
        The first mention of each file (compared by its resolved path); a path that does not
        exist is kept (it is reported as missing).
    """
    out = Path(out_dir).resolve() if out_dir is not None else None
    seen: set[str] = set()
    kept = []
    for f in files:
        real = Path(os.path.realpath(f))
        if str(real) in seen:
            LOGGER.info("%s: named more than once, processed once", f)
            continue
        seen.add(str(real))
        if _inside_output(real, out):
            LOGGER.info("%s: inside a rayrot output folder, not an input", f)
            continue
        kept.append(f)
    return kept


def _inside_output(real: Path, out: Path | None) -> bool:
    for folder in real.parents:
        if folder == out or (folder / STATE_DIR).is_dir():
            return True
    return False


def output_names(files: list[str]) -> list[str]:
    """One output name per input (``/``-separated, relative to the output folder, no suffix).

    >>> output_names(["in/a/scan.jpg", "in/b/scan.jpg", "in/c/scan-1.jpg"])
    ['a/scan', 'b/scan', 'c/scan-1']
    >>> output_names(["x/scan.jpg", "x/scan.png"])
    ['scan.jpg', 'scan.png']
    """
    if not files:
        return []
    absolute = [os.path.abspath(f) for f in files]
    root = os.path.commonpath([os.path.dirname(a) for a in absolute])
    rel = [Path(os.path.relpath(a, root)).as_posix() for a in absolute]
    stems = [_strip_suffix(r) for r in rel]
    counts: dict[str, int] = {}
    for s in stems:
        counts[s.lower()] = counts.get(s.lower(), 0) + 1
    # A stem shared by two inputs keeps the suffix; file names are unique within a folder, so
    # the full relative path cannot be shared (case-insensitive file systems aside).
    return [r if counts[s.lower()] > 1 else s for r, s in zip(rel, stems)]


def _strip_suffix(rel: str) -> str:
    for suffix in _MULTI_SUFFIXES:
        if rel.lower().endswith(suffix):
            return rel[: -len(suffix)]
    stem, ext = os.path.splitext(rel)
    return stem if stem and not stem.endswith("/") else rel
