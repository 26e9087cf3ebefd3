"""Perspective photographs from equirectangular HDR panoramas: read OpenEXR, reproject, tone-map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["read_exr", "perspective", "tonemap"]


def read_exr(path: Path) -> np.ndarray:
    """An RGB float32 (H, W, 3) array from an OpenEXR file (any compression, DWAB included)."""
    import OpenEXR  # PyPI wheel; only needed for this source

    with OpenEXR.File(str(path)) as exr:
        ch = exr.channels()
        if "RGB" in ch:
            rgb = np.asarray(ch["RGB"].pixels, np.float32)
        else:
            rgb = np.stack([np.asarray(ch[k].pixels, np.float32) for k in "RGB"], -1)
    return np.nan_to_num(np.maximum(rgb[..., :3], 0.0), posinf=0.0)


def perspective(pano: np.ndarray, yaw_deg: float, pitch_deg: float, hfov_deg: float,
                 w: int = 512, h: int = 384) -> np.ndarray:
    """Bilinear perspective view of an equirectangular panorama (top row = straight up,
    left column = longitude -180). Camera: x right, y up, z forward; pitch > 0 looks up."""
    ph, pw = pano.shape[:2]
    f = (w / 2) / np.tan(np.radians(hfov_deg) / 2)
    xs = np.arange(w) - (w - 1) / 2
    ys = (h - 1) / 2 - np.arange(h)
    x, y = np.meshgrid(xs, ys)
    z = np.full_like(x, f)
    p, t = np.radians(pitch_deg), np.radians(yaw_deg)
    y, z = y * np.cos(p) + z * np.sin(p), -y * np.sin(p) + z * np.cos(p)  # tilt about x
    x, z = x * np.cos(t) + z * np.sin(t), -x * np.sin(t) + z * np.cos(t)  # turn about y
    lon = np.arctan2(x, z)
    lat = np.arctan2(y, np.hypot(x, z))
    u = (lon / (2 * np.pi) + 0.5) * pw - 0.5
    v = (0.5 - lat / np.pi) * ph - 0.5
    v = np.clip(v, 0, ph - 1)
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    du, dv = (u - u0)[..., None], (v - v0)[..., None]
    u0 %= pw
    u1 = (u0 + 1) % pw  # wraps around the seam
    v1 = np.minimum(v0 + 1, ph - 1)
    top = pano[v0, u0] * (1 - du) + pano[v0, u1] * du
    bot = pano[v1, u0] * (1 - du) + pano[v1, u1] * du
    return top * (1 - dv) + bot * dv


def tonemap(rgb: np.ndarray, key: float = 0.18) -> Image.Image:
    """Reinhard global operator on the log-average luminance, then gamma 2.2."""
    lum = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    l_avg = float(np.exp(np.mean(np.log(lum + 1e-4))))
    scaled = rgb * (key / max(l_avg, 1e-6))
    out = scaled / (1.0 + scaled)
    out = np.clip(out, 0, 1) ** (1 / 2.2)
    return Image.fromarray((out * 255 + 0.5).astype(np.uint8))
