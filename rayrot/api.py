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
    """Files over the Ray actor pool; the actors stop once idle ``scorer.idle_release_s``."""
    from .engine.scheduler import ScorerPool, init_ray, schedule

    init_ray(cfg)
    bar = _progress_bar(len(files), progress)
    try:
        return schedule(files, cfg, bar)
    finally:
        if bar is not None:
            bar.close()
        # Idle actors would hold every CPU (GPU) they reserved: a user's own Ray work would
        # wait for them. The next detect() call within the idle time still finds them.
        ScorerPool.release_when_idle(cfg.scorer.idle_release_s)


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


def planned_outputs(paths, output_dir, config=None) -> dict[str, list]:
    """What :func:`correct` would write for ``paths``, without reading an image or writing
    anything (the command line's ``--dry-run``).

    Returns
    -------
    plan : dict
        ``"images"``: one ``(input path, [output paths])`` per input kept (repeats and
        rayrot's own outputs dropped, as :func:`correct` does), in order (the corrected
        ordinary image is planned for every input; :func:`correct` skips it for images over
        ``output.image_max_pixels``); ``"batch"``: the tables written for the whole batch.
        Both lists of outputs are empty when ``output_dir`` is None (detect only).
    """
    from .output.files import is_url, output_child
    from .output.image import corrected_suffix
    from .output.naming import batch_inputs, output_names

    cfg = _as_config(config)
    files = expand_inputs(paths, tuple(cfg.source.folder_suffixes))
    if output_dir is None:
        return {"images": [(f, []) for f in files], "batch": []}
    files = batch_inputs(files, None if is_url(output_dir) else output_dir)
    formats = cfg.output.formats
    images = []
    for f, name in zip(files, output_names(files)):
        planned = []
        if "zarr" in formats:
            planned.append(f"{name}.zarr")
        if "ome-tiff" in formats:
            planned.append(f"{name}.ome.tiff")
        if "image" in formats:
            planned += [f"{name}.corrected.{corrected_suffix(f)}", f"{name}.angle.txt",
                        f"{name}.meta.json"]
        if "overlay" in formats:
            planned.append(f"{name}.overlay.png")
        images.append((f, [str(output_child(output_dir, leaf)) for leaf in planned]))
    batch = [str(output_child(output_dir, leaf)) for leaf in ("images.parquet", "tiles.parquet")
             ] if "parquet" in formats else []
    return {"images": images, "batch": batch}


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
