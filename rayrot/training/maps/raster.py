"""Raster layers in image axes (row 0 = north): fractal terrain, hillshade, classes, crops.

* :func:`fractal` - 1/f noise (FFT) for synthetic elevation and other fields
* :func:`terrain` - elevation inside a land mask, rising away from the coast
* :func:`hillshade` - shading lit from the north-west (azimuth 315, image top-left)
* :func:`classes` - a categorical field (land cover-like) from several smooth noises
* :func:`crop_world` - a plate carree / Mercator window of a whole-world raster
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage


def fractal(rng: np.random.Generator, h: int, w: int, beta: float = 3.0) -> np.ndarray:
    """Zero-mean unit-std 1/f^beta noise of shape (h, w)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    f[0, 0] = 1.0
    spec = (rng.standard_normal((h, w // 2 + 1)) + 1j * rng.standard_normal((h, w // 2 + 1)))
    spec *= f ** (-beta / 2)
    spec[0, 0] = 0
    z = np.fft.irfft2(spec, s=(h, w))
    return (z - z.mean()) / (z.std() + 1e-9)


def terrain(rng: np.random.Generator, land: np.ndarray, rough: float = 1.0) -> np.ndarray:
    """Elevation in [0, 1] on land (mask True) and a negative depth in the sea."""
    h, w = land.shape
    sh, sw = max(h // 4, 16), max(w // 4, 16)
    small_land = np.asarray(Image.fromarray(land.astype(np.uint8) * 255).resize((sw, sh))) > 127
    dist = ndimage.distance_transform_edt(small_land)
    dsea = ndimage.distance_transform_edt(~small_land)
    n = fractal(rng, sh, sw, rng.uniform(2.6, 3.4))
    ridge = 1 - np.abs(fractal(rng, sh, sw, 2.8))
    base = np.clip(dist / (0.25 * max(sh, sw) + 1), 0, 1) ** 0.7
    z = base * (0.6 + 0.4 * n * rough) + 0.35 * ridge * base
    z = np.where(small_land, np.clip(z, 0.01, None), -np.clip(dsea / (0.2 * max(sh, sw)), 0, 1))
    zl = z.max() if z.max() > 0 else 1
    z = np.where(z > 0, z / zl, z)
    big = np.asarray(Image.fromarray(z.astype(np.float32)).resize((w, h), Image.BICUBIC))
    detail = fractal(rng, h, w, 2.2) * 0.03
    return np.where(land, np.clip(big + detail * (big > 0), 0.005, 1), np.minimum(big, -0.01))


def hillshade(z: np.ndarray, exag: float = 6.0, altitude: float = 45.0) -> np.ndarray:
    """Shade in [0, 1]; light from the north-west, i.e. the image's top-left."""
    dzdx = np.gradient(z, axis=1) * exag * z.shape[1] / 100        # east
    dzdn = -np.gradient(z, axis=0) * exag * z.shape[0] / 100       # north (row up)
    alt = np.radians(altitude)
    lx, ly, lz = -np.cos(alt) * np.sqrt(0.5), np.cos(alt) * np.sqrt(0.5), np.sin(alt)
    nrm = np.sqrt(dzdx ** 2 + dzdn ** 2 + 1)
    return np.clip((-dzdx * lx - dzdn * ly + lz) / nrm, 0, 1)


def classes(rng: np.random.Generator, h: int, w: int, k: int, z: np.ndarray | None = None,
            smooth: float = 3.0) -> np.ndarray:
    """Integer class map in [0, k) from the argmax of k smooth noises (plus elevation)."""
    sh, sw = max(h // 3, 8), max(w // 3, 8)
    stack = np.stack([fractal(rng, sh, sw, smooth) for _ in range(k)])
    if z is not None:
        zs = np.asarray(Image.fromarray(z.astype(np.float32)).resize((sw, sh)))
        stack[int(rng.integers(k))] += 2.5 * zs / (np.ptp(zs) + 1e-9) * (np.ptp(z) > 0)
    c = np.argmax(stack, 0).astype(np.uint8)
    return np.asarray(Image.fromarray(c).resize((w, h), Image.NEAREST))


def crop_world(img: np.ndarray, lon0, lat0, lon1, lat1, w, h, mercator=False) -> np.ndarray:
    """(h, w, 3) window of a whole-world plate carree raster (lon -180..180, lat 90..-90)."""
    H, W = img.shape[:2]
    lons = np.linspace(lon0, lon1, w)
    if mercator:
        y0, y1 = [np.log(np.tan(np.pi / 4 + np.radians(np.clip(v, -85, 85)) / 2)) for v in (lat1, lat0)]
        lats = np.degrees(2 * np.arctan(np.exp(np.linspace(y0, y1, h))) - np.pi / 2)
    else:
        lats = np.linspace(lat1, lat0, h)
    cols = (((lons + 180) % 360) / 360 * W).astype(int).clip(0, W - 1)
    rows = ((90 - lats) / 180 * H).astype(int).clip(0, H - 1)
    return img[rows[:, None], cols[None, :]]
