"""Two kinds built from rasters in image axes (row 0 = north):

* ``raster_local``: a GIS-style local raster filling the frame (elevation with a colour
  table, slope, flow, vegetation index, a per-pixel classification), optionally hillshaded
  from the north-west, with streams and roads drawn over it and a colour-table legend.
* ``provinces``: a real country outline cut into flat-coloured provinces (a warped Voronoi
  partition), with black borders on a plain background, as in school atlases and quizzes.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial import cKDTree

from . import draw as D
from . import raster as R
from .scenes import Ctx, cities, set_view
from .style import hsv, political_colours, ramp

_LOCAL = [("elevation", "Elevation (m)", (50, 2500)), ("srtm", "Elevation [m]", (0, 1500)),
          ("slope", "Slope [degrees]", (0, 60)), ("flow", "Flow accumulation", (0, 1500)),
          ("ndvi", "NDVI", (-0.2, 0.9)), ("classes", "Classes", None),
          ("aspect", "Aspect", (0, 360)), ("depth", "Depth (m)", (0, 40))]


def _local_dem(rng, h, w):
    """Terrain-like height in [0, 1] with carved valleys, and the valley lines (streams)."""
    z = R.fractal(rng, h, w, rng.uniform(3.0, 3.7))
    z += 0.35 * (1 - np.abs(R.fractal(rng, h, w, 3.0)))
    ch = R.fractal(rng, h, w, rng.uniform(2.8, 3.4))
    width = rng.uniform(0.08, 0.25)
    z -= rng.uniform(0.3, 0.9) * np.exp(-np.abs(ch) / width)
    z = ndimage.gaussian_filter(z, rng.uniform(0.6, 2.0))
    z = (z - z.min()) / (np.ptp(z) + 1e-9)
    pos = ndimage.gaussian_filter(ch, 1.0) > rng.uniform(-0.3, 0.3)
    streams = np.zeros_like(pos)
    streams[:, 1:] |= pos[:, 1:] != pos[:, :-1]
    streams[1:, :] |= pos[1:, :] != pos[:-1, :]
    return z, streams


def _norm(v):
    lo, hi = np.percentile(v, [2, 98])
    return np.clip((v - lo) / (hi - lo + 1e-9), 0, 1)


def _roads(d, rng, box, colour, width, n):
    x0, y0, x1, y1 = box
    for _ in range(n):
        p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        a = rng.uniform(0, 2 * np.pi)
        pts = [tuple(p)]
        for _ in range(int(rng.integers(20, 80))):
            a += rng.normal(0, 0.15)
            p = p + 12 * np.array([np.cos(a), np.sin(a)])
            pts.append(tuple(p))
        d.line(pts, fill=colour, width=width, joint="curve")


def raster_local(ctx: Ctx, rng):
    look = ctx.look
    x0, y0, x1, y1 = [int(v) for v in ctx.box]
    w, h = x1 - x0, y1 - y0
    kind, label, rngv = _LOCAL[int(rng.integers(len(_LOCAL)))]
    z, streams = _local_dem(rng, h, w)
    entries = None
    if kind in ("elevation", "srtm"):
        tname = kind if rng.random() < 0.6 else str(rng.choice(["terrain", "classic", "grey", "sepia", "rainbow"]))
        v = z
    elif kind == "slope":
        gy, gx = np.gradient(z)
        v = _norm(np.hypot(gx, gy))
        tname = str(rng.choice(["YlOrRd", "sepia", "rainbow", "viridis", "grey"]))
    elif kind == "flow":
        gy, gx = np.gradient(z)
        v = _norm(np.log1p(20 * ndimage.gaussian_filter(streams.astype(float), rng.uniform(0.7, 2.5))) + 0.1 * (1 - z))
        tname = str(rng.choice(["bcyr", "rainbow", "Blues", "magma"]))
    elif kind == "ndvi":
        v = _norm(R.fractal(rng, h, w, rng.uniform(1.6, 2.8)) + rng.uniform(0, 2) * (1 - z))
        tname = str(rng.choice(["ndvi", "Greens", "BrBG", "Spectral"]))
    elif kind == "aspect":
        gy, gx = np.gradient(ndimage.gaussian_filter(z, 2))
        v = (np.degrees(np.arctan2(-gx, gy)) % 360) / 360
        tname = str(rng.choice(["grey", "rainbow"]))
    elif kind == "depth":
        v = 1 - z
        tname = str(rng.choice(["Blues", "viridis", "bcyr"]))
    else:
        k = int(rng.integers(4, 11))
        cls = R.classes(rng, h, w, k, z * rng.uniform(0, 0.8), rng.uniform(1.4, 2.8))
        pal = np.array(political_colours(rng, k) if rng.random() < 0.4 else
                       [hsv(i / k + rng.uniform(0, .05), rng.uniform(.6, 1), rng.uniform(.7, 1))
                        for i in range(k)], np.uint8)
        col = pal[cls]
        names = [f"{i + 1}) Class {i + 1}" if rng.random() < 0.5 else f"Class {i + 1}" for i in range(k)]
        entries = [(tuple(int(c) for c in pal[i]), names[i]) for i in range(k)]
    if entries is None:
        col = ramp(tname, v)
    if kind in ("elevation", "srtm", "depth") and rng.random() < 0.6:
        hs = R.hillshade(z, rng.uniform(4, 12))
        s = rng.uniform(0.3, 0.6)
        col = np.clip(col * ((1 - s) + s * 1.3 * hs[..., None]), 0, 255).astype(np.uint8)
    img = Image.fromarray(col.astype(np.uint8))
    ctx.img.paste(img, (x0, y0))
    d = ctx.d
    if rng.random() < 0.5 and kind != "flow":
        sc = np.array(hsv(0.6, 0.8, 0.8) if rng.random() < 0.7 else look.ink, np.uint8)
        m = streams if rng.random() < 0.5 else ndimage.binary_dilation(streams)
        a = np.asarray(ctx.img)[y0:y1, x0:x1].copy()
        a[m] = sc
        ctx.img.paste(Image.fromarray(a), (x0, y0))
    if rng.random() < 0.45:
        _roads(d, rng, ctx.box, tuple(int(c) for c in rng.choice([[70, 130, 200], [200, 30, 30], [40, 40, 40], [255, 255, 255]])),
               int(rng.integers(1, 4)), int(rng.integers(1, 6)))
    if rng.random() < 0.2:                              # sample points
        for _ in range(int(rng.integers(5, 40))):
            px, py = rng.uniform(x0, x1), rng.uniform(y0, y1)
            r = rng.uniform(2, 4)
            d.ellipse((px - r, py - r, px + r, py + r), fill=look.ink)
    if entries is not None:
        leg = ("classes", entries, None if rng.random() < 0.6 else "Legend")
    else:
        lo, hi = rngv
        n = int(rng.integers(3, 7))
        ticks = [(i / (n - 1), f"{lo + (hi - lo) * i / (n - 1):.{1 if hi - lo < 5 else 0}f}")
                 for i in range(n)]
        leg = ("bar", ramp(tname, np.linspace(0, 1, 256)), ticks, label)
    title = str(rng.choice([label.split(" [")[0].split(" (")[0], "Study area", "Watershed",
                            "Terrain and roads", "Digital elevation model", ""]))
    return {"title": title or None, "legend": leg, "kpp": rng.choice([0.005, 0.01, 0.02, 0.05]) *
            1000 / max(w, h)}


def provinces(ctx: Ctx, rng):
    """One real country, cut into flat-coloured provinces with dark borders."""
    A, look = ctx.assets, ctx.look
    C = A.layers["countries"]
    big = [i for i in range(len(C)) if C.attrs["area_km2"][i] > 5e3]
    k = big[int(rng.integers(len(big)))]
    bb = A.mainbox["countries"][k]
    set_view(ctx, rng, bb, pad=rng.uniform(0.02, 0.12))
    plain = rng.random() < 0.65
    if plain:
        bg = (255, 255, 255) if rng.random() < 0.6 else look.paper
        ctx.d.rectangle(ctx.box, fill=bg)
    else:
        ctx.d.rectangle(ctx.box, fill=look.sea)
        cidx = D.visible(C, A.bbox["countries"], ctx.win)
        for ps in D.project_parts(C, cidx, ctx.proj, ctx.view, True):
            D.polys(ctx.d, ps, fill=look.land, outline=look.border)
    W, H = ctx.img.size
    f = 2                                               # work at half resolution
    m = Image.new("L", (W // f + 1, H // f + 1), 0)
    md = ImageDraw.Draw(m)
    parts = D.project_parts(C, [k], ctx.proj, ctx.view, True)[0]
    D.polys(md, [p / f for p in parts], fill=255)
    mask = np.asarray(m) > 127
    ys, xs = np.nonzero(mask)
    if len(ys) < 50:
        return {"title": C.names[k], "legend": None}
    n = int(min(rng.integers(3, 40), len(ys) // 20 + 2))
    pick = rng.choice(len(ys), n, replace=False)
    seeds = np.stack([xs[pick], ys[pick]], 1).astype(float)
    hh, ww = mask.shape
    amp = rng.uniform(0, 0.05) * max(hh, ww)
    wx = R.fractal(rng, hh, ww, rng.uniform(3.8, 4.5)) * amp
    wy = R.fractal(rng, hh, ww, rng.uniform(3.8, 4.5)) * amp
    q = np.stack([xs + wx[ys, xs], ys + wy[ys, xs]], 1)
    lab = np.full(mask.shape, -1, np.int32)
    lab[ys, xs] = cKDTree(seeds).query(q)[1]
    cols = np.array(political_colours(rng, n) if rng.random() < 0.5 else
                    [hsv(rng.random(), rng.uniform(0.45, 0.9), rng.uniform(0.55, 0.95)) for _ in range(n)],
                    np.uint8)
    big_lab = np.kron(lab, np.ones((f, f), np.int32))[:H, :W]
    inside = big_lab >= 0
    a = np.asarray(ctx.img).copy()
    a[inside] = cols[big_lab[inside]]
    edge = np.zeros_like(inside)
    edge[:, 1:] |= big_lab[:, 1:] != big_lab[:, :-1]
    edge[1:, :] |= big_lab[1:, :] != big_lab[:-1, :]
    edge &= ndimage.binary_erosion(inside, iterations=1) | ~inside
    edge &= inside | np.roll(inside, 1, 0) | np.roll(inside, 1, 1)
    ink = np.array(look.ink if rng.random() < 0.7 else (255, 255, 255), np.uint8)
    if rng.random() < 0.5:
        edge = ndimage.binary_dilation(edge)
    a[edge & inside] = ink
    ctx.img.paste(Image.fromarray(a))
    D.polys(ctx.d, parts, outline=tuple(int(c) for c in look.ink), width=int(rng.integers(1, 3)))
    if rng.random() < 0.3:
        cities(ctx, rng, 10)
    return {"title": C.names[k] if rng.random() < 0.5 else None, "legend": None}
