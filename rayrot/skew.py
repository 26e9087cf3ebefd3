"""Fine skew of content with line structure: text lines, table rules, map labels, scan borders.

Plain functions over NumPy arrays (NumPy and ``scipy.ndimage``; no pyvips, Ray or torch), so the
pipeline can call them on tiles it has already read and the tests run in milliseconds.

How one tile is measured (:func:`estimate_tile_skew`)::

    grey tile  ->  ink map: detail darker or lighter than its neighbourhood (local mean)
               ->  coarse angle: power spectrum of the ink map binned by direction, folded mod 90
                   degrees (text lines and the strokes across them, table rules both ways, agree)
               ->  fine angle: ink pixels splatted into strips along the coarse direction; the
                   strips' profiles are sheared against each other in the Fourier domain and the
                   projection-profile energy is maximised (0.1 deg, then 0.01 deg steps, then a
                   parabola through the peak)
               ->  confidence: how much sharper the profile is at the peak than 1.5 deg away, and
                   how far the spectrum's direction peak stands out (0 for photos and tissue)

How an image is measured (:func:`combine_tile_skews`, :func:`estimate_skew`): the tile angles
vote (the angle with the most confident tiles within a quarter degree, mod 90), the tiles near the
winner give a weighted median, and the weighted mean of those within a small tolerance of the
median is the answer. Frames, barcodes and photos on a page are outvoted rather than averaged in.

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
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from .config import SkewConfig

__all__ = [
    "SkewEstimate",
    "estimate_tile_skew",
    "combine_tile_skews",
    "estimate_skew",
    "skew_tiles_from_array",
    "estimate_skew_array",
]

log = logging.getLogger(__name__)

# --- algorithm constants (not user knobs; the knobs are in configs/default.yaml, section skew)
_LOCAL_PX = 31  # side of the local-mean window of the ink map, in tile pixels
_INK_LEVEL = 8.0  # grey levels a pixel must differ from its neighbourhood to count as ink
_MIN_INK_SHARE = 0.002  # a tile with less ink than this share of its area has no structure
_COARSE_BIN_DEG = 0.1  # direction bins of the spectrum histogram
_COARSE_SMOOTH_DEG = 0.3  # Gaussian smoothing of that histogram (sigma)
_COARSE_R_MIN = 16  # spectrum radii used, in frequency bins of the (reduced) tile
_FINE_HALF_DEG = 1.5  # fine search: coarse +- this ...
_FINE_STEP_DEG = 0.1  # ... in these steps
_FINER_HALF_DEG = 0.12  # finest search: fine +- this ...
_FINER_STEP_DEG = 0.01  # ... in these steps
_STRIP_PX = 32  # strip width of the sheared projection profiles, in tile pixels
_AGREE_DEG = 0.25  # tiles within this of each other vote together
_INLIER_DEG = 0.5  # tiles further than this from the vote's winner are outliers
_MEAN_DEG = 0.15  # tiles within this of the weighted median enter the final weighted mean


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
    """

    angle_deg: float
    confidence: float
    n_tiles: int
    spread_deg: float = 0.0


_NONE = SkewEstimate(0.0, 0.0, 0, 0.0)


# ----------------------------------------------------------------------------- public API


def estimate_tile_skew(gray: np.ndarray, max_angle_deg: float) -> SkewEstimate:
    """Measure the skew of one grey tile.

    Parameters
    ----------
    gray : (H, W) uint8 ndarray
        Grey levels, 0 = black; any size from 32 x 32 (512 x 512 at about 2000 px a page is the
        sweet spot).
    max_angle_deg : float
        Search ``[-max_angle_deg, max_angle_deg]``, in (0, 45].

    Returns
    -------
    estimate : SkewEstimate
        ``n_tiles`` is 1 when the tile has line structure, else 0 with ``angle_deg`` 0.0.
    """
    gray = _check_gray(gray, "gray")
    max_angle = _check_max_angle(max_angle_deg)
    ink = _ink_map(gray)
    if np.count_nonzero(ink) < _MIN_INK_SHARE * ink.size:
        return _NONE
    coarse, peak_ratio = _coarse_angle(ink, max_angle)
    angle, sharpness = _refine_angle(ink, coarse, max_angle)
    confidence = _confidence(peak_ratio, sharpness)
    if confidence <= 0.0:
        return _NONE
    return SkewEstimate(float(angle), float(confidence), 1, 0.0)


def combine_tile_skews(estimates: list[SkewEstimate], weights: np.ndarray | None = None) -> SkewEstimate:
    """Combine per-tile skews into one, robust to outlier tiles.

    A vote picks the angle (mod 90 degrees) backed by the most weight times confidence within
    a quarter degree; tiles more than half a degree from it are outliers (frames at another angle,
    barcodes, photos). The answer is the weighted mean of the tiles within 0.15 deg of the weighted
    median of the rest.

    Parameters
    ----------
    estimates : list of SkewEstimate
        One per tile (from :func:`estimate_tile_skew`).
    weights : (N,) float ndarray, optional
        Non-negative weight per tile (e.g. its content share or center weight); default all 1.
        A tile's vote is its weight times its confidence.

    Returns
    -------
    estimate : SkewEstimate
        ``confidence`` = (share of the confident weight that agrees) x (mean confidence of the
        agreeing tiles); ``n_tiles`` = agreeing tiles; 0.0 / 0.0 / 0 when no tile has structure.
    """
    n = len(estimates)
    if weights is None:
        weights = np.ones(n)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if weights.shape[0] != n:
        raise ValueError(f"weights: expected {n} values (one per estimate), got {weights.shape[0]}")
    if n and (not np.all(np.isfinite(weights)) or weights.min() < 0):
        raise ValueError(f"weights must be finite and >= 0, got {weights}")
    if n == 0:
        return _NONE
    ang = np.array([e.angle_deg for e in estimates], dtype=np.float64)
    conf = np.array([e.confidence for e in estimates], dtype=np.float64)
    vote = weights * conf
    total = vote.sum()
    if total <= 0:
        return _NONE
    # vote: each tile's support is the vote within _AGREE_DEG of it (mod 90 degrees)
    diff = _wrap90(ang[:, None] - ang[None, :])
    support = (np.exp(-0.5 * (diff / _AGREE_DEG) ** 2) * vote[None, :]).sum(axis=1)
    support[vote <= 0] = -1.0
    ref = ang[int(np.argmax(support))]
    d = _wrap90(ang - ref)
    near = (np.abs(d) <= _INLIER_DEG) & (vote > 0)
    med = _weighted_median(d[near], vote[near])
    close = near & (np.abs(d - med) <= _MEAN_DEG)
    wc = vote[close] * conf[close]  # confident tiles count more in the mean
    offset = float(np.sum(wc * d[close]) / np.sum(wc))
    angle = float(_wrap90(np.array(ref + offset)))
    agree = vote[close].sum() / total
    mean_conf = float(np.sum(vote[close] * conf[close]) / vote[close].sum())
    spread = float(np.sum(vote[close] * np.abs(d[close] - offset)) / vote[close].sum())
    return SkewEstimate(angle, float(agree * mean_conf), int(close.sum()), spread)


def estimate_skew(gray_tiles: list[np.ndarray], weights: np.ndarray | None, cfg: SkewConfig) -> SkewEstimate:
    """Measure the skew of an image from grey tiles at one scale.

    Parameters
    ----------
    gray_tiles : list of (H, W) uint8 ndarray
        Content tiles of the image, spread out over it, all at the same scale (long side of the
        image about ``cfg.target_long_px``); at most ``cfg.max_tiles`` are measured (an even
        sample of the list when it is longer).
    weights : (N,) float ndarray or None
        Weight per tile (content share, center weight); None = all 1.
    cfg : SkewConfig
        ``enabled``, ``max_angle_deg``, ``min_confidence``, ``max_tiles`` are used here.

    Returns
    -------
    estimate : SkewEstimate
        ``angle_deg`` is 0.0 when skew is disabled, no tile has line structure, or the combined
        confidence is below ``cfg.min_confidence`` (the confidence is still reported).
    """
    n = len(gray_tiles)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"weights: expected {n} values (one per tile), got {w.shape[0]}")
    if not cfg.enabled or n == 0:
        return _NONE
    idx = np.arange(n)
    if n > cfg.max_tiles:
        idx = np.unique(np.linspace(0, n - 1, cfg.max_tiles).round().astype(int))
    ests = [estimate_tile_skew(gray_tiles[i], cfg.max_angle_deg) for i in idx]
    out = combine_tile_skews(ests, w[idx])
    if out.confidence < cfg.min_confidence:
        return SkewEstimate(0.0, out.confidence, out.n_tiles, out.spread_deg)
    return out


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
    gray = _check_gray(gray, "gray")
    f = max(1, int(max(gray.shape) // cfg.target_long_px))
    if f > 1:
        h, w = (gray.shape[0] // f) * f, (gray.shape[1] // f) * f
        gray = gray[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3)).astype(np.uint8)
    t = cfg.tile_px
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
    if len(tiles) > cfg.max_tiles:
        keep = np.unique(np.linspace(0, len(tiles) - 1, cfg.max_tiles).round().astype(int))
        tiles = [tiles[i] for i in keep]
        shares = [shares[i] for i in keep]
    return tiles, np.asarray(shares, dtype=np.float64)


def estimate_skew_array(gray: np.ndarray, cfg: SkewConfig) -> SkewEstimate:
    """:func:`estimate_skew` on the tiles :func:`skew_tiles_from_array` cuts from ``gray``."""
    tiles, weights = skew_tiles_from_array(gray, cfg)
    return estimate_skew(tiles, np.sqrt(weights) if len(weights) else None, cfg)


# ----------------------------------------------------------------------------- per-tile stages


def _ink_map(gray: np.ndarray) -> np.ndarray:
    """(H, W) float32 >= 0: how much each pixel is darker or lighter than its neighbourhood."""
    g = gray.astype(np.float32)
    mean = ndimage.uniform_filter(g, size=min(_LOCAL_PX, 2 * (min(g.shape) // 4) + 1), mode="nearest")
    ink = np.abs(mean - g)
    ink -= _INK_LEVEL
    np.maximum(ink, 0.0, out=ink)
    return ink


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
    mask = (r >= _COARSE_R_MIN) & (np.maximum(np.abs(fyn), np.abs(fxn)) < 0.45)
    return idx[mask], mask


@lru_cache(maxsize=16)
def _direction_counts(h: int, w: int) -> np.ndarray:
    idx, _ = _direction_bins(h, w)
    nbins = int(round(90.0 / _COARSE_BIN_DEG))
    counts = np.bincount(idx, minlength=nbins).astype(np.float64)
    return np.maximum(ndimage.gaussian_filter1d(counts, _COARSE_SMOOTH_DEG / _COARSE_BIN_DEG, mode="wrap"), 1e-9)


@lru_cache(maxsize=16)
def _round_window(h: int, w: int) -> np.ndarray:
    """Isotropic Hann window (a separable one would favour the axes in the spectrum)."""
    y = (np.arange(h) - (h - 1) / 2.0)[:, None] / (h / 2.0)
    x = (np.arange(w) - (w - 1) / 2.0)[None, :] / (w / 2.0)
    r = np.minimum(np.hypot(x, y), 1.0)
    return (0.5 + 0.5 * np.cos(np.pi * r)).astype(np.float32)


def _coarse_angle(ink: np.ndarray, max_angle: float) -> tuple[float, float]:
    """Direction of the strongest line structure from the power spectrum; and its peak ratio."""
    small = ink
    if min(ink.shape) >= 256:
        h, w = (ink.shape[0] // 2) * 2, (ink.shape[1] // 2) * 2
        small = ink[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    win = _round_window(*small.shape)
    small = (small - np.sum(small * win) / np.sum(win)) * win
    power = np.abs(np.fft.rfft2(small)) ** 2
    idx, mask = _direction_bins(*small.shape)
    nbins = int(round(90.0 / _COARSE_BIN_DEG))
    # mean power per direction (axis directions hold many more frequency samples than others)
    sigma = _COARSE_SMOOTH_DEG / _COARSE_BIN_DEG
    hist = ndimage.gaussian_filter1d(np.bincount(idx, weights=power[mask], minlength=nbins), sigma, mode="wrap")
    hist /= _direction_counts(*small.shape)
    centers = -45.0 + (np.arange(nbins) + 0.5) * _COARSE_BIN_DEG
    allowed = np.abs(centers) <= max_angle + 1e-9
    k = int(np.argmax(np.where(allowed, hist, -np.inf)))
    # parabola through the peak bin and its neighbours (circular)
    y0, y1, y2 = hist[(k - 1) % nbins], hist[k], hist[(k + 1) % nbins]
    den = y0 - 2 * y1 + y2
    frac = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    angle = centers[k] + frac * _COARSE_BIN_DEG
    ratio = float(y1 / max(np.median(hist), 1e-12))
    return float(_wrap90(np.array(angle))), ratio


def _strip_spectra(a: np.ndarray, b: np.ndarray, w: np.ndarray, pad: int):
    """Profiles along ``b`` of strips of ``_STRIP_PX`` along ``a`` (linear splatting), as rfft rows.

    Returns the spectra (S, F) complex, the strip centers (S,) in pixels along ``a`` and the
    frequencies (F,) in cycles per pixel.
    """
    a0 = a.min()
    s = ((a - a0) // _STRIP_PX).astype(np.int64)
    n_strips = int(s.max()) + 1
    centers = a0 + (np.arange(n_strips) + 0.5) * _STRIP_PX
    b = b - b.min() + pad
    length = int(np.ceil(b.max())) + pad + 2
    length = _fast_len(length)
    b0 = np.floor(b)
    frac = b - b0
    i0 = s * length + b0.astype(np.int64)
    prof = np.bincount(i0, weights=w * (1.0 - frac), minlength=n_strips * length)
    prof += np.bincount(i0 + 1, weights=w * frac, minlength=n_strips * length + 1)[: n_strips * length]
    prof = prof.reshape(n_strips, length)
    prof -= prof.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(prof, axis=1).astype(np.complex64)
    freqs = np.fft.rfftfreq(length).astype(np.float32)
    return spec, centers.astype(np.float32), freqs


def _profile_energy(spec, centers, freqs, tans: np.ndarray, sign: float) -> np.ndarray:
    """Energy of the summed profile when strip s is shifted by ``sign * centers[s] * tan``."""
    phase = (-2j * np.pi * sign) * (tans[:, None, None].astype(np.float32) * centers[None, :, None]) \
        * freqs[None, None, :]
    comb = np.einsum("sf,ksf->kf", spec, np.exp(phase.astype(np.complex64)))
    return (np.abs(comb[:, 1:]) ** 2).sum(axis=1)


def _refine_angle(ink: np.ndarray, coarse: float, max_angle: float) -> tuple[float, float]:
    """Maximise projection-profile energy near ``coarse``; returns the angle and the sharpness."""
    ys, xs = np.nonzero(ink)
    w = ink[ys, xs].astype(np.float64)
    x = xs - (ink.shape[1] - 1) / 2.0
    y = ys - (ink.shape[0] - 1) / 2.0
    c = math.radians(coarse)
    u = x * math.cos(c) - y * math.sin(c)  # along the lines
    v = x * math.sin(c) + y * math.cos(c)  # across the lines
    pad = int(np.ceil(max(ink.shape) * 0.75 * math.tan(math.radians(_FINE_HALF_DEG + _FINER_HALF_DEG)))) + 2
    rows = _strip_spectra(u, v, w, pad)  # lines along u: profile across them
    cols = _strip_spectra(v, u, w, pad)  # strokes / rules along v

    def energy(deltas_deg: np.ndarray) -> np.ndarray:
        t = np.tan(np.radians(deltas_deg))
        # residual skew d: a line obeys v = v0 - u tan d (strip at u shifted by +u tan d) and a
        # cross stroke u = u0 + v tan d (strip at v shifted by -v tan d)
        return _profile_energy(*rows, t, +1.0) + _profile_energy(*cols, t, -1.0)

    grid = np.arange(-_FINE_HALF_DEG, _FINE_HALF_DEG + 1e-9, _FINE_STEP_DEG)
    e1 = energy(grid)
    k = int(np.argmax(e1))
    best = grid[k] + _parabola(e1, k) * _FINE_STEP_DEG
    sharp = float(1.0 - e1.min() / max(e1[k], 1e-12))
    fine = best + np.arange(-_FINER_HALF_DEG, _FINER_HALF_DEG + 1e-9, _FINER_STEP_DEG)
    e2 = energy(fine)
    k2 = int(np.argmax(e2))
    delta = fine[k2] + _parabola(e2, k2) * _FINER_STEP_DEG
    angle = float(_wrap90(np.array(coarse + delta)))
    if max_angle < 45.0:
        angle = float(np.clip(angle, -max_angle, max_angle))
    return angle, sharp


def _confidence(peak_ratio: float, sharpness: float) -> float:
    """0..1 from the spectrum's direction peak ratio and the profile's sharpness gain."""
    a = np.clip((sharpness - 0.05) / 0.25, 0.0, 1.0)
    b = np.clip((math.log(max(peak_ratio, 1e-9)) - 0.4) / 1.2, 0.0, 1.0)
    return float(math.sqrt(a * b))


# ----------------------------------------------------------------------------- helpers


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
    if n <= t:
        return [0]
    k = int(math.ceil(n / t))
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
