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
    out = writers.check_output_dir(output_dir)  # a Path, or an fsspec URL (s3://...)
    files = expand_inputs(paths, tuple(cfg.source.folder_suffixes))
    # a correction needs every image's skew
    if {"zarr", "image", "ome-tiff"} & set(cfg.output.formats):
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
        writers.write_images_parquet(results, writers.output_child(out, "images.parquet"))
        writers.write_tiles_parquet([r.tiles for r in results if r.tiles is not None],
                                    writers.output_child(out, "tiles.parquet"))
    return results


def _write_image_outputs(res: DetectionResult, name: str, out, cfg: RunConfig) -> None:
    from . import output as writers
    from .engine.scheduler import ray_map
    from .io import open_slide

    formats = cfg.output.formats
    slide = open_slide(res.path, cfg.source)  # the run's reader, by the run's rules
    if "zarr" in formats:
        plan = writers.plan_zarr(res.width, res.height, res.angle or 0, res.skew_deg, cfg.output,
                                 mpp=(res.mpp_x, res.mpp_y))
        path = writers.output_child(out, f"{name}.zarr")
        writers.write_ome_zarr(plan, res.path, cfg.source, path, map_fn=ray_map(cfg),
                               metadata=_zarr_metadata(res, slide))
        res.outputs["zarr"] = str(path)
    if "ome-tiff" in formats:
        from .output.ometiff import write_ome_tiff

        res.outputs["ome-tiff"] = write_ome_tiff(
            slide, res, writers.output_child(out, f"{name}.ome.tiff"), cfg.output)
    if "image" in formats and res.width * res.height <= cfg.output.image_max_pixels:
        res.outputs.update(writers.write_corrected_image(slide, res, out, cfg.output, name=name,
                                                          source_cfg=cfg.source))
    if "overlay" in formats:
        from .output.overlay import save_overlay

        path = writers.output_child(out, f"{name}.overlay.png")
        save_overlay(res, slide, path)
        res.outputs["overlay"] = str(path)


def _zarr_metadata(res: DetectionResult, slide) -> dict:
    """The corrected store's ``rayrot`` attributes: the input, the answer, and the input's
    vendor properties (OpenSlide's key -> value), kept as the file had them."""
    return {"source": res.path, "angle": res.angle, "confidence": res.confidence,
            "source_properties": dict(slide.pixel_size.vendor)}


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
