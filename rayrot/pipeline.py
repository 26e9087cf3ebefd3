"""Wire the stages together on Ray: the only library module that imports ``ray``.

* Ordinary images go whole to a scoring actor (``analyze``): the actor decodes the image
  once and scores its tiles with an early stop.
* Pyramids and other big images are planned here, in the driver, from a thumbnail; their
  tile *coordinates* go out in batches to every actor, and the vote stops asking once the
  remaining tiles could not change the answer.
* Corrected OME-Zarr output is written chunk by chunk by Ray tasks, each reading just the
  source region it needs.

Resources are chosen in one place, :func:`_actor_options`, from ``cfg.scorer``.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Iterable

import numpy as np

from .analysis import (ScoreAccumulator, analyze_image, error_result, finish_image, measure_skew,
                       prepare_image, tile_batches)
from .config import RunConfig, load_config
from .errors import RayrotError
from .result import DetectionResult
from .source import clear_slide_cache, open_slide

__all__ = ["detect", "correct", "detect_dataset", "expand_inputs", "init_ray", "ScorerPool"]

LOGGER = logging.getLogger(__name__)

# Suffixes picked up when a folder is given as input.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".svs", ".ndpi", ".mrxs",
                  ".scn", ".vms", ".bif", ".btf", ".jp2", ".heic", ".avif", ".gif")


def expand_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Files, folders (their images, recursively) and globs -> a list of paths, in order.

    A name that matches nothing is kept, so it is reported as a missing file.
    """
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
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(item)
    return out


def init_ray(cfg: RunConfig) -> None:
    """Join the cluster a ``ray job submit`` job was given, ``cfg.ray.address``, or start a local Ray."""
    import ray

    if ray.is_initialized():
        return
    if cfg.ray.address:
        ray.init(address=cfg.ray.address, logging_level=logging.WARNING)
    elif os.environ.get("RAY_ADDRESS"):
        ray.init(logging_level=logging.WARNING)
    else:
        # address="local": always a new, embedded Ray, never a cluster left running on this machine.
        ray.init(address="local", num_cpus=cfg.ray.num_cpus, include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=False)


def _release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc keeps a batch's activations and
    tiles after it is scored, so a long-lived actor would hold its largest batch for good)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class _ScorerActor:
    """Actor body: one TileScorer, loaded once."""

    def __init__(self, cfg: RunConfig):
        # libvips and torch each get the threads this actor was given, no more.
        os.environ["VIPS_CONCURRENCY"] = str(cfg.source.vips_concurrency)
        from .scorer import TileScorer

        self.cfg = cfg
        self.scorer = TileScorer(cfg)

    def score(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return self.scorer(batch)
        finally:
            # libvips keeps the decoded source tiles of an open slide; reopening one for the
            # next batch costs a few ms
            clear_slide_cache()
            _release_free_memory()

    def analyze(self, path: str) -> DetectionResult:
        try:
            return analyze_image(path, self.cfg, self.scorer)
        except Exception as exc:  # one bad file never stops the others
            return error_result(path, exc)
        finally:
            clear_slide_cache()  # an ordinary image is read once: keep no buffers of it
            _release_free_memory()

    def device(self) -> str:
        return self.scorer.device

    def model(self) -> tuple[str, str]:
        return self.scorer.model_name, self.scorer.model_version


def _actor_options(cfg: RunConfig) -> tuple[int, dict]:
    """How many scoring actors, and their Ray resources: the one place both are decided."""
    import ray

    res = ray.cluster_resources()
    gpus = float(res.get("GPU", 0))
    cpus = float(res.get("CPU", 1))
    sc = cfg.scorer
    if gpus > 0:
        n = sc.num_actors or max(1, int(gpus / sc.num_gpus_per_actor))
        opts = {"num_gpus": sc.num_gpus_per_actor, "num_cpus": sc.num_cpus_per_actor}
    else:
        n = sc.num_actors or max(1, int(cpus // max(sc.num_cpus_per_actor, 1e-3)))
        opts = {"num_gpus": 0, "num_cpus": sc.num_cpus_per_actor}
    opts.update(max_restarts=sc.max_restarts, max_task_retries=sc.max_task_retries)
    return n, opts


class ScorerPool:
    """A set of scoring actors, kept alive between calls with the same model settings."""

    _cache: dict = {}

    def __init__(self, cfg: RunConfig, n_needed: int | None = None):
        import ray

        n, opts = _actor_options(cfg)
        if n_needed is not None:
            n = max(1, min(n, n_needed))
        remote = ray.remote(**opts)(_ScorerActor)
        self.actors = [remote.remote(cfg) for _ in range(n)]
        self.model_name, self.model_version = ray.get(self.actors[0].model.remote())

    @classmethod
    def release_all(cls) -> None:
        """Stop every cached pool's actors, giving their CPUs and GPUs back to Ray."""
        import ray

        for pool in cls._cache.values():
            for actor in pool.actors:
                ray.kill(actor)
        cls._cache.clear()

    @classmethod
    def get(cls, cfg: RunConfig, n_needed: int) -> "ScorerPool":
        key = (cfg.model, cfg.scorer, cfg.source, cfg.tiling, cfg.vote, cfg.skew)
        pool = cls._cache.get(key)
        if pool is None or len(pool.actors) < min(n_needed, _actor_options(cfg)[0]):
            # Pools of other settings hold CPUs (GPUs) the new actors need: actors that cannot
            # be placed would wait for them forever.
            cls.release_all()
            pool = cls._cache[key] = ScorerPool(cfg, n_needed)
        return pool


def _detect_many(paths: list[str], cfg: RunConfig, progress=None) -> list[DetectionResult]:
    """Schedule whole ordinary images and batches of big ones over the actor pool."""
    import ray

    results: dict[int, DetectionResult] = {}
    jobs: deque = deque()
    big: dict[int, dict] = {}
    skew_pending: list[int] = []  # gigapixel images whose skew is still to be measured
    for i, path in enumerate(paths):
        try:
            if open_slide(path, cfg.source).is_gigapixel:
                prep = prepare_image(path, cfg)
                # Tiles go to the actors before the skew is known (it is measured below, while
                # they score); a skew large enough to de-skew tiles restarts the image.
                batches = tile_batches(path, prep.plan, cfg.scorer.batch_size,
                                       cfg.scorer.first_batch_size) if prep.plan else []
                big[i] = {"prep": prep, "acc": ScoreAccumulator(prep.plan, cfg) if prep.plan else None,
                          "left": len(batches), "t0": time.perf_counter(), "done": False,
                          "gen": 0}  # plans looked at so far - 1 (refine_next), + restarts
                jobs.extend(("batch", i, (0, b)) for b in batches)
                if not batches:
                    measure_skew(prep, cfg)
                    results[i] = _finish_big(big[i], cfg, None)
                else:
                    skew_pending.append(i)
            else:
                jobs.append(("analyze", i, path))
        except RayrotError as exc:
            LOGGER.warning("%s", exc)
            results[i] = error_result(path, exc)
        except Exception as exc:
            results[i] = error_result(path, exc)
    if jobs:
        pool = ScorerPool.get(cfg, n_needed=len(jobs))
        idle = list(pool.actors)
        in_flight: dict = {}
        while jobs or in_flight:
            while idle and jobs:
                kind, i, payload = jobs.popleft()
                gen = 0
                if kind == "batch":
                    gen, payload = payload
                    if big[i]["done"] or gen != big[i]["gen"]:
                        continue  # decided, or a coarser plan's batch after a finer look began
                actor = idle.pop()
                ref = actor.analyze.remote(payload) if kind == "analyze" else actor.score.remote(payload)
                in_flight[ref] = (actor, kind, i, gen)
            while skew_pending:  # the driver's share of the work, while the actors score
                _measure_big_skew(skew_pending.pop(0), big, jobs, results, paths, cfg)
            if not in_flight:
                if jobs:
                    continue  # a restart queued batches again
                break
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            actor, kind, i, gen = in_flight.pop(ref)
            idle.append(actor)
            try:
                out = ray.get(ref)
            except Exception as exc:  # a task that failed after its retries
                cause = getattr(exc, "cause", None) or exc
                out = error_result(paths[i], cause if isinstance(cause, RayrotError) else exc)
                if kind == "batch":
                    if gen == big[i]["gen"] and not big[i]["done"]:
                        big[i]["done"] = True
                        results[i] = out
                    continue
            if kind == "analyze":
                results[i] = out
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix(tiles=out.tiles_scored, refresh=False)
                continue
            state = big[i]
            if state["done"] or gen != state["gen"]:
                continue
            state["acc"].add(out)
            state["left"] -= 1
            if state["left"] == 0 or state["acc"].decided(state["prep"].can_refine(cfg)):
                finer = state["prep"].refine_next(cfg) if state["acc"].needs_finer_look() else None
                if finer is not None:  # look again, closer; the coarse batches left are dropped
                    _restart(state, i, finer, jobs, paths, cfg)
                    continue
                state["done"] = True
                results[i] = _finish_big(state, cfg, pool)
                if progress is not None:
                    progress.update(1)
    for i, path in enumerate(paths):
        if i not in results:
            results[i] = error_result(path, RuntimeError("not processed"))
    return [results[i] for i in range(len(paths))]


def _measure_big_skew(i: int, big: dict, jobs: deque, results: dict, paths: list[str],
                      cfg: RunConfig) -> None:
    """Measure gigapixel image ``i``'s skew (its first batches are with the actors). A skew
    the tiles must be turned by restarts the image's scoring with turned tiles."""
    state = big[i]
    prep = state["prep"]
    try:
        measure_skew(prep, cfg)
    except Exception as exc:
        state["done"] = True
        results[i] = error_result(paths[i], exc)
        if isinstance(exc, RayrotError):
            LOGGER.warning("%s", exc)
        return
    if prep.tile_rotate_deg:
        _restart(state, i, prep.plan, jobs, paths, cfg)


def _restart(state: dict, i: int, plan, jobs: deque, paths: list[str], cfg: RunConfig) -> None:
    """Score image ``i`` afresh on ``plan`` (a finer look, or its first plan with turned tiles):
    the vote starts over, its batches go to the front of the queue, and batches of the
    earlier generation still queued or in flight are dropped."""
    state["acc"].refine(plan)
    batches = tile_batches(paths[i], plan, cfg.scorer.batch_size, cfg.scorer.first_batch_size,
                           state["prep"].tile_rotate_deg)
    state["gen"] += 1
    state["left"] = len(batches)
    jobs.extendleft(("batch", i, (state["gen"], b)) for b in reversed(batches))


def _finish_big(state: dict, cfg: RunConfig, pool) -> DetectionResult:
    name, version = (pool.model_name, pool.model_version) if pool else ("", "")
    return finish_image(state["prep"], state["acc"], cfg, name, version,
                        {"score": time.perf_counter() - state["t0"]})


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
    DetectionResult, or a list of them when ``paths`` is a list, a folder or a glob.
    Failures do not raise: the result's ``error`` says what went wrong.
    """
    cfg = _as_config(config)
    single = isinstance(paths, (str, os.PathLike)) and Path(paths).is_file()
    files = expand_inputs(paths)
    init_ray(cfg)
    bar = _progress_bar(len(files), progress)
    try:
        results = _detect_many(files, cfg, bar)
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
    from . import writers

    cfg = _as_config(config)
    out = Path(output_dir)
    writers.check_output_dir(out)
    files = expand_inputs(paths)
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
        writers.write_tiles_parquet([r.tiles for r in results if r.tiles is not None],
                                    out / "tiles.parquet")
    return results


def _write_image_outputs(res: DetectionResult, name: str, out: Path, cfg: RunConfig) -> None:
    from . import writers

    formats = cfg.output.formats
    if "zarr" in formats:
        plan = writers.plan_zarr(res.width, res.height, res.angle or 0, res.skew_deg, cfg.output)
        path = out / f"{name}.zarr"
        writers.write_ome_zarr(plan, res.path, cfg.source, path, map_fn=_ray_map(cfg))
        res.outputs["zarr"] = str(path)
    if "image" in formats and res.width * res.height <= cfg.output.image_max_pixels:
        res.outputs.update(writers.write_corrected_image(res.path, res, out, cfg.output, name=name,
                                                          source_cfg=cfg.source))
    if "overlay" in formats:
        from .plot import save_overlay

        path = out / f"{name}.overlay.png"
        save_overlay(res, path)
        res.outputs["overlay"] = str(path)


def _call_many(func, items: list) -> list:
    """Body of a Ray task: ``func`` on each item. The worker then gives its freed heap back:
    it lives on for other tasks (a later, smaller write would otherwise be charged this
    one's largest blocks)."""
    try:
        return [func(item) for item in items]
    finally:
        _release_free_memory()


def _ray_map(cfg: RunConfig):
    """A ``map`` whose calls run as Ray tasks (one CPU each), a few calls per task, in order.

    ``func`` goes to the object store once; each task gets a slice of the items.
    """
    import ray

    task = ray.remote(num_cpus=1, max_retries=2)(_call_many)

    def ray_map(func, iterable):
        items = list(iterable)
        if not items:
            return []
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Few calls a task (a write block is a fraction of a second): enough tasks that no
        # core idles while the last ones finish.
        per_task = max(1, min(4, len(items) // (8 * cpus)))
        func_ref = ray.put(func)
        refs = [task.remote(func_ref, items[i:i + per_task]) for i in range(0, len(items), per_task)]
        return [out for part in ray.get(refs) for out in part]

    return ray_map


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


class _DatasetScorer:
    """Ray Data callable class: a batch of paths in, one row of results per path out."""

    def __init__(self, cfg: RunConfig, path_column: str):
        from .scorer import TileScorer

        self.cfg = cfg
        self.path_column = path_column
        self.scorer = TileScorer(cfg)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = []
        for path in batch[self.path_column]:
            try:
                rows.append(analyze_image(str(path), self.cfg, self.scorer))
            except Exception as exc:
                rows.append(error_result(str(path), exc))
            finally:
                clear_slide_cache()
        _release_free_memory()
        return {
            "path": np.array([r.path for r in rows], dtype=object),
            "angle": np.array([-1 if r.angle is None else r.angle for r in rows], np.int64),
            "confidence": np.array([r.confidence for r in rows], np.float64),
            "skew_deg": np.array([r.skew_deg for r in rows], np.float64),
            "tiles_scored": np.array([r.tiles_scored for r in rows], np.int64),
            "error": np.array([r.error or "" for r in rows], dtype=object),
        }


def detect_dataset(dataset, config=None, *, path_column: str = "path"):
    """Orientation of every image path in a Ray Dataset (one row per path).

    Returns a new Dataset with columns path, angle (-1 = undetermined), confidence,
    skew_deg, tiles_scored and error ("" when fine), computed by a pool of scoring actors.
    """
    import ray

    cfg = _as_config(config)
    init_ray(cfg)
    # Ray Data starts its own pool of scorers; ours would hold the CPUs it needs.
    ScorerPool.release_all()
    n, opts = _actor_options(cfg)
    return dataset.map_batches(_DatasetScorer, fn_constructor_args=(cfg, path_column), batch_size=8,
                               compute=ray.data.ActorPoolStrategy(size=n),
                               num_cpus=opts["num_cpus"], num_gpus=opts["num_gpus"])
