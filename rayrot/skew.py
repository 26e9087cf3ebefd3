"""Fine skew of content with line structure: text lines, table rules, map labels, scan borders.

Plain functions over NumPy arrays (NumPy and ``scipy``; no pyvips, Ray or torch), so the pipeline
can call them on tiles it has already read and the tests run in milliseconds.

How one tile is measured (:func:`estimate_tile_skew`)::

    grey tile  ->  ink map: how much darker or lighter each pixel is than its neighbourhood
               ->  coarse angle: power spectrum of the ink map (round window, a ring of radii)
                   binned by direction, folded mod 90 degrees (text lines and the strokes across
                   them, table rules both ways, all agree)
               ->  fine angle: ink pixels of the tile's inscribed disc (tapered; a square support
                   would pull the angle toward the axes) splatted into strips along the coarse
                   direction, in quarter-pixel bins; the strips' profiles are sheared against each
                   other in the Fourier domain and the energy of the profile's derivative (the
                   sharp top and bottom edges of lines, not where their ink mass sits) is
                   maximised: 0.1 deg steps over +-1.5 deg, then 0.01 deg steps, then a parabola
               ->  confidence: how much the energy drops 1.5 deg away from the peak (0 for photos,
                   tissue and blank paper; 1 from a 30% drop)

How an image is measured (:func:`estimate_skew`): the tiles' direction histograms are summed and
their peaks are the candidate coarse directions (a scan border or a graticule seen in pieces by
several tiles beats lettering or coastlines scattered within each tile); every tile is refined
near a candidate, and :func:`combine_tile_skews` lets the tile angles vote (mod 90 degrees, a
quarter-degree kernel). Tiles more than half a degree from the winner are outliers (frames,
barcodes, photos on the page); the answer is the weighted mean of the tiles within three robust
sigmas (0.03 to 0.1 deg) of their weighted median. The confidence grows with the share of the
vote that agrees to 0.1 deg and with how many sharp tiles agree; below ``skew.min_confidence``
the image's skew is reported as 0.0.

The image's own border (a scanned sheet on the scanner bed, an image turned on a canvas of one
colour) is measured apart, on the whole image (:func:`estimate_skew_array`) or on the whole-image
tile (:func:`estimate_skew`): the outline of what differs from the surround, seen from the four
sides, is searched for straight sides (least-squares lines; a digital straight edge lies within
0.29 px RMS of its line, ragged text margins and coastlines do not). Two or more straight sides
that agree make a border: its direction is the first candidate the tiles are refined near, and
its angle is the answer unless the tiles are sure of their own (maps and photos whose only line
structure is their edge; untilted photos and micrographs have no such surround and are not
affected).

Sign convention (as for rayrot's 4-way angle): ``angle_deg`` is the CLOCKWISE rotation in degrees
that straightens the content, in ``[-max_angle_deg, max_angle_deg]`` with ``max_angle_deg <= 45``.
Content tilted 3 degrees clockwise (its text lines go down to the right, image y pointing down)
gives ``-3.0``; ``PIL.Image.rotate(a)`` (counter-clockwise by ``a``) of a straight page gives
``+a``. Lines are measured mod 90 degrees: which side is up is the 4-way classifier's job.

    >>> import numpy as np
    >>> page = np.full((256, 256), 255, np.uint8)
    >>> for y in range(20, 240, 16):           # text-like bars going down to the right
    ...     for x in range(16, 240):
    ...         page[y + (x * 3) // 100: y + (x * 3) // 100 + 5, x] = 0
    >>> est = estimate_tile_skew(page, 45.0)
    >>> round(est.angle_deg, 1)                # tan(-1.7 deg) = -0.03: tilted clockwise
    -1.7
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from .config import SkewConfig

__all__ = [
    "SkewEstimate",
    "estimate_tile_skew",
    "combine_tile_skews",
    "estimate_skew",
    "skew_tiles_from_array",
    "estimate_skew_array",
    "global_skew_tile",
]

log = logging.getLogger(__name__)

# --- algorithm constants (not user knobs; those are in configs/default.yaml, section skew)
# ink map
_LOCAL_PX = 31  # side of the local-mean window, in tile pixels
_INK_LEVEL = 8.0  # grey levels a pixel must differ from its neighbourhood to count as ink
_MIN_INK_SHARE = 0.002  # a tile with less ink than this share of its area has no structure
# coarse stage
_COARSE_BIN_DEG = 0.1  # direction bins of the spectrum histogram
_COARSE_SMOOTH_DEG = 0.3  # Gaussian smoothing of that histogram (sigma)
_WINDOW_FLAT = 0.6  # round window, flat inside this share of the inscribed radius
_COARSE_R_MIN = 16  # spectrum radii used from here, in frequency bins of the (halved) tile
_CANDIDATES = 2  # coarse directions (peaks of the tiles' summed histograms) tried per image
_SURE = 0.8  # an answer this confident is not challenged by the next candidate direction
# fine stage
_FINE_HALF_DEG = 1.5  # search coarse +- this ...
_FINE_STEP_DEG = 0.1  # ... in these steps
_FINE_WALKS = 3  # times the window may move when its peak lies at an end
_FINER_HALF_DEG = 0.12  # then the best +- this ...
_FINER_STEP_DEG = 0.01  # ... in these steps
_STRIP_PX = 32  # strip width of the sheared projection profiles, in tile pixels
_TAPER_FROM = 0.8  # ink has full weight inside this share of the tile's inscribed radius
_EDGE_POWER = 1  # profile spectrum weighted by frequency ** this (1: energy of the derivative)
_BINS_PER_PX = 4  # profile bins per pixel
_PROFILE_F_MAX = 0.25  # highest profile frequency used, in cycles per pixel
_SHARP_FULL = 0.3  # energy drop 1.5 deg off the peak that gives a tile confidence 1
# combining tiles
_AGREE_DEG = 0.25  # tiles within this of each other vote together (Gaussian sigma)
_INLIER_DEG = 0.5  # tiles further than this from the vote's winner are outliers
_MEAN_DEG = 0.1  # the mean takes tiles within this of the weighted median ...
_MEAN_MIN_DEG = 0.03  # ... or within 3 robust sigmas of it when that is smaller (not below this)
_VOTE_POWER = 1  # a tile votes with weight x confidence ** this
_AGREE_SCALE = 1.5  # summed confidence of agreeing tiles giving 63% of the agreeing share
# square lattices (see _estimate)
_LATTICE_FROM_DEG = 30.0  # an answer this far from the axes is checked against the one 45 deg away
_LATTICE_SHARE = 0.5  # which wins when its confidence is at least this share of the answer's
# tiles cut by skew_tiles_from_array
_GLOBAL_WEIGHT = 0.25  # content-share weight of the whole-image tile (the tiles' is their share)
_EDGE_MARGIN = 0.12  # one-colour margin added around the image, as a share of a tile's side
_RING_UNIFORM = 0.8  # share of border pixels near their median for a one-colour border
_FILL_TOLERANCE = 16  # grey levels from that median that still count as the same colour
_BAND_UNIFORM = 0.99  # the same share for the whole-image tile's margin band (_border_from_tiles)
# image border against a one-colour surround (scanner bed, fill of a rotated canvas)
_BORDER_LEVEL = 8  # grey levels from the surround that count as the image (plus 3x its noise) ...
_BORDER_LEVEL_MAX = 24  # ... up to this
_BORDER_COARSE_DEG = 0.5  # coarse search for the sides' direction, in these steps ...
_BORDER_COARSE_BIN_PX = 6.0  # ... collecting outline points within pairs of bins this wide
_BORDER_FINE_DEG = 0.02  # then these steps within one coarse step ...
_BORDER_FINE_BIN_PX = 1.5  # ... and bins this wide
_BORDER_RMS_PX = 0.45  # a side is straight when its outline points lie this close to a line (RMS)
_BORDER_MIN_SPAN = 0.2  # ... and span this share of the image's width (height) ...
_BORDER_MIN_POINTS = 48  # ... with at least these many points
_BORDER_AGREE_DEG = 0.1  # sides of one border agree to this
_BORDER_MIN_SUPPORT = 0.6  # summed spans of at least two agreeing straight sides for a border
_BORDER_FULL_SPAN = 0.5  # the border's confidence is 1 - exp(-summed spans / this)
_BORDER_BAND = 0.25  # a tile is a whole image on its surround when a band of this share of
#                      its margin (_EDGE_MARGIN) is one colour on all four sides


@dataclass(frozen=True)
class SkewEstimate:
    """Fine skew of one tile or one image.

    Attributes
    ----------
    angle_deg : float
        Clockwise rotation in degrees that straightens the content, in [-45, 45]; 0.0 when no line
        structure was found.
    confidence : float
        0..1; near 0 for content without line structure (photos, tissue, blank paper).
    n_tiles : int
        Tiles that support the answer (for a single tile: 1, or 0 when it has no structure).
    spread_deg : float
        Weighted mean absolute deviation of the supporting tiles from the answer, in degrees
        (0.0 for a single tile).
    tiles : tuple of (SkewEstimate or None)
        From :func:`estimate_skew` only: one entry per input tile, in input order, with that
        tile's own estimate near the chosen direction (None: not measured, beyond
        ``max_tiles``; angle 0 and confidence 0: no line structure). Empty otherwise.
    """

    angle_deg: float
    confidence: float
    n_tiles: int
    spread_deg: float = 0.0
    tiles: tuple["SkewEstimate | None", ...] = field(default=(), repr=False, compare=False)


_NONE = SkewEstimate(0.0, 0.0, 0, 0.0)


# ----------------------------------------------------------------------------- public API


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
    log.debug("skew %.3f deg, confidence %.2f, %d of %d tiles agree", best.angle_deg, best.confidence,
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


def skew_tiles_from_array(gray: np.ndarray, cfg: SkewConfig) -> tuple[list[np.ndarray], np.ndarray]:
    """Cut skew tiles from a whole grey image held in memory (ordinary images, benchmarks).

    The image is shrunk by the largest whole factor that keeps its long side at least
    ``cfg.target_long_px`` (block mean, like reading the pyramid level just above that size), then
    cut into ``cfg.tile_px`` tiles on a grid that covers it (edge tiles overlap their neighbours).
    Tiles that are nearly uniform are dropped; at most ``cfg.max_tiles`` are kept, spread evenly.

    Parameters
    ----------
    gray : (H, W) uint8 ndarray
    cfg : SkewConfig

    Returns
    -------
    tiles : list of (h, w) uint8 ndarray
        Views into the shrunk image; an image smaller than a tile is one tile.
    weights : (N,) float64 ndarray
        Content share of each tile (share of pixels that differ from the paper).
    """
    return _cut_tiles(_skew_scale(_check_gray(gray, "gray"), cfg), cfg)


def _skew_scale(gray: np.ndarray, cfg: SkewConfig) -> np.ndarray:
    """The image shrunk by the largest whole factor that keeps its long side >= target_long_px."""
    f = max(1, int(max(gray.shape) // cfg.target_long_px))
    return _block_mean(gray, f) if f > 1 else gray


def _cut_tiles(gray: np.ndarray, cfg: SkewConfig) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`skew_tiles_from_array` on the image already at the skew scale."""
    t = cfg.tile_px
    fill = _border_fill(gray)
    full = gray
    if fill is not None:
        # a one-colour border (paper, scanner bed, the fill of a rotated canvas) is extended so
        # that edges running along the image's border fall inside some tile's measured disc
        m = int(round(t * _EDGE_MARGIN))
        gray = np.pad(gray, m, mode="constant", constant_values=fill)
    ys = _grid(gray.shape[0], t)
    xs = _grid(gray.shape[1], t)
    paper = np.percentile(gray[:: max(1, gray.shape[0] // 256), :: max(1, gray.shape[1] // 256)], 90)
    tiles, shares = [], []
    for y in ys:
        for x in xs:
            tile = gray[y: y + t, x: x + t]
            share = float(np.mean(np.abs(tile[::2, ::2].astype(np.int16) - paper) > 32))
            if share >= 0.01:
                tiles.append(tile)
                shares.append(share)
    n_local = cfg.max_tiles - 1
    if len(tiles) > n_local:
        keep = np.unique(np.linspace(0, len(tiles) - 1, n_local).round().astype(int))
        tiles = [tiles[i] for i in keep]
        shares = [shares[i] for i in keep]
    if max(full.shape) > t:
        tiles.append(global_skew_tile(full, t))
        shares.append(_GLOBAL_WEIGHT)
    return tiles, np.asarray(shares, dtype=np.float64)


def global_skew_tile(gray: np.ndarray, tile_px: int) -> np.ndarray:
    """The whole image as one skew tile: page edges, frames and long rules seen whole.

    The image (or a thumbnail of it) is shrunk by a whole factor until its long side is at most
    ``tile_px`` minus a margin, and set on a square of its border colour, so edges that run along
    the image's border fall inside the tile's measured disc. When the border is not one colour
    (content runs off the image) the margin is left out: it would draw a false edge at 0 degrees.

    Parameters
    ----------
    gray : (H, W) uint8 ndarray
        The whole image at any scale (a thumbnail is enough).
    tile_px : int
        Side of the returned tile.

    Returns
    -------
    tile : (h, w) uint8 ndarray
        ``tile_px`` square when the margin was added, else the shrunk image.
    """
    gray = _check_gray(gray, "gray")
    fill = _border_fill(gray)
    inner = int(round(tile_px * (1.0 - 2.0 * _EDGE_MARGIN))) if fill is not None else tile_px
    g = int(math.ceil(max(gray.shape) / inner))
    small = _block_mean(gray, g) if g > 1 else gray
    if fill is None:
        return small
    out = np.full((tile_px, tile_px), fill, np.uint8)
    y0 = (tile_px - small.shape[0]) // 2
    x0 = (tile_px - small.shape[1]) // 2
    out[y0: y0 + small.shape[0], x0: x0 + small.shape[1]] = small
    return out


def estimate_skew_array(gray: np.ndarray, cfg: SkewConfig) -> SkewEstimate:
    """:func:`estimate_skew` on the tiles :func:`skew_tiles_from_array` cuts from ``gray``, with
    the image's border (if any) measured on the whole image at the skew scale."""
    small = _skew_scale(_check_gray(gray, "gray"), cfg)
    tiles, weights = _cut_tiles(small, cfg)
    # the image's own border, measured on the whole image at the skew scale (finer than in the
    # whole-image tile)
    border = (_border_skew(small, _check_max_angle(cfg.max_angle_deg)) or False) if cfg.enabled else False
    return _estimate(tiles, np.sqrt(weights) if len(weights) else None, cfg, border)


# ----------------------------------------------------------------------------- per-tile stages


def _ink_map(gray: np.ndarray) -> np.ndarray:
    """(H, W) float32 >= 0: how much darker or lighter each pixel is than its neighbourhood.

    The neighbourhood mean is taken on a 2x2 block-mean copy (a quarter of the work) and compared
    with each pixel of the block; the mean varies slowly, so the 2-px steps do not show.
    """
    h, w = gray.shape
    h2, w2 = h // 2 * 2, w // 2 * 2
    g = gray[:h2, :w2].astype(np.float32)
    small = _half(g)
    size = min(_LOCAL_PX // 2, 2 * (min(small.shape) // 4) + 1)
    mean = ndimage.uniform_filter(small, size=size, mode="nearest")
    ink = g.reshape(h2 // 2, 2, w2 // 2, 2) - mean[:, None, :, None]
    np.abs(ink, out=ink)
    ink -= _INK_LEVEL
    np.maximum(ink, 0.0, out=ink)
    return ink.reshape(h2, w2)


@lru_cache(maxsize=16)
def _direction_bins(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Direction bin (mod 90 deg, 0.1 deg bins from -45) and mask of the used radii of an rfft2."""
    fy = np.fft.fftfreq(h)[:, None] * h  # in frequency bins
    fx = np.fft.rfftfreq(w)[None, :] * w
    # energy at (fx, fy) comes from lines whose normal is (sin a, cos a): a = atan2(fx, fy)
    fyn, fxn = fy / h, fx / w
    a = np.degrees(np.arctan2(fxn, fyn))
    a = (a + 45.0) % 90.0 - 45.0
    r = np.hypot(fyn, fxn) * min(h, w)
    nbins = int(round(90.0 / _COARSE_BIN_DEG))
    idx = np.clip(np.floor((a + 45.0) / _COARSE_BIN_DEG).astype(np.int64), 0, nbins - 1)
    # a ring, the same radii in every direction: a square band would give the axes a different
    # mix of frequencies (and so of power) than the diagonals
    mask = (r >= _COARSE_R_MIN) & (np.hypot(fyn, fxn) < 0.45)
    return idx[mask], mask


@lru_cache(maxsize=16)
def _direction_counts(h: int, w: int) -> np.ndarray:
    idx, _ = _direction_bins(h, w)
    nbins = int(round(90.0 / _COARSE_BIN_DEG))
    counts = np.bincount(idx, minlength=nbins).astype(np.float64)
    counts = ndimage.gaussian_filter1d(counts, _COARSE_SMOOTH_DEG / _COARSE_BIN_DEG, mode="wrap")
    return np.maximum(counts, 1e-9)


@lru_cache(maxsize=16)
def _round_window(h: int, w: int) -> np.ndarray:
    """Round Tukey window: 1 inside ``_WINDOW_FLAT`` of the inscribed radius, cosine to 0 at it.

    Isotropic: a separable window (or none) would favour the axes in the spectrum.
    """
    y = (np.arange(h) - (h - 1) / 2.0)[:, None] / (h / 2.0)
    x = (np.arange(w) - (w - 1) / 2.0)[None, :] / (w / 2.0)
    r = np.minimum(np.hypot(x, y), 1.0)
    taper = np.clip((r - _WINDOW_FLAT) / (1.0 - _WINDOW_FLAT), 0.0, 1.0)
    return (0.5 + 0.5 * np.cos(np.pi * taper)).astype(np.float32)


def _tile_features(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Ink map and direction histogram of a tile; None when it has too little ink."""
    ink = _ink_map(gray)
    if np.count_nonzero(ink) < _MIN_INK_SHARE * ink.size:
        return None
    hist = _direction_hist(ink)
    if not hist.max() > 0:
        return None
    return ink, hist


def _direction_hist(ink: np.ndarray) -> np.ndarray:
    """(900,) mean spectral power per 0.1-deg direction bin of line normals, mod 90, from -45."""
    small = _half(ink) if min(ink.shape) >= 256 else ink
    win = _round_window(*small.shape)
    small = (small - np.sum(small * win) / np.sum(win)) * win
    spec = sfft.rfft2(small.astype(np.float32))
    power = spec.real ** 2 + spec.imag ** 2
    idx, mask = _direction_bins(*small.shape)
    nbins = int(round(90.0 / _COARSE_BIN_DEG))
    # mean power per direction (axis directions hold many more frequency samples than others)
    sigma = _COARSE_SMOOTH_DEG / _COARSE_BIN_DEG
    hist = np.bincount(idx, weights=power[mask], minlength=nbins)
    hist = ndimage.gaussian_filter1d(hist, sigma, mode="wrap")
    hist /= _direction_counts(*small.shape)
    return hist


def _bin_centers() -> np.ndarray:
    nbins = int(round(90.0 / _COARSE_BIN_DEG))
    return -45.0 + (np.arange(nbins) + 0.5) * _COARSE_BIN_DEG


def _hist_peaks(hist: np.ndarray, max_angle: float, k: int) -> list[float]:
    """Up to ``k`` local maxima of a circular direction histogram within the range, best first.

    Peaks under half the best one, or within 2 deg of a better one, are left out.
    """
    nbins = hist.shape[0]
    centers = _bin_centers()
    allowed = np.abs(centers) <= max_angle + 1e-9
    h = np.where(allowed, hist, -np.inf)
    is_max = (h >= np.roll(h, 1)) & (h > np.roll(h, -1)) & allowed
    cand = np.flatnonzero(is_max)
    if cand.size == 0:
        cand = np.array([int(np.argmax(h))])
    cand = cand[np.argsort(h[cand])[::-1]]
    out: list[float] = []
    top = h[cand[0]]
    for j in cand:
        if len(out) >= k or h[j] < 0.5 * top:
            break
        y0, y1, y2 = hist[(j - 1) % nbins], hist[j], hist[(j + 1) % nbins]
        den = y0 - 2 * y1 + y2
        frac = float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5)) if den < 0 else 0.0
        a = float(_wrap90(centers[j] + frac * _COARSE_BIN_DEG))
        if all(abs(float(_wrap90(a - b))) > 2.0 for b in out):
            out.append(a)
    return out


def _over_median(hist: np.ndarray) -> np.ndarray:
    return hist / max(float(np.median(hist)), 1e-6 * float(hist.max()), 1e-30)


def _tile_estimate(ink: np.ndarray, coarse: float, max_angle: float) -> SkewEstimate:
    """Refine near ``coarse``; confidence from how much sharper the profile is at the peak."""
    angle, sharpness = _refine_angle(ink, coarse, max_angle)
    confidence = min(1.0, sharpness / _SHARP_FULL)
    if confidence <= 0.0:
        return _NONE
    return SkewEstimate(float(angle), float(confidence), 1, 0.0)


def _strip_spectra(a: np.ndarray, b: np.ndarray, w: np.ndarray, pad: int):
    """Profiles along ``b`` of strips of ``_STRIP_PX`` along ``a`` (linear splatting), as rfft rows.

    Returns the spectra (S, F) complex64, the strip centers (S,) in pixels along ``a`` and the
    frequencies (F,) in cycles per pixel.
    """
    a0 = float(a.min())
    s = ((a - a0) * (1.0 / _STRIP_PX)).astype(np.int32)
    n_strips = int(s.max()) + 1
    # each strip turns about the ink's centroid, not its nominal middle: strips cut by the tile's
    # edge would otherwise have the wrong lever arm and bias the angle toward the coarse one
    mass = np.bincount(s, weights=w, minlength=n_strips)
    centers = np.bincount(s, weights=w * a, minlength=n_strips) / np.maximum(mass, 1e-12)
    # bins of 1/_BINS_PER_PX pixel: the linear splat's blur then hardly depends on how the pixel
    # lattice lines up with the bins, which it does perfectly at 0 deg (a false peak there)
    b = (b - (float(b.min()) - pad)) * np.float32(_BINS_PER_PX)
    length = _fast_len(int(np.ceil(float(b.max()))) + pad * _BINS_PER_PX + 2)
    b0 = b.astype(np.int32)  # b >= 0: truncation is floor
    frac = b - b0
    i0 = s * length + b0
    wf = w * frac
    n = n_strips * length
    prof = np.bincount(i0, weights=w - wf, minlength=n)
    prof[1:] += np.bincount(i0, weights=wf, minlength=n)[:-1]
    prof = prof.reshape(n_strips, length).astype(np.float32)
    prof -= prof.mean(axis=1, keepdims=True)
    spec = sfft.rfft(prof, axis=1)
    freqs = (np.fft.rfftfreq(length) * _BINS_PER_PX).astype(np.float32)  # cycles per pixel
    # low frequencies only: above them the pixel grid's aliases pull the angle toward the axes
    use = slice(1, int(np.searchsorted(freqs, _PROFILE_F_MAX)) + 1)
    spec, freqs = spec[:, use], freqs[use]
    if _EDGE_POWER:
        # weight by frequency: the energy of the profile's derivative, i.e. of the sharp top and
        # bottom edges of text lines, not of where their ink mass sits (capitals and bullets at
        # line starts would tilt the mass)
        spec = spec * (freqs ** (0.5 * _EDGE_POWER))[None, :].astype(np.float32)
    return spec, centers.astype(np.float32), freqs


def _profile_energy(spec, centers, freqs, t0: float, dt: float, k: int, sign: float) -> np.ndarray:
    """Energy of the summed profile for tan = t0 + i dt, i < k, strip s shifted by sign*centers[s]*tan.

    The phase factors of a uniform grid in tan are a geometric series: one complex exp, then
    one multiply per grid step.
    """
    base = (-2.0 * np.pi * sign) * centers[:, None] * freqs[None, :]  # (S, F) radians per unit tan
    cur = spec * np.exp(1j * (base * t0)).astype(np.complex64)
    step = np.exp(1j * (base * dt)).astype(np.complex64)
    out = np.empty(k)
    for i in range(k):
        comb = cur.sum(axis=0)
        out[i] = float(np.vdot(comb, comb).real)
        cur *= step
    return out


def _refine_angle(ink: np.ndarray, coarse: float, max_angle: float) -> tuple[float, float]:
    """Maximise projection-profile energy near ``coarse``; returns the angle and the sharpness."""
    flat = np.flatnonzero(ink)
    w = ink.reshape(-1)[flat]
    ys, xs = np.divmod(flat, ink.shape[1])
    x = xs.astype(np.float32) - np.float32((ink.shape[1] - 1) / 2.0)
    y = ys.astype(np.float32) - np.float32((ink.shape[0] - 1) / 2.0)
    # a round, tapered support: the square tile's edges would pull the angle toward the axes
    rr = np.sqrt(x * x + y * y) * np.float32(2.0 / min(ink.shape))
    taper = np.clip((1.0 - rr) / (1.0 - _TAPER_FROM), 0.0, 1.0)
    w = w * (0.5 - 0.5 * np.cos(np.pi * taper))
    keep = w > 0
    if np.count_nonzero(keep) < _MIN_INK_SHARE * ink.size:
        return coarse, 0.0
    w, x, y = w[keep], x[keep], y[keep]
    c = math.radians(coarse)
    cc, sc = np.float32(math.cos(c)), np.float32(math.sin(c))
    u = x * cc - y * sc  # along the lines
    v = x * sc + y * cc  # across the lines
    reach = _FINE_HALF_DEG * (1 + 0.8 * _FINE_WALKS) + _FINER_HALF_DEG
    pad = int(np.ceil(max(ink.shape) * 0.75 * math.tan(math.radians(reach)))) + 2
    rows = _strip_spectra(u, v, w, pad)  # lines along u: profile across them
    cols = _strip_spectra(v, u, w, pad)  # strokes / rules along v

    def energy(t0: float, dt: float, k: int) -> np.ndarray:
        # residual skew d: a line obeys v = v0 - u tan d (strip at u shifted by +u tan d) and a
        # cross stroke u = u0 + v tan d (strip at v shifted by -v tan d)
        return _profile_energy(*rows, t0, dt, k, +1.0) + _profile_energy(*cols, t0, dt, k, -1.0)

    # grids uniform in tan(residual); over +-1.5 deg tan is linear to 1e-4 relative
    dt1 = math.tan(math.radians(_FINE_STEP_DEG))
    k1 = 2 * int(round(_FINE_HALF_DEG / _FINE_STEP_DEG)) + 1
    t1 = -dt1 * (k1 // 2)
    for _ in range(_FINE_WALKS + 1):
        e1 = energy(t1, dt1, k1)
        j = int(np.argmax(e1))
        if 0 < j < k1 - 1:
            break
        # the peak lies outside the window: move the window that way (the coarse angle was off)
        t1 += (j - k1 // 2) * dt1 * 0.8
    else:
        return coarse, 0.0
    best = t1 + (j + _parabola(e1, j)) * dt1
    sharp = float(1.0 - e1.min() / max(e1[j], 1e-12))
    dt2 = math.tan(math.radians(_FINER_STEP_DEG))
    k2 = 2 * int(round(_FINER_HALF_DEG / _FINER_STEP_DEG)) + 1
    t2 = best - dt2 * (k2 // 2)
    e2 = energy(t2, dt2, k2)
    j2 = int(np.argmax(e2))
    delta = math.degrees(math.atan(t2 + (j2 + _parabola(e2, j2)) * dt2))
    angle = float(_wrap90(np.array(coarse + delta)))
    if max_angle < 45.0:
        angle = float(np.clip(angle, -max_angle, max_angle))
    return angle, sharp


def _ring(gray: np.ndarray, band: int = 1) -> tuple[int, np.ndarray]:
    """Median grey level of the image's outer ``band`` pixels, and each one's distance from it."""
    ring = np.concatenate([gray[:band].ravel(), gray[-band:].ravel(), gray[:, :band].ravel(),
                           gray[:, -band:].ravel()]).astype(np.int16)
    fill = int(np.median(ring))
    return fill, np.abs(ring - fill)


def _border_fill(gray: np.ndarray, band: int = 1, share: float = _RING_UNIFORM) -> int | None:
    """Grey level of the image's outer ``band`` pixels when at least ``share`` of them are within
    _FILL_TOLERANCE of it (one colour), else None."""
    fill, dev = _ring(gray, band)
    return fill if np.mean(dev <= _FILL_TOLERANCE) >= share else None


def _border_skew(gray: np.ndarray, max_angle: float) -> SkewEstimate | None:
    """Skew of the image's own border against a one-colour surround; None when there is none.

    A scanned sheet on the scanner bed, or an image turned on a canvas filled with one colour,
    shows its border as straight sides wherever its content is not the surround's colour. The
    outline (the first pixel off the surround's colour seen from each side, per row and per
    column) is searched for the direction along which most outline points line up; each side is
    then fitted by least squares. A border needs at least two sides that are straight to
    ``_BORDER_RMS_PX`` (the staircase of a digital line is 0.29 px; ragged text margins,
    coastlines and silhouettes are rougher), agree to ``_BORDER_AGREE_DEG`` and together span
    ``_BORDER_MIN_SUPPORT`` of the image's width or height: a lone straight edge (a rule, a
    panel) is left to the tiles. The confidence grows with the summed span.
    """
    fill, dev = _ring(gray)
    near = dev <= _FILL_TOLERANCE
    if np.mean(near) < _RING_UNIFORM:
        return None
    level = min(_BORDER_LEVEL_MAX, _BORDER_LEVEL + 3.0 * float(dev[near].mean()))
    profiles = _outline(gray, fill, level)
    if profiles is None:
        return None
    coarse = np.arange(-max_angle, max_angle + 1e-9, _BORDER_COARSE_DEG)
    every2 = [(al[::2], ac[::2], hz) for al, ac, hz in profiles]  # enough for the coarse search
    a = float(coarse[int(np.argmax(_outline_support(every2, coarse, _BORDER_COARSE_BIN_PX)))])
    half = 1.2 * _BORDER_COARSE_DEG
    fine = a + np.arange(-half, half + 1e-9, _BORDER_FINE_DEG)
    a = float(fine[int(np.argmax(_outline_support(profiles, fine, _BORDER_FINE_BIN_PX)))])
    h, w = gray.shape
    best = None
    for _ in range(2):  # the second pass collects each side's points along the fitted direction
        sides = []
        for along, across, horizontal in profiles:
            fit = _fit_side(along, across, horizontal, a)
            if fit is None:
                continue
            ang, n, span, rms = fit
            span /= w if horizontal else h
            if rms <= _BORDER_RMS_PX and span >= _BORDER_MIN_SPAN and n >= _BORDER_MIN_POINTS:
                sides.append((float(_wrap90(np.array(ang - a))), n, span))
        if len(sides) < 2:
            break
        d = np.array([x[0] for x in sides])
        n = np.array([x[1] for x in sides], dtype=np.float64)
        med = _weighted_median(d, n)
        ok = np.abs(d - med) <= _BORDER_AGREE_DEG
        support = float(sum(x[2] for x, k in zip(sides, ok) if k))
        if ok.sum() < 2 or support < _BORDER_MIN_SUPPORT:
            break
        a = float(_wrap90(np.array(a + np.sum(n[ok] * d[ok]) / np.sum(n[ok]))))
        spread = float(np.sum(n[ok] * np.abs(d[ok] - np.average(d[ok], weights=n[ok]))) / n[ok].sum())
        best = (a, support, int(ok.sum()), spread)
    if best is None:
        return None
    a, support, n_sides, spread = best
    if abs(a) > max_angle:
        return None
    return SkewEstimate(a, float(1.0 - math.exp(-support / _BORDER_FULL_SPAN)), n_sides, spread)


def _outline(gray: np.ndarray, fill: int, level: float):
    """The image's outline against its surround, seen from the four sides.

    Returns four (along, across, horizontal) triples (float64 point coordinates; horizontal: the
    top and bottom views, one point per column, ``across`` = y), or None when nothing differs
    from the surround.
    """
    lo, hi = fill - level, fill + level
    mask = gray < lo
    if hi < 255:
        mask |= gray > hi
    h, w = mask.shape
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size < 2 or cols.size < 2:
        return None
    # the first True along each row / column from each end (argmax of a bool array stops there)
    left = mask.argmax(axis=1)[rows]
    right = w - 1 - mask[:, ::-1].argmax(axis=1)[rows]
    top = mask.argmax(axis=0)[cols]
    bottom = h - 1 - mask[::-1].argmax(axis=0)[cols]
    c, r = cols.astype(np.float64), rows.astype(np.float64)
    return [(c, top.astype(np.float64), True), (c, bottom.astype(np.float64), True),
            (r, left.astype(np.float64), False), (r, right.astype(np.float64), False)]


def _intercepts(along: np.ndarray, across: np.ndarray, horizontal: bool, tan: np.ndarray) -> np.ndarray:
    """Where a line of skew ``a`` (tan a) through each outline point meets the axis.

    Content turned counter-clockwise by ``a`` (skew_deg = +a): a top or bottom side runs
    y = c - x tan a, a left or right side x = c + y tan a.
    """
    if horizontal:
        return across + tan * along
    return across - tan * along


def _outline_support(profiles, angles: np.ndarray, bin_px: float) -> np.ndarray:
    """Per angle: outline points in the best pair of intercept bins, summed over the four views."""
    tan = np.tan(np.radians(angles))[:, None]
    k = angles.shape[0]
    total = np.zeros(k)
    for along, across, horizontal in profiles:
        c = _intercepts(along[None, :], across[None, :], horizontal, tan)
        b = ((c - c.min()) / bin_px).astype(np.int64)
        nb = int(b.max()) + 2
        counts = np.bincount((b + (np.arange(k) * nb)[:, None]).ravel(), minlength=k * nb)
        counts = counts.reshape(k, nb)
        total += (counts[:, :-1] + counts[:, 1:]).max(axis=1)
    return total


def _fit_side(along: np.ndarray, across: np.ndarray, horizontal: bool, a: float):
    """Least-squares line through the outline points of one view that line up at skew ``a``.

    Returns (skew of the fitted line in degrees, points used, their span in pixels, RMS
    residual in pixels), or None when too few points line up.
    """
    c = _intercepts(along, across, horizontal, math.tan(math.radians(a)))
    b = ((c - c.min()) / _BORDER_FINE_BIN_PX).astype(np.int64)
    counts = np.bincount(b)
    if counts.size > 1:
        counts = counts[:-1] + counts[1:]
    j = int(np.argmax(counts))
    sel = (b >= j) & (b <= j + 1)
    x, y = along[sel], across[sel]
    rms = 0.0
    for _ in range(3):  # drop points off the line (content near the surround's colour)
        if x.size < 8:
            return None
        xm, ym = x.mean(), y.mean()
        var = float(np.sum((x - xm) ** 2))
        if var <= 0:
            return None
        slope = float(np.sum((x - xm) * (y - ym)) / var)
        res = y - ym - slope * (x - xm)
        rms = float(np.sqrt(np.mean(res ** 2)))
        keep = np.abs(res) <= max(1.0, 2.5 * rms)
        if keep.all():
            break
        x, y = x[keep], y[keep]
    ang = math.degrees(math.atan(slope))
    return (-ang if horizontal else ang), int(x.size), float(x.max() - x.min()), rms


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """(H // f, W // f) uint8: mean of each f x f block (strided sums; no (f, f) reshape)."""
    h, w = a.shape[0] // f, a.shape[1] // f
    acc = np.zeros((h, w), np.uint32)
    for i in range(f):
        for j in range(f):
            acc += a[i: h * f: f, j: w * f: f]
    return ((acc + (f * f) // 2) // (f * f)).astype(np.uint8)


def _half(a: np.ndarray) -> np.ndarray:
    """2x2 block mean (odd last row / column dropped)."""
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    out = a[0:h:2, 0:w:2] + a[1:h:2, 0:w:2]
    out += a[0:h:2, 1:w:2]
    out += a[1:h:2, 1:w:2]
    out *= 0.25
    return out


def _parabola(e: np.ndarray, k: int) -> float:
    """Offset in steps of the vertex of the parabola through e[k-1], e[k], e[k+1] (0 at the ends)."""
    if k <= 0 or k >= len(e) - 1:
        return 0.0
    den = e[k - 1] - 2 * e[k] + e[k + 1]
    if den >= 0:
        return 0.0
    return float(np.clip(0.5 * (e[k - 1] - e[k + 1]) / den, -0.5, 0.5))


def _wrap90(a: np.ndarray) -> np.ndarray:
    """Angles in degrees wrapped to [-45, 45)."""
    return (np.asarray(a, dtype=np.float64) + 45.0) % 90.0 - 45.0


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x)
    x, w = x[order], w[order]
    cw = np.cumsum(w)
    return float(x[int(np.searchsorted(cw, 0.5 * cw[-1]))])


def _grid(n: int, t: int) -> list[int]:
    """Starts of tiles of side ``t`` spread over ``n`` pixels, overlapping by less than half."""
    if n <= t:
        return [0]
    k = int(math.ceil(n / t))
    # tiles that share more than half their pixels would agree as if they were independent
    while k > 1 and (n - t) / (k - 1) < t / 2:
        k -= 1
    if k == 1:
        return [(n - t) // 2]
    return [int(round(v)) for v in np.linspace(0, n - t, k)]


def _fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (fast FFT length)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _check_gray(gray: np.ndarray, name: str) -> np.ndarray:
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) grey array, got shape {gray.shape}")
    if min(gray.shape) < 32:
        raise ValueError(f"{name} must be at least 32 x 32 pixels, got {gray.shape}")
    if gray.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {gray.dtype}")
    return gray


def _check_max_angle(max_angle_deg: float) -> float:
    m = float(max_angle_deg)
    if not 0.0 < m <= 45.0:
        raise ValueError(f"max_angle_deg must be in (0, 45], got {max_angle_deg}")
    return m
