"""The public calls: :func:`detect`, :func:`correct` and :func:`detect_dataset`.

One path in gives one result out (``error`` set when it failed); a list, a folder or a glob
gives a list. Detection runs on Ray (:mod:`rayrot.engine.scheduler`); the outputs are written
by :mod:`rayrot.output`.
"""

from __future__ import annotations

import glob
import logging
import os
from pathlib import Path
from typing import Iterable

from .config import RunConfig, load_config
from .result import DetectionResult

__all__ = ["detect", "correct", "detect_dataset", "expand_inputs"]

LOGGER = logging.getLogger(__name__)


def expand_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike],
                  suffixes: tuple[str, ...] | None = None) -> list[str]:
    """Files, folders (their images, recursively) and globs -> a list of paths, in order.

    ``suffixes``: the file suffixes a folder is searched for (``source.folder_suffixes``).
    A path that exists is taken as it is, even when it holds glob characters
    (``scan[1].jpg``); only a name that does not exist is expanded as a glob. A name that
    gives no image (a missing file, a glob that matches nothing, a folder without images) is
    kept, so that reading it reports it as an error naming it.
    """
    if suffixes is None:
        suffixes = tuple(load_config().source.folder_suffixes)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out: list[str] = []
    for item in inputs:
        item = str(item)
        path = Path(item)
        if "://" in item and not item.startswith("file://"):
            found = _expand_url(item, suffixes)
        elif path.is_dir():
            found = [str(p) for p in sorted(path.rglob("*"))
                     if p.is_file() and p.suffix.lower() in suffixes]
        elif path.exists() or not any(ch in item for ch in "*?["):
            found = [item]
        else:
            found = [m for m in sorted(glob.glob(item, recursive=True)) if Path(m).is_file()]
        out.extend(found or [item])
    return out


def _expand_url(url: str, suffixes: tuple[str, ...]) -> list[str]:
    """An fsspec URL: a glob's matches, a prefix's images (recursively), or the URL itself
    (a prefix without images too, so that reading it reports it)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    scheme = url.split("://", 1)[0]
    if any(ch in path for ch in "*?["):
        found = sorted(fs.glob(path))
    elif fs.isdir(path):
        found = sorted(p for p in fs.find(path) if Path(p).suffix.lower() in suffixes)
    else:
        return [url]
    return [f"{scheme}://{p}" for p in found] or [url]


def _is_single(paths) -> bool:
    """One path that names one file (present or not), not a folder or a glob."""
    return (isinstance(paths, (str, os.PathLike)) and not Path(paths).is_dir()
            and (Path(paths).exists() or not any(ch in str(paths) for ch in "*?[")))


def _as_config(config) -> RunConfig:
    if config is None:
        return load_config()
    if isinstance(config, RunConfig):
        return config
    return load_config(config)


def detect(paths, config=None, *, progress=None):
    """Detect the orientation of one image or many.

    Parameters
    ----------
    paths : str, path, or list of them
        Files, folders or globs.
    config : RunConfig, path to a YAML file, or None for the defaults
    progress : bool, optional
        Show a progress bar (tqdm; renders in notebooks too). Default: only for several images.

    Returns
    -------
    DetectionResult for one path (a file, or a name that is neither a folder nor a glob:
    a missing file gives a result with ``error`` set); a list of them when ``paths`` is a
    list, a folder or a glob. Failures do not raise: the result's ``error`` says what went wrong.
    """
    cfg = _as_config(config)
    from .engine.scheduler import init_ray, schedule

    single = _is_single(paths)
    files = [str(paths)] if single else expand_inputs(paths, tuple(cfg.source.folder_suffixes))
    init_ray(cfg)
    bar = _progress_bar(len(files), progress)
    try:
        results = schedule(files, cfg, bar)
    finally:
        if bar is not None:
            bar.close()
    return results[0] if single else results


def correct(paths, output_dir, config=None, *, progress=None, overwrite: bool = False,
            on_result=None) -> list[DetectionResult]:
    """Detect, then write every configured output into ``output_dir``; resumable.

    Writes ``images.parquet`` and ``tiles.parquet`` (grown as images finish), and per image
    ``<name>.zarr`` (OME-Zarr), ``<name>.corrected.<ext>`` + ``.angle.txt`` + ``.meta.json``
    (ordinary images), ``<name>.ome.tiff`` and ``<name>.overlay.png`` as ``output.formats``
    asks; ``output_dir`` may be an fsspec URL (``s3://bucket/prefix``). ``<name>`` is the
    input's path relative to the inputs' common folder, without its suffix
    (:mod:`rayrot.output.naming`). Each file is written under a temporary name and renamed
    when complete. Run again into the same local folder, it skips the inputs already done
    (``overwrite=True`` redoes them); see :func:`rayrot.batch.run_batch`. ``on_result(result)``
    is called as each input finishes. Returns the results, with ``outputs`` filled in; an
    image whose output failed gets ``error`` set.
    """
    from .batch import run_batch

    cfg = _as_config(config)
    files = expand_inputs(paths, tuple(cfg.source.folder_suffixes))
    return run_batch(files, output_dir, cfg, overwrite=overwrite,
                     progress=lambda total: _progress_bar(total, progress), on_result=on_result)


def _progress_bar(total: int, progress):
    if progress is None:
        progress = total > 1
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="image", desc="rayrot")


def detect_dataset(dataset, config=None, *, path_column: str = "path"):
    """Orientation of every image path in a Ray Dataset (one row per path).

    Returns a new Dataset with columns path, angle (-1 = undetermined), confidence,
    skew_deg, tiles_scored and error ("" when fine), computed by a pool of scoring actors.
    """
    from .engine.scheduler import DatasetScorer, ScorerPool, dataset_scorer_options, init_ray

    cfg = _as_config(config)
    init_ray(cfg)
    # Ray Data starts its own pool of scorers; ours would hold the CPUs it needs.
    ScorerPool.release_all()
    return dataset.map_batches(DatasetScorer, fn_constructor_args=(cfg, path_column),
                               **dataset_scorer_options(cfg))
