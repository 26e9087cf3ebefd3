"""Skew of tiles and of an image from its tiles: per-tile estimates, the robust vote over them, the border check."""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from ..config import SkewConfig
from .border import _border_fill, _border_skew
from .constants import (_AGREE_DEG, _AGREE_SCALE, _BAND_UNIFORM, _BORDER_AGREE_DEG, _BORDER_BAND,
                        _CANDIDATES, _EDGE_MARGIN, _INLIER_DEG, _LATTICE_FROM_DEG, _LATTICE_SHARE,
                        _MEAN_DEG, _MEAN_MIN_DEG, _SURE, _VOTE_POWER)
from .record import SkewEstimate, _NONE
from .spectrum import _hist_peaks, _over_median, _tile_estimate, _tile_features
from .util import _check_gray, _check_max_angle, _weighted_median, _wrap90

__all__ = ["combine_tile_skews", "estimate_skew", "estimate_tile_skew"]

LOGGER = logging.getLogger(__name__)




def estimate_tile_skew(gray: np.ndarray, max_angle_deg: float, *,
                       near_deg: float | None = None) -> SkewEstimate:
    """Measure the skew of one grey tile.

    Parameters
    ----------
    gray : (H, W) uint8 ndarray
        Grey levels, 0 = black; any size from 32 x 32 (512 x 512 at about 2000 px a page is the
        sweet spot).
    max_angle_deg : float
        Search ``[-max_angle_deg, max_angle_deg]``, in (0, 45].
    near_deg : float, optional
        Skip the coarse search and refine within 1.5 deg of this angle (what
        :func:`estimate_skew` does once the tiles together have picked a direction).

    Returns
    -------
    estimate : SkewEstimate
        ``n_tiles`` is 1 when the tile has line structure, else 0 with ``angle_deg`` 0.0.
    """
    gray = _check_gray(gray, "gray")
    max_angle = _check_max_angle(max_angle_deg)
    feats = _tile_features(gray)
    if feats is None:
        return _NONE
    ink, hist = feats
    coarse = _hist_peaks(hist, max_angle, 1)[0] if near_deg is None else float(_wrap90(near_deg))
    return _tile_estimate(ink, coarse, max_angle)


def combine_tile_skews(estimates: list[SkewEstimate], weights: np.ndarray | None = None) -> SkewEstimate:
    """Combine per-tile skews into one, robust to outlier tiles.

    A vote picks the angle (mod 90 degrees) backed by the most weight x confidence within about a
    quarter degree; tiles more than half a degree from it are outliers (frames at another angle,
    barcodes, photos). The answer is the mean, weighted by weight x confidence squared, of the
    tiles within three robust sigmas (0.03 to 0.1 deg) of the weighted median of the rest.

    Parameters
    ----------
    estimates : list of SkewEstimate
        One per tile (from :func:`estimate_tile_skew`).
    weights : (N,) float ndarray, optional
        Non-negative weight per tile (e.g. its content share); default all 1. A tile's vote is
        its weight times its confidence.

    Returns
    -------
    estimate : SkewEstimate
        ``confidence`` = (share of the vote within 0.1 deg of the answer) x (1 - exp(-(sum of
        those tiles' confidences) / 1.5)): high when many sharp tiles agree, low for a single
        tile or for tiles scattered at random; ``n_tiles`` = tiles within 0.1 deg; 0.0 / 0.0 / 0
        when no tile has structure.

    Examples
    --------
    >>> tiles = [SkewEstimate(a, 0.8, 1) for a in (2.0, 2.02, 1.98)] + [SkewEstimate(-30.0, 1.0, 1)]
    >>> round(combine_tile_skews(tiles).angle_deg, 2)
    2.0
    """
    return _combine(estimates, weights)[0]


def _combine(estimates: list[SkewEstimate], weights: np.ndarray | None) -> tuple[SkewEstimate, float]:
    """:func:`combine_tile_skews` and the agreeing vote mass (to compare candidate directions)."""
    n = len(estimates)
    if weights is None:
        weights = np.ones(n)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if weights.shape[0] != n:
        raise ValueError(f"weights: expected {n} values (one per estimate), got {weights.shape[0]}")
    if n and (not np.all(np.isfinite(weights)) or weights.min() < 0):
        raise ValueError(f"weights must be finite and >= 0, got {weights}")
    if n == 0:
        return _NONE, 0.0
    ang = np.array([e.angle_deg for e in estimates], dtype=np.float64)
    conf = np.array([e.confidence for e in estimates], dtype=np.float64)
    vote = weights * conf ** _VOTE_POWER
    total = vote.sum()
    if total <= 0:
        return _NONE, 0.0
    # vote: each tile's support is the vote within _AGREE_DEG of it (mod 90 degrees)
    diff = _wrap90(ang[:, None] - ang[None, :])
    support = (np.exp(-0.5 * (diff / _AGREE_DEG) ** 2) * vote[None, :]).sum(axis=1)
    support[vote <= 0] = -1.0
    ref = ang[int(np.argmax(support))]
    d = _wrap90(ang - ref)
    near = (np.abs(d) <= _INLIER_DEG) & (vote > 0)
    med = _weighted_median(d[near], vote[near])
    # the mean takes the tiles within 3 robust sigmas of the median (at most _MEAN_DEG): a coarse
    # whole-image view or a tile with odd lettering, though it agrees to a tenth, stays out
    mad = float(np.median(np.abs(d[near] - med)))
    tol = min(_MEAN_DEG, max(_MEAN_MIN_DEG, 3.0 * 1.4826 * mad))
    close = near & (np.abs(d - med) <= tol)
    wc = vote[close] * conf[close]  # confident tiles count more in the mean
    offset = float(np.sum(wc * d[close]) / np.sum(wc))
    angle = float(_wrap90(np.array(ref + offset)))
    # agreement (and so confidence) counts every tile within _MEAN_DEG of the answer
    agreeing = near & (np.abs(d - offset) <= _MEAN_DEG)
    mass = float(vote[agreeing].sum())
    confidence = mass / total * (1.0 - math.exp(-float(conf[agreeing].sum()) / _AGREE_SCALE))
    spread = float(np.sum(vote[agreeing] * np.abs(d[agreeing] - offset)) / mass)
    return SkewEstimate(angle, float(confidence), int(agreeing.sum()), spread), mass


def estimate_skew(gray_tiles: list[np.ndarray], weights: np.ndarray | None, cfg: SkewConfig) -> SkewEstimate:
    """Measure the skew of an image from grey tiles at one scale.

    Parameters
    ----------
    gray_tiles : list of (H, W) uint8 ndarray
        Content tiles of the image, spread out over it, all at the same scale (long side of the
        image about ``cfg.target_long_px``), ``cfg.tile_px`` square, plus (recommended) the whole
        image as one tile from :func:`global_skew_tile`; at most ``cfg.max_tiles`` are measured
        (an even sample of the list when it is longer). A tile with a band of one colour all
        round (the whole-image tile on its surround) is also searched for the image's border.
    weights : (N,) float ndarray or None
        Weight per tile: ``sqrt(content share)`` works well, with 0.5 for the whole-image tile
        (it is the least precise); None = all 1.
    cfg : SkewConfig
        ``enabled``, ``max_angle_deg``, ``min_confidence``, ``max_tiles`` are used here.

    Returns
    -------
    estimate : SkewEstimate
        ``angle_deg`` is 0.0 when skew is disabled, no tile has line structure, or the combined
        confidence is below ``cfg.min_confidence`` (the confidence is still reported).
    """
    return _estimate(gray_tiles, weights, cfg, None)


def _estimate(gray_tiles: list[np.ndarray], weights: np.ndarray | None, cfg: SkewConfig,
              border: SkewEstimate | None | bool) -> SkewEstimate:
    """:func:`estimate_skew`; ``border``: the image border's skew measured by the caller on the
    whole image (:func:`_border_skew`; False: it found none), or None to look for it in the
    tiles that hold the whole image on its surround (:func:`global_skew_tile`)."""
    n = len(gray_tiles)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"weights: expected {n} values (one per tile), got {w.shape[0]}")
    if not cfg.enabled or n == 0:
        return _NONE
    idx = np.arange(n)
    if n > cfg.max_tiles:
        idx = np.unique(np.linspace(0, n - 1, cfg.max_tiles).round().astype(int))
    max_angle = _check_max_angle(cfg.max_angle_deg)
    grays = {int(i): _check_gray(gray_tiles[i], f"gray_tiles[{i}]") for i in idx}
    # a border measured on the whole image at this scale is finer than the tiles' when they are
    # not sure; one found in the (smaller) whole-image tile only overrules tiles that cannot answer
    # or that contradict it
    sure_above = _SURE
    if border is None:
        border = _border_from_tiles([grays[int(i)] for i in idx], max_angle)
        sure_above = cfg.min_confidence
    border = border or None
    feats = [_tile_features(grays[int(i)]) for i in idx]
    keep = [k for k, f in enumerate(feats) if f is not None]
    per_tile: list[SkewEstimate | None] = [None] * n
    for i in idx:
        per_tile[i] = _NONE
    if not keep:
        out = _NONE if border is None else _with_border(_NONE, border, [], np.zeros(0), sure_above)[0]
        return _decline_below(out, cfg, tuple(per_tile))
    feats = [feats[k] for k in keep]
    w = w[idx][keep]
    # the tiles' direction histograms vote for a common coarse direction: a scan border or a
    # graticule seen in pieces by several tiles beats the stronger but scattered directions of
    # arrows, coastlines or lettering within each tile
    votes = sum(wi * np.log(np.maximum(_over_median(h), 1.0)) for wi, (_, h) in zip(w, feats))
    best = _NONE
    best_mass = -1.0
    best_ests: list[SkewEstimate] = []
    border_ests: list[SkewEstimate] = []
    candidates = _hist_peaks(votes, max_angle, _CANDIDATES)
    if border is not None:  # the border's direction is tried first
        candidates = [border.angle_deg] + [c for c in candidates
                                           if abs(float(_wrap90(np.array(c - border.angle_deg)))) > 2.0]
    for j, coarse in enumerate(candidates):
        ests = [_tile_estimate(ink, coarse, max_angle) for ink, _ in feats]
        if j == 0 and border is not None:
            border_ests = ests
        out, mass = _combine(ests, w)
        if mass > best_mass:
            best, best_mass, best_ests = out, mass, ests
        if best.confidence >= _SURE:
            break  # most tiles agree sharply: the next direction cannot win
    if abs(best.angle_deg) > _LATTICE_FROM_DEG:
        # A square lattice (a mosaic of equal cells, a grid of table cells seen from far) has
        # sharp profiles along its diagonals as well as along its rows: when the direction 45
        # degrees away also lines the tiles up, the smaller turn is the true one. Text tilted
        # by about 45 degrees has no such second direction.
        alt = best.angle_deg - math.copysign(45.0, best.angle_deg)
        alt_ests = [_tile_estimate(ink, alt, max_angle) for ink, _ in feats]
        alt_out, _ = _combine(alt_ests, w)
        if abs(alt_out.angle_deg) < abs(best.angle_deg) and \
                alt_out.confidence >= _LATTICE_SHARE * best.confidence:
            best, best_ests = alt_out, alt_ests
    LOGGER.debug("skew %.3f deg, confidence %.2f, %d of %d tiles agree", best.angle_deg, best.confidence,
              best.n_tiles, len(feats))
    if border is not None:
        best, border_won = _with_border(best, border, border_ests, w, sure_above)
        if border_won:
            best_ests = border_ests  # the tiles' own estimates near the border's direction
    for k, e in zip(keep, best_ests):
        per_tile[idx[k]] = e
    return _decline_below(best, cfg, tuple(per_tile))


def _decline_below(est: SkewEstimate, cfg: SkewConfig, per_tile: tuple) -> SkewEstimate:
    """``est`` with the per-tile estimates; angle 0.0 when its confidence is below min_confidence."""
    if est.confidence < cfg.min_confidence:
        return SkewEstimate(0.0, est.confidence, est.n_tiles, est.spread_deg, per_tile)
    return replace(est, tiles=per_tile)


def _with_border(best: SkewEstimate, border: SkewEstimate, ests: list[SkewEstimate],
                 w: np.ndarray, sure_above: float) -> tuple[SkewEstimate, bool]:
    """The answer when the image's border was found, and whether it is the border's.

    The tiles' answer ``best`` stands when its confidence is at least ``sure_above`` (text lines
    and rules measure more finely than a border does at the skew scale), or at least
    ``_SURE`` whatever the border says (sure tiles are rarely wrong; a border may be a frame
    drawn askew); below that a border that they contradict by more than ``_INLIER_DEG``
    overrules them too. Otherwise the answer is the border's angle, supported by the tiles
    (``ests``, refined near the border's direction, weights ``w``) that agree with it to
    ``_MEAN_DEG``.
    """
    diff = abs(float(_wrap90(np.array(best.angle_deg - border.angle_deg))))
    agree = diff <= _BORDER_AGREE_DEG
    if best.confidence >= _SURE or (best.confidence >= sure_above and diff <= _INLIER_DEG):
        return best, False
    d = np.array([abs(float(_wrap90(np.array(e.angle_deg - border.angle_deg)))) for e in ests])
    c = np.array([e.confidence for e in ests])
    sup = (c > 0) & (d <= _MEAN_DEG)
    vote = (np.asarray(w, dtype=np.float64) * c)[sup]
    spread = float(np.sum(vote * d[sup]) / vote.sum()) if vote.sum() > 0 else border.spread_deg
    conf = max(border.confidence, best.confidence if agree else 0.0)
    return SkewEstimate(border.angle_deg, conf, int(sup.sum()), spread), True


def _border_from_tiles(tiles: list[np.ndarray], max_angle: float) -> SkewEstimate | bool:
    """The border's skew from the tiles that hold the whole image on its surround, with a band
    of one colour on all four sides (:func:`global_skew_tile`); False when there is none."""
    found = []
    for t in tiles:
        b = max(2, int(round(min(t.shape) * _EDGE_MARGIN * _BORDER_BAND)))
        if min(t.shape) < 8 * b:
            continue
        if _border_fill(t, b, _BAND_UNIFORM) is None:
            continue
        est = _border_skew(t, max_angle)
        if est is not None:
            found.append(est)
    return max(found, key=lambda e: e.confidence) if found else False
