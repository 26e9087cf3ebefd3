"""The image's own border: straight sides of what differs from a one-colour surround."""

from __future__ import annotations

import math

import numpy as np

from .constants import (_BORDER_AGREE_DEG, _BORDER_COARSE_BIN_PX, _BORDER_COARSE_DEG,
                        _BORDER_FINE_BIN_PX, _BORDER_FINE_DEG, _BORDER_FULL_SPAN, _BORDER_LEVEL,
                        _BORDER_LEVEL_MAX, _BORDER_MIN_POINTS, _BORDER_MIN_SPAN,
                        _BORDER_MIN_SUPPORT, _BORDER_RMS_PX, _FILL_TOLERANCE, _RING_UNIFORM)
from .record import SkewEstimate
from .util import _weighted_median, _wrap90

__all__ = []


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
