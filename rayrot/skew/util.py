"""Small array helpers of the skew estimator: block means, parabola peak, wrap mod 90, input checks."""

from __future__ import annotations

import math

import numpy as np

__all__ = []


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
