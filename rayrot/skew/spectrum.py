"""Per-tile stages: ink map, direction histogram of the power spectrum, sheared projection profiles."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from .constants import (_BINS_PER_PX, _COARSE_BIN_DEG, _COARSE_R_MIN, _COARSE_SMOOTH_DEG,
                        _EDGE_POWER, _FINER_HALF_DEG, _FINER_STEP_DEG, _FINE_HALF_DEG,
                        _FINE_STEP_DEG, _FINE_WALKS, _INK_LEVEL, _LOCAL_PX, _MIN_INK_SHARE,
                        _PROFILE_F_MAX, _SHARP_FULL, _STRIP_PX, _TAPER_FROM, _WINDOW_FLAT)
from .record import SkewEstimate, _NONE
from .util import _fast_len, _half, _parabola, _wrap90

__all__ = []




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
