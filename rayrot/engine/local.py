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


def analyze_image(image, cfg: RunConfig, scorer, progress=None) -> DetectionResult:
    """Detect the orientation of one image in this process.

    Parameters
    ----------
    image : str, or pixels ((H, W[, C]) ndarray, PIL image)
        A path, or an image in memory: held as a Slide (:func:`rayrot.io.memory.hold`) while
        it is detected, and read through it exactly as a file would be.
    cfg : RunConfig
    scorer : callable
        A :class:`~rayrot.scorer.TileScorer` (or anything with its call signature and
        ``model_name`` / ``model_version``).
    progress : tqdm-like, optional
        Advanced by the number of tiles scored.

    Returns
    -------
    result : DetectionResult
        With ``error`` set (and nothing raised) when the image cannot be read. An image in
        memory is called ``<array N WxH>`` in its ``path``.
    """
    from ..io.memory import hold, is_image_object

    if is_image_object(image):
        try:
            with hold(image, cfg.source) as slide:
                return analyze_image(slide.path, cfg, scorer, progress)
        except RayrotError as exc:  # not an image's shape or dtype
            return error_result("<array>", exc)
    try:
        return run_job(ImageJob(image, cfg), scorer, progress)
    except RayrotError as exc:
        LOGGER.warning("%s", exc)
        return error_result(image, exc)
