"""The Ray driver: actor pool, ``ray.wait``, retries and resources around the per-image engine.

* Ordinary images go whole to a scoring actor (``analyze``): the actor decodes the image
  once and runs the in-process driver (:mod:`rayrot.engine.local`).
* Gigapixel images are :class:`~rayrot.engine.job.ImageJob` s held here, in the driver; their
  tile *coordinates* go out in batches to every actor, and the job stops asking once the
  remaining tiles could not change the answer.
* Corrected OME-Zarr output is written chunk by chunk by Ray tasks (:func:`ray_map`).

With :mod:`rayrot.api` this is the only library code that imports ``ray``. Resources are
chosen in one place, :func:`_actor_options`, from ``cfg.scorer``.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import threading
from collections import deque
from contextlib import contextmanager

import numpy as np

from ..config import RunConfig
from ..errors import RayrotError, root_cause
from ..result import DetectionResult
from ..io import clear_slide_cache, open_slide
from .job import ImageJob, error_result
from .local import analyze_image

__all__ = ["schedule", "init_ray", "shutdown_ray", "ScorerPool", "ray_map", "dataset_scorer_options"]

LOGGER = logging.getLogger(__name__)

# Whether init_ray started the Ray this process uses (then shutdown_ray may stop it).
_STARTED_RAY = {"local": False}


def init_ray(cfg: RunConfig) -> None:
    """Join the cluster a ``ray job submit`` job was given, ``cfg.ray.address``, or start a local Ray."""
    import ray

    if ray.is_initialized():
        return
    # Workers' output and Ray's own warnings go to Ray's log files, never to the caller's
    # stdout (which carries only results).
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if cfg.ray.address:
        ray.init(address=cfg.ray.address, **quiet)
    elif os.environ.get("RAY_ADDRESS"):
        ray.init(**quiet)
    else:
        # address="local": always a new, embedded Ray, never a cluster left running on this
        # machine, listening on the loopback address only.
        with _single_machine():
            ray.init(address="local", num_cpus=cfg.ray.num_cpus, include_dashboard=False,
                     **quiet)
        _STARTED_RAY["local"] = True


@contextmanager
def _single_machine():
    """Tell Ray, for the length of one ``ray.init``, that this node is a single machine, so
    that it takes the loopback address instead of the node's routable one. Ray reads the
    setting in two places: a constant of this process's ``ray`` (read when choosing the node's
    address) and the environment of the processes ``ray.init`` starts (which keep it); both
    are restored afterwards."""
    from ray._private import ray_constants

    name = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR
    old_env, old_flag = os.environ.get(name), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[name], ray_constants.ENABLE_RAY_CLUSTER = "0", False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = old_flag
        if old_env is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old_env


def shutdown_ray() -> None:
    """Stop the scoring actors; stop Ray too when :func:`init_ray` started it here (a Ray the
    caller started or joined is left running)."""
    import ray

    ScorerPool.release_all()  # also a pending idle release, after the caller's ray.shutdown()
    if not ray.is_initialized():
        return
    if _STARTED_RAY["local"]:
        ray.shutdown()
        _STARTED_RAY["local"] = False


def _release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc keeps a batch's activations and
    tiles after it is scored, so a long-lived actor would hold its largest batch for good)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def configure_worker(cfg: RunConfig) -> None:
    """Settings of a worker process rayrot owns (a scoring actor, a write task): libvips gets
    the threads it was given, no more. Called in the worker, never in the caller's process."""
    os.environ["VIPS_CONCURRENCY"] = str(cfg.source.vips_concurrency)
    from ..io import set_worker_concurrency

    set_worker_concurrency(cfg.source.vips_concurrency)


def configure_torch_worker(cfg: RunConfig) -> None:
    """torch's threads in a worker whose scorer runs torch (onnxruntime's session sizes its
    own, and an onnxruntime worker never imports torch)."""
    import torch

    torch.set_num_threads(cfg.scorer.cpu_threads)


class _ScorerActor:
    """Actor body: one TileScorer, loaded once."""

    def __init__(self, cfg: RunConfig):
        configure_worker(cfg)
        from ..scorer import TileScorer

        self.cfg = cfg
        self.scorer = TileScorer(cfg)
        if self.scorer.backend == "torch":
            configure_torch_worker(cfg)

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
    """A set of scoring actors, kept alive between calls with the same model settings until
    :meth:`release_all` or :meth:`release_when_idle`."""

    _cache: dict = {}
    _lock = threading.RLock()
    _idle_timer: threading.Timer | None = None
    _exit_hook = False

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

        with cls._lock:
            cls._cancel_idle_timer()
            pools = list(cls._cache.values())
            cls._cache.clear()
            # After ray.shutdown() (the caller's, or Ray's own at exit) the actors are gone
            # with it, and a call into Ray would start or join another Ray instead.
            if ray.is_initialized():
                for pool in pools:
                    for actor in pool.actors:
                        ray.kill(actor)

    @classmethod
    def release_when_idle(cls, seconds: float) -> None:
        """:meth:`release_all` in ``seconds`` unless a pool is asked for before then."""
        with cls._lock:
            cls._cancel_idle_timer()
            if seconds <= 0:
                cls.release_all()
                return
            timer = cls._idle_timer = threading.Timer(seconds, cls._release_if_still_idle)
            timer.daemon = True
            timer.start()
            if not cls._exit_hook:
                # registered after `import ray`, so it runs before Ray's own shutdown at exit:
                # a timer left pending must not fire into a Ray that is going away
                atexit.register(cls._cancel_at_exit)
                cls._exit_hook = True

    @classmethod
    def _cancel_at_exit(cls) -> None:
        with cls._lock:
            cls._cancel_idle_timer()

    @classmethod
    def _release_if_still_idle(cls) -> None:
        with cls._lock:
            # a get() since this timer started cancelled it, but may have run first
            if cls._idle_timer is threading.current_thread():
                cls.release_all()

    @classmethod
    def _cancel_idle_timer(cls) -> None:
        if cls._idle_timer is not None:
            cls._idle_timer.cancel()
            cls._idle_timer = None

    @classmethod
    def get(cls, cfg: RunConfig, n_needed: int) -> "ScorerPool":
        key = (cfg.model, cfg.scorer, cfg.source, cfg.tiling, cfg.vote, cfg.skew)
        with cls._lock:
            cls._cancel_idle_timer()
            pool = cls._cache.get(key)
            if pool is None or len(pool.actors) < min(n_needed, _actor_options(cfg)[0]):
                # Pools of other settings hold CPUs (GPUs) the new actors need: actors that
                # cannot be placed would wait for them forever.
                cls.release_all()
                pool = cls._cache[key] = ScorerPool(cfg, n_needed)
            return pool


class _Results(dict):
    """Results by image index; remembers which arrived since they were last handed on."""

    def __init__(self):
        super().__init__()
        self.fresh: list[int] = []

    def __setitem__(self, i: int, res: DetectionResult) -> None:
        if i not in self:
            self.fresh.append(i)
        super().__setitem__(i, res)

    def hand_on(self, on_result) -> None:
        fresh, self.fresh = self.fresh, []
        if on_result is not None:
            for i in fresh:
                on_result(i, self[i])


def schedule(paths: list[str], cfg: RunConfig, progress=None,
             on_result=None) -> list[DetectionResult]:
    """Detect every image of ``paths`` over the actor pool, in the order given.

    Ordinary images go whole to an actor (it decodes the image once and runs the in-process
    driver). Gigapixel images are opened and planned here, as :class:`ImageJob` s whose
    batches of tile coordinates go to any idle actor; their skew is measured here while the
    actors score. Failures become results with ``error`` set.

    ``on_result(index, result)`` is called in this process as each image's result arrives,
    once the idle actors have been given their next work.
    """
    import ray

    results = _Results()
    queue: deque = deque()  # (image index, ScoreRequest) or (image index, None) for a whole image
    jobs: dict[int, ImageJob] = {}
    for i, path in enumerate(paths):
        try:
            if open_slide(path, cfg.source).is_gigapixel:
                jobs[i] = ImageJob(path, cfg)
                queue.extend((i, req) for req in jobs[i].next_batches())
            else:
                queue.append((i, None))
        except Exception as exc:
            results[i] = _failed(paths[i], exc)
    pool = None
    if queue:
        pool = ScorerPool.get(cfg, n_needed=len(queue))
        idle = list(pool.actors)
        in_flight: dict = {}
        while True:
            while idle and queue:
                i, req = queue.popleft()
                if req is None:
                    ref = idle[-1].analyze.remote(paths[i])
                elif i in jobs and jobs[i].wants(req):
                    ref = idle[-1].score.remote(req.batch)
                else:
                    continue  # decided, failed, or of a look given up
                in_flight[ref] = (idle.pop(), i, req)
            results.hand_on(on_result)
            # the driver's share of the work, while the actors score
            for i, job in list(jobs.items()):
                if job.skew_due:
                    _step(i, jobs, results, queue, job.measure_skew, pool)
            if not in_flight:
                if queue:
                    continue
                break
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            actor, i, req = in_flight.pop(ref)
            idle.append(actor)
            try:
                out = ray.get(ref)
            except Exception as exc:  # a task that failed after its retries
                if req is None or (i in jobs and jobs[i].wants(req)):
                    jobs.pop(i, None)
                    results[i] = _failed(paths[i], root_cause(exc))
                continue
            if req is None:
                results[i] = out
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix(tiles=out.tiles_scored, refresh=False)
            elif i in jobs:
                _step(i, jobs, results, queue, lambda: jobs[i].add(req, out), pool)
                if i in results and progress is not None:
                    progress.update(1)
    for i in list(jobs):  # images with nothing to score
        _step(i, jobs, results, queue, lambda: None, pool)
    for i, path in enumerate(paths):
        if i not in results:
            results[i] = error_result(path, RuntimeError("not processed"))
    results.hand_on(on_result)
    return [results[i] for i in range(len(paths))]


def _step(i: int, jobs: dict, results: dict, queue: deque, action, pool) -> None:
    """Run one step of image ``i``'s job; queue the batches it asks for next (first in line),
    and collect its result when it is done, or its error when the step failed."""
    job = jobs[i]
    try:
        action()
        while job.skew_due and job.phase == "done":
            job.measure_skew()
        queue.extendleft((i, req) for req in reversed(job.next_batches()))
        if job.done:
            name, version = (pool.model_name, pool.model_version) if pool else ("", "")
            results[i] = job.result(name, version)
            del jobs[i]
    except Exception as exc:
        results[i] = _failed(job.path, exc)
        del jobs[i]


def _failed(path: str, exc: BaseException) -> DetectionResult:
    if isinstance(exc, RayrotError):
        LOGGER.warning("%s", exc)
    return error_result(path, exc)


def _call_many(func, items: list, vips_threads: int) -> list:
    """Body of a Ray task: ``func`` on each item, with libvips on ``vips_threads`` threads in
    this worker. The worker then gives its freed heap back: it lives on for other tasks (a
    later, smaller write would otherwise be charged this one's largest blocks)."""
    from ..io import set_worker_concurrency

    set_worker_concurrency(vips_threads)
    try:
        return [func(item) for item in items]
    finally:
        _release_free_memory()


def ray_map(cfg: RunConfig):
    """A ``map`` whose calls run as Ray tasks (``output.write_task_cpus`` each), a few calls per
    task, in order.

    ``func`` goes to the object store once; each task gets a slice of the items.
    """
    import ray

    task = ray.remote(num_cpus=cfg.output.write_task_cpus,
                      max_retries=cfg.output.write_task_retries)(_call_many)

    def ray_map(func, iterable):
        items = list(iterable)
        if not items:
            return []
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Few calls a task (a write block is a fraction of a second): enough tasks that no
        # core idles while the last ones finish.
        per_task = max(1, min(4, len(items) // (8 * cpus)))
        func_ref = ray.put(func)
        refs = [task.remote(func_ref, items[i:i + per_task], cfg.source.vips_concurrency)
                for i in range(0, len(items), per_task)]
        return [out for part in ray.get(refs) for out in part]

    return ray_map


def dataset_scorer_options(cfg: RunConfig) -> dict:
    """``map_batches`` arguments for :class:`rayrot.OrientationScorer` in
    :func:`rayrot.detect_dataset`: its pool's size and resources, chosen here as for the
    scoring actors."""
    import ray

    n, opts = _actor_options(cfg)
    return {"batch_size": cfg.scorer.dataset_batch_size, "compute": ray.data.ActorPoolStrategy(size=n),
            "num_cpus": opts["num_cpus"], "num_gpus": opts["num_gpus"]}
