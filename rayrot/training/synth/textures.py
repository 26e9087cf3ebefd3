"""Textures (content with no up) and render_sample, one sample of any kind."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .assets import SynthAssets
from .degrade import _add_noise, _jpeg
from .maps import _fractal, _ramp, render_map
from .pages import render_document
from .scripts import KINDS

__all__ = ["render_sample", "render_texture"]


# Textures: content with no up
# ----------------------------------------------------------------------------------------------


def _tex_noise(rng, W, H):
    n = _fractal(rng, H, W, rng.uniform(2, 30), int(rng.integers(2, 7)), rng.uniform(0.4, 0.8))
    n = (n - n.min()) / max(1e-6, float(n.max() - n.min()))
    lut = _ramp([(0, tuple(int(v) for v in rng.uniform(0, 255, 3))),
                 (rng.uniform(0.3, 0.7), tuple(int(v) for v in rng.uniform(0, 255, 3))),
                 (1, tuple(int(v) for v in rng.uniform(0, 255, 3)))])
    return Image.fromarray(lut[(n * 255).astype(np.uint8)])


def _blobs(rng, n: int, W, H, r_lo, r_hi, ecc_lo, npts: int, wobble: float = 0.0) -> list:
    """``n`` randomly oriented, slightly irregular ellipses as polygon point lists (vectorised)."""
    if n <= 0:
        return []
    cx, cy = rng.uniform(0, W, n), rng.uniform(0, H, n)
    a = rng.uniform(r_lo, r_hi, n)
    b = a * rng.uniform(ecc_lo, 1.0, n)
    th = rng.uniform(0, np.pi, n)
    t = np.linspace(0, 2 * np.pi, npts, endpoint=False)
    r = 1 + (rng.normal(0, wobble, (n, npts)) if wobble else 0)
    x = a[:, None] * np.cos(t)[None] * r
    y = b[:, None] * np.sin(t)[None] * r
    c, s_ = np.cos(th)[:, None], np.sin(th)[:, None]
    px = cx[:, None] + c * x - s_ * y
    py = cy[:, None] + s_ * x + c * y
    pts = np.stack([px, py], axis=2).reshape(n, -1)
    return pts.tolist()


def _tex_cells(rng, W, H, fluor: bool):
    if fluor:
        bg = tuple(int(v) for v in rng.integers(0, 20, 3))
        im = Image.new("RGB", (W, H), bg)
    else:  # H&E-like
        n = _fractal(rng, H, W, rng.uniform(4, 20), 4)
        base = np.array([rng.uniform(215, 245), rng.uniform(150, 200), rng.uniform(190, 225)],
                        np.float32)
        a = base * (1 + n[..., None] * rng.uniform(0.1, 0.3))
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    r0 = max(3.0, rng.uniform(4, 18) * max(W, H) / 800)
    n = min(3000, int(W * H / (r0 * r0) * rng.uniform(0.05, 0.35)))
    if fluor:
        chans = [(60, 90, 255), (60, 255, 90), (255, 70, 60), (255, 255, 80), (255, 60, 255)]
        main = chans[int(rng.integers(len(chans)))]
    else:
        main = (int(rng.uniform(60, 120)), int(rng.uniform(20, 60)), int(rng.uniform(110, 170)))
        # pale cytoplasm / stroma blobs first
        cols = np.stack([rng.uniform(220, 250, n // 3), rng.uniform(140, 190, n // 3),
                         rng.uniform(180, 220, n // 3)], 1).astype(int).tolist()
        for poly, col in zip(_blobs(rng, n // 3, W, H, r0 * 1.5, r0 * 4, 0.4, 16), cols):
            d.polygon(poly, fill=tuple(col))
    ks = rng.uniform(0.5, 1.0, n)
    for poly, k in zip(_blobs(rng, n, W, H, r0 * 0.6, r0 * 1.4, 0.45, 14, 0.06), ks.tolist()):
        d.polygon(poly, fill=(int(main[0] * k), int(main[1] * k), int(main[2] * k)))
    if fluor and rng.random() < 0.6:  # a second channel, sparser
        c2 = (255, 80, 80) if main[2] > 200 else (80, 120, 255)
        for poly in _blobs(rng, n // 4, W, H, r0 * 0.3, r0 * 0.9, 0.5, 12):
            d.polygon(poly, fill=c2)
    im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.5) if fluor else
                                                  rng.uniform(0.3, 1.2))))
    return im


def _tex_foam(rng, W, H):
    bg = tuple(int(v) for v in rng.uniform(20, 230, 3))
    im = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(im)
    edge = tuple(int(min(255, v + rng.uniform(-120, 120))) for v in bg)
    r0 = max(3.0, rng.uniform(5, 40) * max(W, H) / 800)
    for _ in range(min(2500, int(W * H / (r0 * r0) * 0.6))):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        r = r0 * rng.uniform(0.3, 1.5)
        d.ellipse([x - r, y - r, x + r, y + r], outline=edge, width=max(1, int(r / 8)),
                  fill=bg if rng.random() < 0.7 else None)
    return im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.5))))


def _tex_gravel(rng, W, H):
    base = rng.uniform(60, 200, 3)
    im = Image.new("RGB", (W, H), tuple(int(v * 0.6) for v in base))
    d = ImageDraw.Draw(im)
    r0 = max(3.0, rng.uniform(6, 40) * max(W, H) / 800)
    n = min(3000, int(W * H / (r0 * r0) * 0.8))
    cols = np.clip(base[None] * rng.uniform(0.6, 1.3, (n, 1)) + rng.normal(0, 15, (n, 3)), 0,
                   255).astype(int)
    outl = (cols * 0.5).astype(int)
    for poly, c, o in zip(_blobs(rng, n, W, H, r0 * 0.5, r0 * 1.3, 0.5, 7, 0.12),
                          cols.tolist(), outl.tolist()):
        d.polygon(poly, fill=tuple(c), outline=tuple(o))
    return im


def _tex_fabric(rng, W, H):
    p = max(2.5, rng.uniform(3, 16) * max(W, H) / 800)
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    wx = 0.5 + 0.5 * np.cos(2 * np.pi * x / p)
    wy = 0.5 + 0.5 * np.cos(2 * np.pi * y / p)
    checker = ((np.floor(x / p) + np.floor(y / p)) % 2).astype(np.float32)
    v = checker * wx + (1 - checker) * wy  # a plain weave: 4-fold symmetric
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    a = c1 * v[..., None] + c2 * (1 - v[..., None])
    a *= 1 + 0.15 * _fractal(rng, H, W, rng.uniform(5, 40), 3)[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _tex_lines(rng, W, H):
    bg = tuple(int(v) for v in rng.uniform(0, 255, 3))
    im = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(im)
    R = math.hypot(W, H)
    for _ in range(int(rng.integers(20, 400))):
        th = rng.uniform(0, np.pi)
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        L = R * rng.uniform(0.05, 1)
        dx, dy = math.cos(th) * L / 2, math.sin(th) * L / 2
        col = tuple(int(v) for v in rng.uniform(0, 255, 3))
        d.line([(x - dx, y - dy), (x + dx, y + dy)], fill=col, width=int(rng.integers(1, 6)))
    return im


def _tex_speckle(rng, W, H):
    im = Image.new("RGB", (W, H), tuple(int(v) for v in rng.uniform(0, 255, 3)))
    d = ImageDraw.Draw(im)
    r0 = max(1.5, rng.uniform(1, 10) * max(W, H) / 800)
    cols = rng.uniform(0, 255, (4, 3)).astype(int)
    for _ in range(min(4000, int(W * H / (r0 * r0) * 0.2))):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        r = r0 * rng.uniform(0.4, 1.6)
        c = tuple(int(v) for v in cols[int(rng.integers(4))])
        d.ellipse([x - r, y - r, x + r, y + r], fill=c)
    return im


_TEXTURES = {
    "noise": (_tex_noise, 0.2),
    "cells": (lambda rng, W, H: _tex_cells(rng, W, H, False), 0.22),
    "fluor": (lambda rng, W, H: _tex_cells(rng, W, H, True), 0.14),
    "foam": (_tex_foam, 0.1),
    "gravel": (_tex_gravel, 0.1),
    "fabric": (_tex_fabric, 0.08),
    "lines": (_tex_lines, 0.08),
    "speckle": (_tex_speckle, 0.08),
}


def render_texture(rng: np.random.Generator, size_px: tuple[int, int] | None = None
                   ) -> np.ndarray:
    """Render content with no up (noise, cells, foam, gravel, fabric, lines...).

    The result is finally turned by a random multiple of 90 degrees and maybe mirrored,
    so that the distribution of textures is exactly invariant under the four rotations.

    Parameters
    ----------
    rng : numpy Generator
    size_px : (height, width) in pixels, or None for a random square-ish size

    Returns
    -------
    texture : (H, W, 3) uint8 RGB, for a uniform label
    """
    if size_px is None:
        L = int(rng.uniform(400, 900))
        size_px = (L, int(L * rng.uniform(0.7, 1.4)))
    H, W = max(16, int(size_px[0])), max(16, int(size_px[1]))
    names = list(_TEXTURES)
    p = np.array([_TEXTURES[k][1] for k in names])
    name = names[int(rng.choice(len(names), p=p / p.sum()))]
    k = int(rng.integers(4))
    h_, w_ = (W, H) if k % 2 else (H, W)  # render so that the final turn gives (H, W)
    im = _TEXTURES[name][0](rng, w_, h_)
    arr = np.asarray(im)
    if rng.random() < 0.3:
        arr = _add_noise(rng, arr, float(rng.uniform(2, 12)), rng.random() < 0.5)
    if rng.random() < 0.3:
        arr = np.asarray(_jpeg(Image.fromarray(arr), int(rng.integers(40, 92))))
    arr = np.rot90(arr, k)
    if rng.random() < 0.5:
        arr = arr[:, ::-1]
    return np.ascontiguousarray(arr)


def render_sample(rng: np.random.Generator, assets: SynthAssets, kind: str) -> np.ndarray:
    """Render one upright sample of ``kind`` ("document", "map" or "texture")."""
    if kind == "document":
        return render_document(rng, assets)
    if kind == "map":
        return render_map(rng, assets)
    if kind == "texture":
        return render_texture(rng)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
