"""The orientation vote: a pure function from per-tile probabilities to one answer.

Each tile's weight is its base weight (its center weight; ``vote.global_weight`` for the
whole-image view, ``vote.context_weight`` for a context crop) times its confidence, where confidence is how
far its top probability stands above chance (``(p_max - 1/4) / (3/4)``); tiles whose top
probability is below ``vote.confidence_floor`` abstain. Class mass is the weighted sum of
the tiles' probability vectors; the answer is the class of largest mass, and its
confidence is that class's share of all mass. A share below
``vote.undetermined_threshold`` (split or weak evidence), fewer than ``vote.min_tiles``
voters, or a margin over the runner-up below ``vote.min_margin`` gives ``angle=None``:
undetermined, never a confident guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import VoteConfig
from .model.preprocess import ANGLES

__all__ = ["OrientationVote", "base_weights", "tile_vote_weights", "vote", "is_decided"]


@dataclass(frozen=True)
class OrientationVote:
    """The outcome of :func:`vote`."""

    angle: int | None  # clockwise degrees that make the image upright; None = undetermined
    confidence: float  # 0..1, the winner's share of the vote mass
    mass: tuple[float, float, float, float]  # vote mass per class (0, 90, 180, 270)
    n_used: int  # tiles that voted
    n_abstained: int  # tiles below the confidence floor

    @property
    def undetermined(self) -> bool:
        return self.angle is None

    @property
    def probabilities(self) -> tuple[float, float, float, float]:
        total = sum(self.mass)
        if total <= 0:
            return (0.25, 0.25, 0.25, 0.25)
        return tuple(float(m / total) for m in self.mass)


def base_weights(center_weight: np.ndarray, is_global: np.ndarray, cfg: VoteConfig,
                 is_context: np.ndarray | None = None) -> np.ndarray:
    """Each tile's weight before its confidence: its center weight, ``cfg.global_weight`` for
    the whole-image view, ``cfg.context_weight`` for a context crop (None: no context crops)."""
    base = np.where(np.asarray(is_global, bool), cfg.global_weight,
                    np.asarray(center_weight, np.float64))
    if is_context is not None:
        base = np.where(np.asarray(is_context, bool), cfg.context_weight, base)
    return base


def tile_vote_weights(probs: np.ndarray, center_weight: np.ndarray, is_global: np.ndarray,
                      cfg: VoteConfig, is_context: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Each tile's vote weight, and which tiles abstain.

    Parameters
    ----------
    probs : (N, 4) float ndarray
        Per-tile class probabilities, classes in the order (0, 90, 180, 270).
    center_weight : (N,) float ndarray
        0..1.
    is_global : (N,) bool ndarray
        The whole-image view, weighted ``cfg.global_weight`` instead of its center weight.
    is_context : (N,) bool ndarray, optional
        Context crops, weighted ``cfg.context_weight`` instead of their center weight.

    Returns
    -------
    weight : (N,) float64 ndarray
        Zero for abstaining tiles.
    abstained : (N,) bool ndarray
    """
    probs = np.asarray(probs, np.float64).reshape(-1, 4)
    top = probs.max(axis=1) if len(probs) else np.zeros(0)
    confidence = np.clip((top - 0.25) / 0.75, 0.0, 1.0)
    base = base_weights(center_weight, is_global, cfg, is_context)
    abstained = top < cfg.confidence_floor
    return np.where(abstained, 0.0, base * confidence), abstained


def vote(probs: np.ndarray, center_weight: np.ndarray, is_global: np.ndarray,
         cfg: VoteConfig, is_context: np.ndarray | None = None) -> OrientationVote:
    """Combine per-tile probabilities into one orientation.

    >>> from rayrot.config import load_config
    >>> cfg = load_config().vote
    >>> p = np.array([[0.05, 0.9, 0.03, 0.02]] * 3 + [[0.7, 0.1, 0.1, 0.1]])
    >>> v = vote(p, np.ones(4), np.zeros(4, bool), cfg)
    >>> v.angle, round(v.confidence, 2), v.n_used
    (90, 0.75, 4)
    >>> vote(np.full((5, 4), 0.25), np.ones(5), np.zeros(5, bool), cfg).angle is None
    True
    """
    probs = np.asarray(probs, np.float64).reshape(-1, 4)
    weight, abstained = tile_vote_weights(probs, center_weight, is_global, cfg, is_context)
    mass = (weight[:, None] * probs).sum(axis=0) if len(probs) else np.zeros(4)
    n_used = int((~abstained).sum())
    total = float(mass.sum())
    if total <= 0 or n_used < cfg.min_tiles:
        return OrientationVote(None, 0.0, tuple(float(m) for m in mass), n_used, int(abstained.sum()))
    winner = int(np.argmax(mass))
    share = float(mass[winner] / total)
    margin = float((mass[winner] - np.sort(mass)[-2]) / total)
    # A tie between two answers is never an answer, whatever min_margin allows (1e-9: the
    # rounding of equal masses summed in another order).
    determined = (share >= cfg.undetermined_threshold and margin > 1e-9
                  and margin >= cfg.min_margin)
    angle = ANGLES[winner] if determined else None
    return OrientationVote(angle, share, tuple(float(m) for m in mass), n_used, int(abstained.sum()))


def is_decided(mass: np.ndarray, remaining_weight: float, cfg: VoteConfig,
               share_line: float | None = None) -> bool:
    """True when tiles still unscored, whatever they say, can change neither the winner
    nor whether it clears the undetermined threshold (nor, given ``share_line``, whether a
    determined winner's share ends at or above that line).

    ``remaining_weight`` bounds the mass the unscored tiles could add (the sum of their
    base weights: a tile's confidence is at most 1 and its probabilities sum to 1).
    ``share_line`` is for a decision taken on the confidence, such as a gigapixel image's
    finer look below ``tiling.refine_below_confidence``: settled too, it does not depend on
    which tiles happen to be scored first.

    >>> from rayrot.config import load_config
    >>> cfg = load_config().vote
    >>> is_decided(np.array([5.0, 0.5, 0.3, 0.2]), 1.0, cfg), is_decided(np.array([2.0, 1.5, 0, 0]), 1.0, cfg)
    (True, False)
    """
    mass = np.asarray(mass, np.float64)
    total = float(mass.sum())
    if total <= 0:
        return False
    order = np.argsort(mass)[::-1]
    lead, second = float(mass[order[0]]), float(mass[order[1]])
    if lead - second <= remaining_weight:
        return False
    # The answer is determined when the winner's share and its margin over the runner-up
    # both clear their thresholds; both are lowest when all that remains goes to the
    # runner-up, highest when it all goes to the winner.
    t = total + remaining_weight
    worst = (lead / t >= cfg.undetermined_threshold
             and (lead - second - remaining_weight) / t >= cfg.min_margin)
    best = ((lead + remaining_weight) / t >= cfg.undetermined_threshold
            and (lead - second + remaining_weight) / t >= cfg.min_margin)
    # Either determined whatever comes, or undetermined whatever comes.
    if not worst:
        return not best
    if share_line is None:
        return True
    # The winner cannot change, so its share ends between these two.
    return lead / t >= share_line or (lead + remaining_weight) / t < share_line
