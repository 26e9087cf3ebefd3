"""The per-image engine: one image from path to answer as a typed state machine.

:class:`ImageJob` opens and plans one image, hands out batches of tile coordinates to score
(:meth:`ImageJob.next_batches`), takes their scores back in any order (:meth:`ImageJob.add`),
decides when the vote is settled, when a finer look or a restart with turned tiles is due,
and builds the :class:`~rayrot.result.DetectionResult`. It never scores anything itself: a
driver does, either the in-process loop of :mod:`rayrot.engine.local` or the Ray scheduler of
:mod:`rayrot.engine.scheduler`, and both get the same answer for the same image.

Scores are counted in the order the batches were handed out, whatever order they come back
in, so which tiles vote never depends on how many scorers ran.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..config import RunConfig
from ..errors import RayrotError, TimeLimitError
from ..result import DetectionResult, TileRecord
from ..io import Slide, decode_deadline, open_slide
from ..plan import TilePlan, plan_tiles, refine_plan
from ..skew import SkewEstimate
from ..skew import measure_skew as measure_image_skew
from ..vote import OrientationVote, base_weights, is_decided, tile_vote_weights, vote

__all__ = ["ImageJob", "ScoreRequest", "PreparedImage", "prepare_image", "measure_skew",
           "tile_batches", "ScoreAccumulator", "finish_image", "error_result"]

LOGGER = logging.getLogger(__name__)


@dataclass
class PreparedImage:
    """An opened image and its tile plan (``plan`` is None for an image too small to judge)."""

    path: str
    slide: Slide
    plan: TilePlan | None
    thumbnail: np.ndarray | None = None  # (h, w, 3) uint8, long side tiling.thumbnail_px
    skew: SkewEstimate | None = None  # set by measure_skew
    skew_tiles: dict[str, np.ndarray] | None = None  # boxes of the tiles it measured (tiles table)
    finer: list[TilePlan] = field(default_factory=list)  # refine_next's plans, coarse to fine
    seconds: dict[str, float] = field(default_factory=dict)
    deskew_above_deg: float = 90.0  # skew.deskew_tiles_above_deg

    def can_refine(self, cfg: RunConfig) -> bool:
        """Whether a finer look may still follow (gigapixel, ``tiling.refine_steps`` left)."""
        return (self.plan is not None and self.slide.is_gigapixel
                and len(self.finer) < cfg.tiling.refine_steps)

    def refine_next(self, cfg: RunConfig) -> TilePlan | None:
        """The next finer plan of a gigapixel image (``tiling.refine_steps`` at most), or None."""
        if not self.can_refine(cfg):
            return None
        last = self.finer[-1] if self.finer else self.plan
        plan = refine_plan([(lv.width, lv.height) for lv in self.slide.levels], self.thumbnail,
                           cfg.tiling, cfg.vote.center_sigma, last)
        if plan is None or not plan.tiles:
            return None
        self.finer.append(plan)
        return plan

    @property
    def tile_rotate_deg(self) -> float:
        """Clockwise turn applied to each tile before scoring: the skew, when it is large enough
        to take tiles outside what the model was trained on."""
        s = self.skew
        return s.angle_deg if s is not None and abs(s.angle_deg) >= self.deskew_above_deg else 0.0


def prepare_image(path: str, cfg: RunConfig) -> PreparedImage:
    """Open ``path`` (header only) and plan its tiles from a thumbnail."""
    t0 = time.perf_counter()
    slide = open_slide(path, cfg.source)
    t1 = time.perf_counter()
    plan, thumb = None, None
    if not slide.too_small:
        thumb = slide.thumbnail(cfg.tiling.thumbnail_px)
        plan = plan_tiles([(lv.width, lv.height) for lv in slide.levels], not slide.is_gigapixel,
                          thumb, cfg.tiling, cfg.vote.center_sigma)
    t2 = time.perf_counter()
    return PreparedImage(path, slide, plan, thumb, seconds={"open": t1 - t0, "plan": t2 - t1},
                         deskew_above_deg=cfg.skew.deskew_tiles_above_deg)


def measure_skew(prep: PreparedImage, cfg: RunConfig) -> SkewEstimate:
    """Measure the image's fine skew (:func:`rayrot.skew.measure_skew`); sets and returns
    ``prep.skew`` and sets ``prep.skew_tiles`` to the tiles that estimate used."""
    t0 = time.perf_counter()
    if prep.plan is None or not cfg.skew.enabled:
        prep.skew = SkewEstimate(0.0, 0.0, 0)
        return prep.skew
    found = measure_image_skew(prep.slide, prep.thumbnail, cfg.skew, cfg.tiling)
    prep.skew, prep.skew_tiles = found.estimate, found.tiles
    prep.seconds["skew"] = time.perf_counter() - t0
    return prep.skew


def tile_batches(path: str, plan: TilePlan, batch_size: int, first_batch_size: int,
                 rotate_deg: float = 0.0, *, tiles: tuple | None = None,
                 rotation_tta: bool = True) -> list[dict[str, np.ndarray]]:
    """The plan's tiles (or ``tiles``, a part of them) as TileScorer batches, in scoring
    order; the first one smaller.

    ``rotate_deg`` (clockwise) de-skews every tile before it is scored; ``rotation_tta``
    False scores them without the four-turn average, whatever the model config says.
    """
    tiles = plan.tiles if tiles is None else tiles
    starts = [0] + list(range(min(first_batch_size, len(tiles)), len(tiles), batch_size))
    out = []
    for start, stop in zip(starts, starts[1:] + [len(tiles)]):
        chunk = tiles[start:stop]
        if not chunk:
            continue
        n = len(chunk)
        out.append({
            "path": np.array([path] * n, dtype=object),
            "level": np.full(n, plan.level, np.int32),
            "scale": np.full(n, plan.scale, np.float64),
            "x": np.array([t.x for t in chunk], np.int64),
            "y": np.array([t.y for t in chunk], np.int64),
            "w": np.array([t.w for t in chunk], np.int64),
            "h": np.array([t.h for t in chunk], np.int64),
            "is_global": np.array([t.is_global for t in chunk], bool),
            "is_context": np.array([t.is_context for t in chunk], bool),
            "center_weight": np.array([t.center_weight for t in chunk], np.float64),
            "rotate_deg": np.full(n, rotate_deg, np.float64),
            "rotation_tta": np.full(n, rotation_tta, bool),
        })
    return out


class ScoreAccumulator:
    """Collects scored batches of one image and says when the rest cannot matter."""

    def __init__(self, plan: TilePlan, cfg: RunConfig):
        self.cfg = cfg
        self.refine(plan)

    def refine(self, plan: TilePlan) -> None:
        """(Re)start the vote on ``plan``'s tiles. For a finer plan: the coarser plan's tiles,
        scored or not, and its whole-image view are dropped (what they saw was too small to
        judge: on a mosaic of small items the whole-image view is as unreliable as the coarse
        tiles)."""
        self.batches: list[dict[str, np.ndarray]] = []
        self.mass = np.zeros(4)
        self.remaining = self._weight(plan)

    def below(self, line: float) -> bool:
        """Whether the vote so far is undetermined or its winner's share is below ``line``."""
        v = self.vote()
        return v is not None and (v.undetermined or v.confidence < line)

    def _weight(self, plan: TilePlan) -> float:
        tiles = plan.tiles
        return float(base_weights(np.array([t.center_weight for t in tiles]),
                                  np.array([t.is_global for t in tiles], bool), self.cfg.vote,
                                  np.array([t.is_context for t in tiles], bool)).sum())

    def add(self, scored: dict[str, np.ndarray]) -> None:
        self.batches.append(scored)
        base = base_weights(scored["center_weight"], scored["is_global"], self.cfg.vote,
                            scored.get("is_context"))
        weight, _ = tile_vote_weights(scored["probs"], scored["center_weight"], scored["is_global"],
                                      self.cfg.vote, scored.get("is_context"))
        self.mass += (weight[:, None] * scored["probs"]).sum(axis=0)
        self.remaining -= float(base.sum())

    def decided(self, share_line: float | None = None) -> bool:
        """Whether the tiles left cannot change the answer; with ``share_line``, nor whether
        the winner's share ends at or above it (a finer look, or an ordinary image's grid,
        follows below it), so that the choice does not hang on the order in which batches
        come back."""
        return self.cfg.vote.early_stop and is_decided(self.mass, max(self.remaining, 0.0),
                                                       self.cfg.vote, share_line)

    def vote(self) -> OrientationVote | None:
        """The vote over every tile scored so far (None before any)."""
        cols = self.columns()
        if not cols:
            return None
        return vote(cols["probs"], cols["center_weight"], cols["is_global"], self.cfg.vote,
                    cols.get("is_context"))

    def columns(self) -> dict[str, np.ndarray]:
        if not self.batches:
            return {}
        keys = self.batches[0].keys()
        return {k: np.concatenate([b[k] for b in self.batches]) for k in keys}


def finish_image(prep: PreparedImage, acc: ScoreAccumulator | None, cfg: RunConfig,
                 model_name: str, model_version: str, seconds: dict[str, float]) -> DetectionResult:
    """Vote over what was scored and build the result (its tiles: the scored tiles, then the
    tiles the skew estimator measured)."""
    slide, plan = prep.slide, prep.plan
    res = DetectionResult(path=prep.path, width=slide.width, height=slide.height,
                          model_name=model_name, model_version=model_version,
                          mpp_x=slide.pixel_size.mpp_x, mpp_y=slide.pixel_size.mpp_y)
    t0 = time.perf_counter()
    cols = acc.columns() if acc is not None else {}
    if plan is None or not cols:
        res.tiles_skipped = plan.n_skipped + len(plan.tiles) if plan is not None else 0
    else:
        v = acc.vote()
        finest = prep.finer[-1] if prep.finer else plan
        res.level, res.scale = finest.level, finest.scale
        res.angle, res.confidence = v.angle, v.confidence
        res.probabilities = v.probabilities
        res.tiles_scored = len(cols["x"])
        res.tiles_abstained = v.n_abstained
        # of the plan that voted: a finer look's plan, when one was taken
        res.tiles_skipped = finest.n_skipped + len(finest.tiles) - res.tiles_scored
        res.tiles = _scored_records(prep, cols, cfg)
    if prep.skew_tiles is not None and len(prep.skew_tiles["x"]):
        res.tiles += _skew_records(prep.skew_tiles)
    if prep.skew is not None:
        skew = float(prep.skew.angle_deg)
        res.skew_deg = skew if abs(skew) >= cfg.skew.min_correction_deg else 0.0
        res.skew_confidence = float(prep.skew.confidence)
    res.seconds = {**prep.seconds, **seconds, "vote": time.perf_counter() - t0}
    return res


def _scored_records(prep: PreparedImage, cols: dict[str, np.ndarray],
                    cfg: RunConfig) -> tuple[TileRecord, ...]:
    """The scored tiles as records (level-0 boxes, prediction, abstention)."""
    probs = cols["probs"].astype(np.float64)
    context = cols.get("is_context", np.zeros(len(probs), bool))
    _, abstained = tile_vote_weights(probs, cols["center_weight"], cols["is_global"], cfg.vote,
                                     context)
    # level-0 pixels per plan pixel, row by row (a finer look reads another level)
    downsample = np.array([lv.downsample for lv in prep.slide.levels])
    f = cols["scale"] * downsample[cols["level"]]
    glob = cols["is_global"]
    x0 = np.where(glob, 0, np.round(cols["x"] * f)).astype(np.int64)
    y0 = np.where(glob, 0, np.round(cols["y"] * f)).astype(np.int64)
    w0 = np.where(glob, prep.slide.width, np.round(cols["w"] * f)).astype(np.int64)
    h0 = np.where(glob, prep.slide.height, np.round(cols["h"] * f)).astype(np.int64)
    predicted = np.argmax(probs, axis=1) * 90
    return tuple(
        TileRecord(str(cols["path"][i]), "orientation", int(cols["level"][i]), int(cols["x"][i]),
                   int(cols["y"][i]), int(cols["w"][i]), int(cols["h"][i]), int(x0[i]),
                   int(y0[i]), int(w0[i]), int(h0[i]), bool(glob[i]),
                   is_context=bool(context[i]), center_weight=float(cols["center_weight"][i]), p_0=float(probs[i, 0]),
                   p_90=float(probs[i, 1]), p_180=float(probs[i, 2]), p_270=float(probs[i, 3]),
                   predicted=int(predicted[i]), confidence=float(probs[i].max()),
                   abstained=bool(abstained[i]))
        for i in range(len(probs)))


def _skew_records(cols: dict[str, np.ndarray]) -> tuple[TileRecord, ...]:
    """The tiles the skew estimator measured (columns of equal length) as records; NaN
    (not measured) becomes None."""
    def opt(value: float) -> float | None:
        return None if np.isnan(value) else float(value)

    ints = ("level", "x", "y", "w", "h", "x0", "y0", "w0", "h0")
    return tuple(
        TileRecord(str(cols["path"][i]), "skew", *(int(cols[k][i]) for k in ints),
                   bool(cols["is_global"][i]), skew_deg=opt(cols["skew_deg"][i]),
                   skew_confidence=opt(cols["skew_confidence"][i]))
        for i in range(len(cols["x"])))


def error_result(path: str, exc: BaseException) -> DetectionResult:
    """A result that carries one line saying why ``path`` failed."""
    msg = str(exc) if isinstance(exc, RayrotError) else f"{path}: {type(exc).__name__}: {exc}"
    return DetectionResult(path=path, error=" ".join(msg.split()))


@dataclass(frozen=True)
class ScoreRequest:
    """One batch of tile coordinates an :class:`ImageJob` wants scored."""

    generation: int  # the job's look it belongs to (a finer look or a restart starts a new one)
    index: int  # its place in that look's scoring order, from 0
    batch: dict[str, np.ndarray]  # TileScorer columns (see tile_batches)


# The phases of an ImageJob, in order. A job may skip the first look, and may go back to
# "tiles" from itself (a finer look, a restart with turned tiles).
FIRST_LOOK, TILES, DONE = "first_look", "tiles", "done"


class ImageJob:
    """One image's way through plan -> score -> vote (-> finer look) -> result.

    Drive it like this (this is :func:`rayrot.engine.local.run_job`)::

        job = ImageJob(path, cfg)
        while not job.done:
            if job.skew_due:
                job.measure_skew()
            for req in job.next_batches():
                if job.wants(req):
                    job.add(req, scorer(req.batch))
        result = job.result(scorer.model_name, scorer.model_version)

    A driver with many scorers hands out every request :meth:`next_batches` returns (those
    :meth:`wants` still wants), adds the scores as they come back, and asks
    :meth:`next_batches` again after each :meth:`add` and :meth:`measure_skew` (a finer look or
    a restart queues new requests, to be scored first).

    Ordinary images with ``scorer.cascade_stop_confidence`` set start with a first look: the
    whole-image view alone, without rotation TTA. When its top (calibrated) probability
    reaches that line the image is decided from it, with that probability as confidence.
    Otherwise the tiles are scored as usual, and the first look's scores stand as the
    vote's whole-image view (unless the skew asks for turned tiles: then the view is scored
    again, turned). Gigapixel images never take a first look.

    Raises :class:`~rayrot.errors.RayrotError` from the constructor and from
    :meth:`measure_skew` when the image cannot be read.
    """

    def __init__(self, path: str, cfg: RunConfig):
        self.path, self.cfg = path, cfg
        limit = cfg.scorer.image_time_limit_s
        # every step of this image checks it, in whichever process runs the step; a decode
        # that would run past it is stopped by libvips itself
        self._deadline = None if limit is None else time.monotonic() + limit
        self.prep = self._within_limit("opening and planning", prepare_image, path, cfg)
        self.generation = -1
        self.phase = TILES
        self.skew_measured = False
        self.acc: ScoreAccumulator | None = None
        self._first_view: dict[str, np.ndarray] | None = None  # the first look's scores
        self._pending: list[ScoreRequest] = []
        self._arrived: dict[int, dict[str, np.ndarray]] = {}
        self._n_requests = 0
        self._n_added = 0  # requests of this generation counted in the vote, in order
        self._grid_left: tuple = ()  # an ordinary image's grid tiles, queued only if needed
        self._awaiting_skew = False  # a first look fell short; the tiles wait for the skew
        self._skew_wanted = True  # False: a first look decided, skew.after_first_look is off
        self._t0: float | None = None
        plan = self.prep.plan
        if plan is None or not plan.tiles:
            self.phase = DONE
        elif self._takes_first_look():
            self.phase = FIRST_LOOK
            self._start(plan, tiles=(plan.tiles[0],), rotation_tta=False)
        else:
            self._start(plan)

    # ------------------------------------------------------------------ what a driver asks

    @property
    def done(self) -> bool:
        """Whether :meth:`result` is ready (nothing left to score or measure)."""
        return self.phase == DONE and not self.skew_due

    @property
    def skew_due(self) -> bool:
        """Whether :meth:`measure_skew` should run now: before the tiles are scored (they may
        have to be turned), or, when a first look decided the image, before the result."""
        return (not self.skew_measured and self.prep.plan is not None and self.cfg.skew.enabled
                and self.phase != FIRST_LOOK and self._skew_wanted)

    def next_batches(self) -> list[ScoreRequest]:
        """The requests queued since the last call, in scoring order."""
        self._check_time("scoring")
        out, self._pending = self._pending, []
        if out and self._t0 is None:
            self._t0 = time.perf_counter()
        return out

    def wants(self, req: ScoreRequest) -> bool:
        """False for a request of an earlier look, or once the job is decided."""
        return self.phase != DONE and req.generation == self.generation

    def add(self, req: ScoreRequest, scored: dict[str, np.ndarray]) -> None:
        """Count a scored batch (``req.batch``'s columns plus ``probs``). Batches are counted
        in request order: one that comes early waits for those before it."""
        if not self.wants(req):
            return
        self._check_time("scoring")
        self._arrived[req.index] = scored
        while self.phase != DONE and self._n_added in self._arrived:
            batch = self._arrived.pop(self._n_added)
            self._n_added += 1
            if self.phase == FIRST_LOOK:
                self._after_first_look(batch)
                return
            self.acc.add(batch)
            if self._n_added == self._n_requests or self.acc.decided(self._share_line()):
                self._after_vote()
                return

    def measure_skew(self) -> None:
        """Measure the fine skew (in this process). A skew the tiles must be turned by restarts
        the scoring of the current look with turned tiles."""
        self._within_limit("measuring the skew", measure_skew, self.prep, self.cfg)
        self.skew_measured = True
        if self.phase == TILES and (self._awaiting_skew or self.prep.tile_rotate_deg):
            self._awaiting_skew = False
            if self.prep.tile_rotate_deg:
                self._first_view = None  # the whole-image view is scored again, turned
            self._start(self.finest_plan)

    def result(self, model_name: str = "", model_version: str = "") -> DetectionResult:
        """The answer (call once :attr:`done`)."""
        if not self.skew_measured:
            self.prep.skew = None
        seconds = {"score": time.perf_counter() - self._t0} if self._t0 is not None else {}
        return finish_image(self.prep, self.acc, self.cfg, model_name, model_version, seconds)

    @property
    def finest_plan(self) -> TilePlan | None:
        """The plan of the current look."""
        return self.prep.finer[-1] if self.prep.finer else self.prep.plan

    # ------------------------------------------------------------------ the steps

    def _check_time(self, stage: str) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise TimeLimitError(f"{self.path}: took more than scorer.image_time_limit_s="
                                 f"{self.cfg.scorer.image_time_limit_s:g} s (stopped while "
                                 f"{stage})")

    def _within_limit(self, stage: str, func, *args):
        """``func(*args)`` with its decodes stopped at the deadline."""
        try:
            with decode_deadline(self._deadline):
                out = func(*args)
        except RayrotError:
            self._check_time(stage)  # a decode stopped at the deadline reads as a time limit
            raise
        self._check_time(stage)
        return out

    def _takes_first_look(self) -> bool:
        stop = self.cfg.scorer.cascade_stop_confidence
        plan = self.prep.plan
        return bool(stop) and not self.prep.slide.is_gigapixel and plan.tiles[0].is_global

    def _start(self, plan: TilePlan, tiles: tuple | None = None, rotation_tta: bool = True) -> None:
        """Begin a new look: the vote starts over on ``plan`` and its batches are queued."""
        self.generation += 1
        self._arrived.clear()
        self._n_added = 0
        if self.acc is None:
            self.acc = ScoreAccumulator(plan, self.cfg)
        else:
            self.acc.refine(plan)
        first = self.cfg.scorer.first_batch_size
        whole_plan = tiles is None
        if self._first_view is not None and whole_plan:
            # the first look's whole-image view stands in the vote; the tiles follow it
            self.acc.add(self._first_view)
            tiles, first = plan.tiles[1:], max(first - 1, 1)
        tiles = plan.tiles if tiles is None else tiles
        self._grid_left = ()
        if whole_plan and self._grid_only_if_needed():
            self._grid_left = tuple(t for t in tiles if not (t.is_global or t.is_context))
            tiles = tuple(t for t in tiles if t.is_global or t.is_context)
        self._n_requests = 0
        self._pending = []
        self._queue(plan, tiles, first, rotation_tta)

    def _queue(self, plan: TilePlan, tiles: tuple, first: int, rotation_tta: bool = True) -> None:
        """Queue ``tiles`` of the current look after the requests already made."""
        batches = tile_batches(self.path, plan, self.cfg.scorer.batch_size, first,
                               self.prep.tile_rotate_deg, tiles=tiles,
                               rotation_tta=rotation_tta and self.cfg.model.rotation_tta)
        self._pending += [ScoreRequest(self.generation, self._n_requests + i, b)
                          for i, b in enumerate(batches)]
        self._n_requests += len(batches)
        if not batches and self._n_added == self._n_requests:
            self._after_vote()

    def _grid_only_if_needed(self) -> bool:
        """An ordinary image whose grid tiles wait for the whole view and context crops
        (``tiling.ordinary_grid_below_confidence``)."""
        t = self.cfg.tiling
        return (not self.prep.slide.is_gigapixel and t.context_crops and t.ordinary_grid
                and t.ordinary_grid_below_confidence is not None)

    def _share_line(self) -> float | None:
        """The confidence on which the next step hangs: an ordinary image's grid, or a
        gigapixel image's finer look."""
        if self._grid_left:
            return self.cfg.tiling.ordinary_grid_below_confidence
        return self.cfg.tiling.refine_below_confidence if self.prep.can_refine(self.cfg) else None

    def _after_first_look(self, scored: dict[str, np.ndarray]) -> None:
        top = float(np.max(scored["probs"]))
        if top >= self.cfg.scorer.cascade_stop_confidence:
            self.acc.add(scored)
            self.phase = DONE
            # the skew is then wanted only to report it or to correct the image (it costs
            # more than the decision did)
            self._skew_wanted = self.cfg.skew.after_first_look
            return
        self._first_view = scored
        self.phase = TILES
        if self.skew_due:
            # the tiles' turn is not known yet: measure_skew queues their batches
            self._awaiting_skew = True
            return
        self._start(self.prep.plan)

    def _after_vote(self) -> None:
        """The look's vote is settled: score an ordinary image's grid, look again closer, or
        finish."""
        grid, self._grid_left = self._grid_left, ()
        if grid and self.acc.below(self.cfg.tiling.ordinary_grid_below_confidence):
            self._queue(self.finest_plan, grid, self.cfg.scorer.batch_size)
            return
        below = self.acc.below(self.cfg.tiling.refine_below_confidence)
        finer = self.prep.refine_next(self.cfg) if below else None
        if finer is not None:  # the coarse batches left are dropped
            self._first_view = None
            self._start(finer)
        else:
            self.phase = DONE
