"""Degradations of a rendered page: scan noise, blur, skew, shadows, JPEG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

__all__ = []


# Degradations
# ----------------------------------------------------------------------------------------------


def _noise_field(rng, h: int, w: int, sigma: float, channels: int = 1) -> np.ndarray:
    """Gaussian-ish noise (h, w, channels) int16, from a small tile rolled and repeated."""
    t = 96
    tile = np.round(rng.standard_normal((t, t, channels), dtype=np.float32) * sigma).astype(
        np.int16)
    reps = (h // t + 2, w // t + 2, 1)
    big = np.tile(tile, reps)
    oy, ox = int(rng.integers(t)), int(rng.integers(t))
    return big[oy:oy + h, ox:ox + w]


def _add_noise(rng, a: np.ndarray, sigma: float, colour: bool) -> np.ndarray:
    """Add zero-mean noise with saturation, done by PIL in C (two uint8 planes)."""
    t = 96
    n = np.round(rng.standard_normal((t, t, 3 if colour else 1), dtype=np.float32) * sigma)
    n = np.clip(n, -255, 255)
    if not colour:
        n = np.repeat(n, 3, axis=2)
    h, w = a.shape[:2]
    oy, ox = int(rng.integers(t)), int(rng.integers(t))
    reps = (h // t + 2, w // t + 2, 1)
    pos = np.tile(np.maximum(n, 0).astype(np.uint8), reps)[oy:oy + h, ox:ox + w]
    neg = np.tile(np.maximum(-n, 0).astype(np.uint8), reps)[oy:oy + h, ox:ox + w]

    im = Image.fromarray(np.ascontiguousarray(a))
    im = ImageChops.add(im, Image.fromarray(np.ascontiguousarray(pos)))
    im = ImageChops.subtract(im, Image.fromarray(np.ascontiguousarray(neg)))
    return np.asarray(im)


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _soften(rng, im: Image.Image) -> Image.Image:
    """Blur: a cheap 3x3 kernel for slight softening, a Gaussian for stronger blur."""
    if rng.random() < 0.7:
        c = float(rng.uniform(1.0, 8.0))  # centre weight; smaller = blurrier
        return im.filter(ImageFilter.Kernel((3, 3), [1, 2, 1, 2, 4 * c, 2, 1, 2, 1]))
    return im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.6, 1.6))))


def _shading(rng, W: int, H: int) -> Image.Image:
    """A smooth multiplicative illumination field (RGB, 255 = unchanged), built small."""
    s = 32
    yy = np.linspace(-1, 1, s, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, s, dtype=np.float32)[None, :]
    if rng.random() < 0.6:  # a linear gradient in a random direction
        th = rng.uniform(0, 2 * np.pi)
        g = 1 - rng.uniform(0.05, 0.3) * (0.5 + 0.5 * (np.cos(th) * xx + np.sin(th) * yy))
    else:  # vignetting around a random centre
        cx, cy = rng.uniform(-0.5, 0.5, 2)
        g = 1 - rng.uniform(0.05, 0.3) * ((xx - cx) ** 2 + (yy - cy) ** 2) / 2
    g = Image.fromarray(np.clip(g * 255, 0, 255).astype(np.uint8), "L")
    return g.resize((W, H), Image.BILINEAR).convert("RGB")


def _degrade_document(rng, im: Image.Image, paper) -> np.ndarray:
    """Print/scan degradations, all orientation-neutral except the (upright) skew."""

    W, H = im.size
    # bleed-through: the page's own content mirrored left-right, faint and blurred
    if rng.random() < 0.08:
        back = np.asarray(im)[:, ::-1]
        back = np.roll(back, int(rng.integers(-H // 20, H // 20 + 1)), axis=0)
        back = Image.fromarray(np.ascontiguousarray(back)).filter(ImageFilter.BoxBlur(1))
        back = Image.blend(Image.new("RGB", im.size, paper), back, float(rng.uniform(0.1, 0.3)))
        im = ImageChops.darker(im, back)
    # small skew of the whole page (still label 0)
    if rng.random() < 0.3:
        ang = rng.uniform(-3, 3) if rng.random() < 0.5 else rng.uniform(-15, 15)
        border = rng.random()
        fill = paper if border < 0.6 else tuple(int(v) for v in rng.integers(0, 80, 3)) \
            if border < 0.85 else (255, 255, 255)
        if rng.random() < 0.5:  # the page sits inside a larger scan: shrink a bit first
            s = rng.uniform(0.8, 0.95)
            small = im.resize((int(W * s), int(H * s)), Image.BILINEAR)
            im = Image.new("RGB", (W, H), fill)
            im.paste(small, ((W - small.size[0]) // 2 + int(rng.integers(-5, 6)),
                             (H - small.size[1]) // 2 + int(rng.integers(-5, 6))))
        im = im.rotate(float(ang), resample=Image.BILINEAR, fillcolor=fill)
    if rng.random() < 0.25:  # scanner shading / uneven illumination
        im = ImageChops.multiply(im, _shading(rng, W, H))
    if rng.random() < 0.12:  # dark scan borders on some edges
        d = ImageDraw.Draw(im)
        for edge in range(4):
            if rng.random() < 0.5:
                continue
            n = int(rng.uniform(0.01, 0.06) * (W if edge % 2 else H))
            v = int(rng.uniform(0, 90))
            box = ([0, 0, W, n], [W - n, 0, W, H], [0, H - n, W, H], [0, 0, n, H])[edge]
            d.rectangle(box, fill=(v, v, v))
    if rng.random() < 0.15:  # low contrast: lift the ink towards white
        im = Image.blend(im, Image.new("RGB", im.size, (255, 255, 255)),
                         float(rng.uniform(0.2, 0.55)))
    if rng.random() < 0.3:
        im = _soften(rng, im)
    if rng.random() < 0.15:
        im = im.convert("L").convert("RGB")
    arr = np.asarray(im)
    if rng.random() < 0.07:  # binarised, fax-like
        g = np.asarray(im.convert("L")).astype(np.int16)
        if rng.random() < 0.5:
            g = g + _noise_field(rng, H, W, rng.uniform(10, 40))[..., 0]
        b = np.where(g > rng.uniform(120, 190), 255, 0).astype(np.uint8)
        arr = np.repeat(b[..., None], 3, axis=2)
    elif rng.random() < 0.35:
        arr = _add_noise(rng, arr, float(rng.uniform(2, 14)), rng.random() < 0.3)
    if rng.random() < 0.35:
        arr = np.asarray(_jpeg(Image.fromarray(arr), int(rng.integers(25, 92))))
    return np.ascontiguousarray(arr)
