"""The public calls: :func:`detect`, :func:`correct` and :func:`detect_dataset`.

One path in gives one result out (``error`` set when it failed); a list, a folder or a glob
gives a list. Detection runs on Ray (:mod:`rayrot.engine.scheduler`); the outputs are written
by :mod:`rayrot.output`.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from pathlib import Path
from typing import Iterable

from .config import RunConfig, load_config
from .errors import RayrotError
from .result import DetectionResult

__all__ = ["detect", "correct", "detect_dataset", "expand_inputs"]

LOGGER = logging.getLogger(__name__)


def expand_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike],
                  suffixes: tuple[str, ...] | None = None) -> list[str]:
    """Files, folders (their images, recursively) and globs -> a list of paths, in order.

    ``suffixes``: the file suffixes a folder is searched for (``source.folder_suffixes``).
    A name that matches nothing is kept, so it is reported as a missing file.
    """
    if suffixes is None:
        suffixes = tuple(load_config().source.folder_suffixes)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out: list[str] = []
    for item in inputs:
        item = str(item)
        if any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(item, recursive=True))
            out.extend(m for m in matches if Path(m).is_file())
            if not matches:
                out.append(item)
        elif Path(item).is_dir():
            out.extend(str(p) for p in sorted(Path(item).rglob("*"))
                       if p.is_file() and p.suffix.lower() in suffixes)
        else:
            out.append(item)
    return out


def _is_single(paths) -> bool:
    """One path that names one file (present or not), not a folder or a glob."""
    return (isinstance(paths, (str, os.PathLike)) and not Path(paths).is_dir()
            and not any(ch in str(paths) for ch in "*?["))


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


def correct(paths, output_dir, config=None, *, progress=None) -> list[DetectionResult]:
    """Detect, then write every configured output into ``output_dir``.

    Writes ``images.parquet`` and ``tiles.parquet`` for the whole batch, and per image
    ``<name>.zarr`` (OME-Zarr), ``<name>.corrected.<ext>`` + ``.angle.txt`` + ``.meta.json``
    (ordinary images) and ``<name>.overlay.png`` as ``output.formats`` asks. Each file is
    written under a temporary name and renamed when complete. Returns the results, with
    ``outputs`` filled in; an image whose output failed gets ``error`` set.
    """
    from . import output as writers
    from .engine.scheduler import ScorerPool

    cfg = _as_config(config)
    out = Path(output_dir)
    writers.check_output_dir(out)
    files = expand_inputs(paths, tuple(cfg.source.folder_suffixes))
    if {"zarr", "image"} & set(cfg.output.formats):  # a correction needs every image's skew
        cfg = cfg.replace(skew={"after_first_look": True})
    results = detect(files, cfg, progress=progress)
    # The chunk-writing tasks need the CPUs the scoring actors hold.
    ScorerPool.release_all()
    names = _output_names(files)
    for res, name in zip(results, names):
        if not res.ok:
            continue
        t0 = time.perf_counter()
        try:
            _write_image_outputs(res, name, out, cfg)
        except RayrotError as exc:
            LOGGER.warning("%s", exc)
            res.error = " ".join(str(exc).split())
        except Exception as exc:
            res.error = f"{res.path}: cannot write outputs: {type(exc).__name__}: {exc}"
        res.seconds["write"] = time.perf_counter() - t0
    if "parquet" in cfg.output.formats:
        writers.write_images_parquet(results, out / "images.parquet")
        writers.write_tiles_parquet([writers.tile_records_table(r.tiles) for r in results],
                                    out / "tiles.parquet")
    return results


def _write_image_outputs(res: DetectionResult, name: str, out: Path, cfg: RunConfig) -> None:
    from . import output as writers
    from .engine.scheduler import ray_map
    from .io import open_slide

    formats = cfg.output.formats
    slide = open_slide(res.path, cfg.source)  # the run's reader, by the run's rules
    if "zarr" in formats:
        plan = writers.plan_zarr(res.width, res.height, res.angle or 0, res.skew_deg, cfg.output)
        path = out / f"{name}.zarr"
        writers.write_ome_zarr(plan, res.path, cfg.source, path, map_fn=ray_map(cfg))
        res.outputs["zarr"] = str(path)
    if "image" in formats and res.width * res.height <= cfg.output.image_max_pixels:
        res.outputs.update(writers.write_corrected_image(slide, res, out, cfg.output, name=name,
                                                          source_cfg=cfg.source))
    if "overlay" in formats:
        from .output.overlay import save_overlay

        path = out / f"{name}.overlay.png"
        save_overlay(res, slide, path)
        res.outputs["overlay"] = str(path)


def _output_names(files: list[str]) -> list[str]:
    """Output stem per input: the file's stem, made unique within the batch."""
    seen: dict[str, int] = {}
    names = []
    for f in files:
        stem = Path(f).name
        for suffix in (".ome.tiff", ".ome.tif"):
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        else:
            stem = Path(f).stem
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(stem if n == 0 else f"{stem}-{n}")
    return names


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
