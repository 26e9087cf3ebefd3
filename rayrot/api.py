"""The public calls: :func:`detect`, :func:`correct`, :func:`upright`, :func:`detect_dataset`
and :func:`shutdown`.

One path (or one image in memory: a NumPy array, a PIL image) in gives one result out
(``error`` set when it failed); a list, a folder or a glob gives a list. Files are detected on
Ray (:mod:`rayrot.engine.scheduler`), images in memory in this process (the same per-image
engine, :mod:`rayrot.engine.local`); the outputs are written by :mod:`rayrot.output`.
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

__all__ = ["detect", "correct", "upright", "detect_dataset", "shutdown", "planned_outputs",
           "expand_inputs"]

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
    paths : str, path, (H, W[, C]) ndarray, PIL image, or a list of them
        Files, folders or globs; or images in memory (uint8, uint16, or float in 0..1;
        grey, RGB or RGBA), detected in this process.
    config : RunConfig, path to a YAML file, or None for the defaults
    progress : bool, optional
        Show a progress bar (``tqdm.auto``: a widget in notebooks with ipywidgets installed).
        Default: only for several images.

    Returns
    -------
    DetectionResult for one path (a file, or a name that is neither a folder nor a glob:
    a missing file gives a result with ``error`` set) or one image in memory; a list of
    them when ``paths`` is a list, a folder or a glob. Failures do not raise: the result's
    ``error`` says what went wrong.

    The scoring actors are stopped before it returns, so the CPUs (GPUs) are free for other
    Ray work; Ray itself stays up for the next call (:func:`shutdown` stops it).
    """
    from .io.memory import is_image_object

    cfg = _as_config(config)
    if is_image_object(paths):
        return _detect_in_memory([paths], cfg)[0]
    single = _is_single(paths)
    items = [str(paths)] if single else _expand_items(paths, cfg)
    in_memory = [i for i, item in enumerate(items) if is_image_object(item)]
    files = [i for i, item in enumerate(items) if not is_image_object(item)]
    results: list = [None] * len(items)
    for i, res in zip(in_memory, _detect_in_memory([items[i] for i in in_memory], cfg)):
        results[i] = res
    if files:
        for i, res in zip(files, _detect_files([items[i] for i in files], cfg, progress)):
            results[i] = res
    return results[0] if single else results


def _expand_items(paths, cfg: RunConfig) -> list:
    """Paths, folders and globs expanded; images in memory kept as they are, in order."""
    from .io.memory import is_image_object

    if isinstance(paths, (str, os.PathLike)):
        return expand_inputs(paths, tuple(cfg.source.folder_suffixes))
    out: list = []
    for item in paths:
        if is_image_object(item):
            out.append(item)
        else:
            out.extend(expand_inputs(item, tuple(cfg.source.folder_suffixes)))
    return out


def _detect_files(files: list[str], cfg: RunConfig, progress) -> list[DetectionResult]:
    """Files over the Ray actor pool; the actors are stopped before it returns."""
    from .engine.scheduler import ScorerPool, init_ray, schedule

    init_ray(cfg)
    bar = _progress_bar(len(files), progress)
    try:
        return schedule(files, cfg, bar)
    finally:
        if bar is not None:
            bar.close()
        # Idle actors would hold every CPU (GPU) they reserved: a user's own Ray work, or the
        # chunk-writing tasks of correct(), would wait for them.
        ScorerPool.release_all()


def _local_scorer(cfg: RunConfig):
    """A TileScorer in this process for images in memory, kept for the next call with the same
    model settings (loading the model costs more than scoring an image)."""
    from .scorer import TileScorer

    key = (cfg.model, cfg.scorer, cfg.source, cfg.tiling.tile_px)
    if _LOCAL_SCORER.get("key") != key:
        _LOCAL_SCORER.update(key=key, scorer=TileScorer(cfg))
    return _LOCAL_SCORER["scorer"]


_LOCAL_SCORER: dict = {}


def _detect_in_memory(images: list, cfg: RunConfig) -> list[DetectionResult]:
    """Images in memory through the per-image engine, in this process."""
    from .engine.local import analyze_image

    return [analyze_image(image, cfg, _local_scorer(cfg)) for image in images]


def upright(image, config=None):
    """The image turned upright (and straightened), in memory: one call, arrays in and out.

    Parameters
    ----------
    image : (H, W[, C]) ndarray or PIL image
        uint8, uint16, or float in 0..1; grey, RGB or RGBA.
    config : RunConfig, path to a YAML file, or None for the defaults
        ``skew.enabled`` false keeps lossless quarter turns; ``output.fill`` and
        ``output.skew_crop`` shape a skew correction.

    Returns
    -------
    upright : (H', W', 3) uint8 ndarray
        The image turned clockwise by ``result.angle + result.skew_deg`` (4 bands with
        ``output.fill`` transparent and a skew); the input unturned (but straightened) when the
        angle is undetermined.
    result : DetectionResult

    Raises
    ------
    SlideReadError
        ``image`` is not an image (wrong shape or dtype).

    >>> fixed, result = rayrot.upright(np.asarray(Image.open("page.jpg")))  # doctest: +SKIP
    """
    from .engine.local import analyze_image
    from .io.memory import hold
    from .output.image import corrected_pixels

    cfg = _as_config(config).replace(skew={"after_first_look": True})  # the skew is corrected
    with hold(image, cfg.source) as slide:
        res = analyze_image(slide.path, cfg, _local_scorer(cfg))
        if res.error:
            raise RayrotError(res.error)
        return corrected_pixels(slide, res, cfg.output), res


def shutdown() -> None:
    """Stop rayrot's scoring actors, and Ray itself when rayrot started it (a local Ray)."""
    from .engine.scheduler import shutdown_ray

    _LOCAL_SCORER.clear()
    shutdown_ray()


def correct(paths, output_dir, config=None, *, progress=None) -> list[DetectionResult]:
    """Detect, then write every configured output into ``output_dir``.

    Writes ``images.parquet`` and ``tiles.parquet`` for the whole batch, and per image
    ``<name>.zarr`` (OME-Zarr), ``<name>.corrected.<ext>`` + ``.angle.txt`` + ``.meta.json``
    (ordinary images) and ``<name>.overlay.png`` as ``output.formats`` asks. Each file is
    written under a temporary name and renamed when complete. Returns the results, with
    ``outputs`` filled in; an image whose output failed gets ``error`` set.
    """
    from . import output as writers

    cfg = _as_config(config)
    out = Path(output_dir)
    writers.check_output_dir(out)
    files = expand_inputs(paths, tuple(cfg.source.folder_suffixes))
    if {"zarr", "image"} & set(cfg.output.formats):  # a correction needs every image's skew
        cfg = cfg.replace(skew={"after_first_look": True})
    results = detect(files, cfg, progress=progress)  # the actors are gone when it returns
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
        # angle_deg in the attributes is the turn applied; these say what was found
        found = {"angle": res.angle, "undetermined": res.undetermined,
                 "confidence": res.confidence}
        writers.write_ome_zarr(plan, res.path, cfg.source, path, metadata=found,
                               map_fn=ray_map(cfg))
        res.outputs["zarr"] = str(path)
    if "image" in formats and res.width * res.height <= cfg.output.image_max_pixels:
        res.outputs.update(writers.write_corrected_image(slide, res, out, cfg.output, name=name,
                                                          source_cfg=cfg.source))
    if "overlay" in formats:
        from .output.overlay import save_overlay

        path = out / f"{name}.overlay.png"
        save_overlay(res, slide, path)
        res.outputs["overlay"] = str(path)


def planned_outputs(paths, output_dir, config=None) -> dict[str, list]:
    """What :func:`correct` would write for ``paths``, without reading an image or writing
    anything (the command line's ``--dry-run``).

    Returns
    -------
    plan : dict
        ``"images"``: one ``(input path, [output paths])`` per input found, in order (the
        corrected ordinary image is planned for every input; :func:`correct` skips it for
        images over ``output.image_max_pixels``); ``"batch"``: the tables written for the whole
        batch. Both lists of outputs are empty when ``output_dir`` is None (detect only).
    """
    from .output.image import corrected_suffix

    cfg = _as_config(config)
    files = expand_inputs(paths, tuple(cfg.source.folder_suffixes))
    if output_dir is None:
        return {"images": [(f, []) for f in files], "batch": []}
    out, formats = Path(output_dir), cfg.output.formats
    images = []
    for f, name in zip(files, _output_names(files)):
        planned = []
        if "zarr" in formats:
            planned.append(out / f"{name}.zarr")
        if "image" in formats:
            planned += [out / f"{name}.corrected.{corrected_suffix(f)}", out / f"{name}.angle.txt",
                        out / f"{name}.meta.json"]
        if "overlay" in formats:
            planned.append(out / f"{name}.overlay.png")
        images.append((f, [str(p) for p in planned]))
    batch = [str(out / "images.parquet"), str(out / "tiles.parquet")] if "parquet" in formats else []
    return {"images": images, "batch": batch}


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
    """Orientation of every image in a Ray Dataset, by a pool of :class:`~rayrot.OrientationScorer` s.

    Parameters
    ----------
    dataset : ray.data.Dataset
        One row per image; ``path_column`` holds its path (or its pixels).
    config : RunConfig, path to a YAML file, or None for the defaults

    Returns
    -------
    ray.data.Dataset
        Every input column, plus ``angle`` (null when undetermined or failed), ``confidence``,
        ``skew_deg`` and ``error`` (null when fine). The pool's size and resources come from
        ``cfg.scorer`` (:func:`rayrot.engine.scheduler.dataset_scorer_options`).
    """
    from .dataset import OrientationScorer
    from .engine.scheduler import dataset_scorer_options, init_ray

    cfg = _as_config(config)
    init_ray(cfg)
    return dataset.map_batches(OrientationScorer,
                               fn_constructor_kwargs={"config": cfg, "column": path_column},
                               **dataset_scorer_options(cfg))
