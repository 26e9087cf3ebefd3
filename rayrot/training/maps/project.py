"""Map projections in NumPy (north up) and the view that maps projected units to pixels.

Each projection maps lon/lat degrees to planar x (east) / y (north); :class:`View` then
maps a projected window to image pixels with y flipped, so north is at the top of the image.
Forward formulas only (spherical): plate carree, Mercator, Lambert conformal conic,
Albers equal-area conic, north/south polar stereographic, and orthographic. ``planar``
passes already-projected coordinates (state-plane/UTM sources) through.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

D2R = np.pi / 180.0


def wrap_lon(lon, lon0):
    return (lon - lon0 + 180.0) % 360.0 - 180.0


@dataclass
class Projection:
    kind: str
    lon0: float = 0.0
    lat0: float = 0.0
    lat1: float = 30.0
    lat2: float = 60.0

    def forward(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) for lon/lat degrees; NaN where a point is not shown (far side, pole)."""
        k = self.kind
        if k == "planar":
            return lon.astype(np.float64), lat.astype(np.float64)
        lam = wrap_lon(lon.astype(np.float64), self.lon0) * D2R
        phi = np.clip(lat.astype(np.float64), -89.9, 89.9) * D2R
        if k == "platecarree":
            return lam / D2R, phi / D2R
        if k == "equirect":                      # plate carree with a standard parallel
            return lam * np.cos(self.lat0 * D2R) / D2R, phi / D2R
        if k == "mercator":
            phi = np.clip(phi, -85 * D2R, 85 * D2R)
            return lam, np.log(np.tan(np.pi / 4 + phi / 2))
        if k == "lcc":
            p1, p2, p0 = self.lat1 * D2R, self.lat2 * D2R, self.lat0 * D2R
            n = (np.log(np.cos(p1) / np.cos(p2))
                 / np.log(np.tan(np.pi / 4 + p2 / 2) / np.tan(np.pi / 4 + p1 / 2)))
            F = np.cos(p1) * np.tan(np.pi / 4 + p1 / 2) ** n / n
            phi = np.clip(phi, -80 * D2R, 89 * D2R) if n > 0 else np.clip(phi, -89 * D2R, 80 * D2R)
            rho = F / np.tan(np.pi / 4 + phi / 2) ** n
            rho0 = F / np.tan(np.pi / 4 + p0 / 2) ** n
            return rho * np.sin(n * lam), rho0 - rho * np.cos(n * lam)
        if k == "albers":
            p1, p2, p0 = self.lat1 * D2R, self.lat2 * D2R, self.lat0 * D2R
            n = (np.sin(p1) + np.sin(p2)) / 2
            C = np.cos(p1) ** 2 + 2 * n * np.sin(p1)
            rho = np.sqrt(np.maximum(C - 2 * n * np.sin(phi), 0)) / n
            rho0 = np.sqrt(max(C - 2 * n * np.sin(p0), 0)) / n
            return rho * np.sin(n * lam), rho0 - rho * np.cos(n * lam)
        if k == "stere_n":                       # north polar stereographic, lon0 at bottom
            r = np.tan(np.pi / 4 - phi / 2)
            r = np.where(phi < -10 * D2R, np.nan, r)
            return r * np.sin(lam), -r * np.cos(lam)
        if k == "stere_s":                       # south polar: lon0 at top
            r = np.tan(np.pi / 4 + phi / 2)
            r = np.where(phi > 10 * D2R, np.nan, r)
            return r * np.sin(lam), r * np.cos(lam)
        if k == "ortho":
            p0 = self.lat0 * D2R
            cosc = np.sin(p0) * np.sin(phi) + np.cos(p0) * np.cos(phi) * np.cos(lam)
            x = np.cos(phi) * np.sin(lam)
            y = np.cos(p0) * np.sin(phi) - np.sin(p0) * np.cos(phi) * np.cos(lam)
            far = cosc < 0
            return np.where(far, np.nan, x), np.where(far, np.nan, y)
        raise ValueError(k)


def choose_projection(rng: np.random.Generator, lon0: float, lat0: float,
                      span_deg: float) -> Projection:
    """A plausible projection for a view centred at lon0/lat0 spanning ``span_deg``."""
    a = abs(lat0)
    if a > 62 and span_deg < 70 and rng.random() < 0.8:
        return Projection("stere_n" if lat0 > 0 else "stere_s", lon0, lat0)
    if span_deg > 150:
        return Projection(rng.choice(["platecarree", "mercator", "platecarree"]), lon0, 0)
    if span_deg > 50 and rng.random() < 0.12:
        return Projection("ortho", lon0, lat0)
    r = rng.random()
    if r < 0.3:
        return Projection("platecarree" if span_deg > 25 else "equirect", lon0, lat0)
    if r < 0.5 and a < 70:
        return Projection("mercator", lon0, lat0)
    h = max(span_deg / 4, 2)
    s = 1 if lat0 >= 0 else -1
    l1, l2 = lat0 - h * s, lat0 + h * s
    # standard parallels on the view's side of the equator, clear of the pole
    l1 = s * float(np.clip(l1 * s, 5, 75))
    l2 = s * float(np.clip(l2 * s, abs(l1) + 5, 85))
    if abs(lat0) < 8:
        return Projection("mercator" if rng.random() < 0.5 else "platecarree", lon0, lat0)
    return Projection("lcc" if r < 0.75 else "albers", lon0, lat0, l1, l2)


@dataclass
class View:
    """Projected window -> pixel box ``(px0, py0, px1, py1)``; y is flipped (north up)."""
    x0: float
    y0: float
    x1: float
    y1: float
    px0: float
    py0: float
    px1: float
    py1: float

    @property
    def scale(self) -> float:
        return (self.px1 - self.px0) / (self.x1 - self.x0)

    def to_px(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = self.scale
        px = self.px0 + (x - self.x0) * s
        py = self.py0 + (self.y1 - y) * s
        return np.stack([px, py], -1)

    @staticmethod
    def fit(x0, y0, x1, y1, box) -> "View":
        """Window around the projected bbox that fills ``box`` with the same aspect."""
        bw, bh = box[2] - box[0], box[3] - box[1]
        w, h = x1 - x0, y1 - y0
        if w / max(h, 1e-12) > bw / bh:
            h2 = w * bh / bw
            cy = (y0 + y1) / 2
            y0, y1 = cy - h2 / 2, cy + h2 / 2
        else:
            w2 = h * bw / bh
            cx = (x0 + x1) / 2
            x0, x1 = cx - w2 / 2, cx + w2 / 2
        return View(x0, y0, x1, y1, *box)
