"""The in-process driver: one :class:`~rayrot.engine.job.ImageJob` scored by one scorer.

Used by the scoring actors for ordinary images, by Ray Data's callable class, and by tests
and notebooks that want an answer without Ray.
"""

from __future__ import annotations

import logging

from ..config import RunConfig
from ..errors import RayrotError
from ..result import DetectionResult
from .job import ImageJob, error_result

__all__ = ["run_job", "analyze_image"]

LOGGER = logging.getLogger(__name__)


def run_job(job: ImageJob, scorer, progress=None) -> DetectionResult:
    """Drive ``job`` to its result with ``scorer`` (a :class:`~rayrot.scorer.TileScorer` or
    anything with its call signature and ``model_name`` / ``model_version``)."""
    while not job.done:
        if job.skew_due:
            job.measure_skew()
        requests = job.next_batches()
        if not requests and not job.done and not job.skew_due:
            raise RuntimeError(f"{job.path}: the engine is waiting for scores it never asked for")
        for req in requests:
            if job.wants(req):
                job.add(req, scorer(req.batch))
                if progress is not None:
                    progress.update(len(req.batch["x"]))
    return job.result(scorer.model_name, scorer.model_version)


def analyze_image(path: str, cfg: RunConfig, scorer, progress=None) -> DetectionResult:
    """Detect the orientation of one image in this process.

    Parameters
    ----------
    path : str
    cfg : RunConfig
    scorer : callable
        A :class:`~rayrot.scorer.TileScorer` (or anything with its call signature and
        ``model_name`` / ``model_version``).
    progress : tqdm-like, optional
        Advanced by the number of tiles scored.

    Returns
    -------
    result : DetectionResult
        With ``error`` set (and nothing raised) when the image cannot be read.
    """
    try:
        return run_job(ImageJob(path, cfg), scorer, progress)
    except RayrotError as exc:
        LOGGER.warning("%s", exc)
        return error_result(path, exc)
