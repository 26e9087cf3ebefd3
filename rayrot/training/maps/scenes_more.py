"""More map kinds: real shaded-relief crops, categorical/continuous raster maps with a
colour legend, coastline-and-river line maps, and OpenStreetMap street maps with names.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from . import draw as D
from . import raster as R
from .project import Projection
from .scenes import (Ctx, _land_mask, _target_view_only, cities, fill_layer, sea, set_view,
                     stroke_layer)
from .style import font, hsv, political_colours, ramp

_COVER = [("Forest", (34, 110, 50)), ("Cropland", (240, 220, 120)), ("Grassland", (170, 210, 110)),
          ("Shrubland", (190, 170, 100)), ("Urban", (200, 60, 50)), ("Water", (70, 130, 200)),
          ("Wetland", (110, 180, 170)), ("Bare ground", (210, 200, 190)), ("Snow and ice", (240, 245, 250)),
          ("Pasture", (220, 235, 150)), ("Orchards", (160, 120, 60))]
_FIELDS = [("Slope (degrees)", "YlOrRd", [0, 5, 10, 20, 30, 45]),
           ("Mean annual temperature (°C)", "RdBu", [-10, 0, 10, 20, 30]),
           ("Annual precipitation (mm)", "Blues", [0, 250, 500, 1000, 2000]),
           ("Soil moisture (%)", "BrBG", [0, 20, 40, 60, 80]),
           ("NDVI", "Greens", [0, 0.2, 0.4, 0.6, 0.8]),
           ("Population density", "magma", [0, 10, 100, 1000, 10000]),
           ("Elevation (m)", "viridis", [0, 500, 1000, 2000, 3000]),
           ("Flood risk", "Spectral", [1, 2, 3, 4, 5])]


def relief_real(ctx: Ctx, rng):
    """A window of the whole-world shaded relief / ETOPO raster (plate carree or Mercator)."""
    A, look = ctx.assets, ctx.look
    if A.rasters is None:
        from .scenes import relief
        return relief(ctx, rng)
    which = "shadedrelief" if rng.random() < 0.6 else "etopo1"
    merc = rng.random() < 0.35
    what, L, idx, title = _target_view_only(ctx, rng)
    lo0, la0, lo1, la1 = ctx.lonlat
    if merc:
        la0, la1 = max(la0, -80), min(la1, 80)
    proj = Projection("mercator" if merc else "platecarree", (lo0 + lo1) / 2, 0)
    set_view(ctx, rng, (lo0, la0, lo1, la1), pad=0.0, proj=proj)
    v = ctx.view
    x0, y0, x1, y1 = [int(t) for t in ctx.box]
    # the window the view shows, back in lon/lat
    lon_a = proj.lon0 + (v.x0 / (np.pi / 180 if merc else 1))
    lon_b = proj.lon0 + (v.x1 / (np.pi / 180 if merc else 1))
    if merc:
        la_a = np.degrees(2 * np.arctan(np.exp(v.y0)) - np.pi / 2)
        la_b = np.degrees(2 * np.arctan(np.exp(v.y1)) - np.pi / 2)
    else:
        la_a, la_b = v.y0, v.y1
    crop = R.crop_world(A.rasters[which], lon_a, la_a, lon_b, la_b, x1 - x0, y1 - y0, merc)
    ctx.img.paste(Image.fromarray(crop), (x0, y0))
    if rng.random() < 0.7:
        stroke_layer(ctx, "borders", look.ink if rng.random() < 0.5 else (200, 40, 40), 1,
                     dash=(5, 3) if rng.random() < 0.6 else None)
    if rng.random() < 0.5:
        stroke_layer(ctx, "coast", look.ink, 1)
    if rng.random() < 0.4:
        stroke_layer(ctx, "rivers", look.water_line, 1)
    if rng.random() < 0.7:
        cities(ctx, rng, 15)
    leg = None
    if which == "etopo1" and rng.random() < 0.5:
        leg = ("bar", ramp("terrain", np.linspace(0, 1, 256)),
               [(0, "0"), (0.33, "1000"), (0.66, "2000"), (1, "3000+")], "Elevation (m)")
    return {"title": title, "legend": leg}


def raster_legend(ctx: Ctx, rng):
    """A raster field (land-cover classes or a continuous variable) clipped to land."""
    look = ctx.look
    what, L, idx, title = _target_view_only(ctx, rng)
    x0, y0, x1, y1 = [int(v) for v in ctx.box]
    bgc = look.paper if rng.random() < 0.6 else hsv(0, 0, rng.uniform(0.85, 0.97))
    ctx.d.rectangle(ctx.box, fill=bgc)
    land = _land_mask(ctx, ["countries"])[y0:y1, x0:x1]
    if what == "country" and rng.random() < 0.7:       # only the country itself
        from PIL import ImageDraw
        mm = Image.new("L", ctx.img.size, 0)
        md = ImageDraw.Draw(mm)
        for ps in D.project_parts(L, idx, ctx.proj, ctx.view, True):
            D.polys(md, ps, fill=255)
        land = np.asarray(mm)[y0:y1, x0:x1] > 127
    h, w = land.shape
    z = R.terrain(rng, land, 1.0)
    if rng.random() < 0.5:
        k = int(rng.integers(4, 9))
        pick = rng.choice(len(_COVER), k, replace=False)
        cls = R.classes(rng, h, w, k, z, rng.uniform(2.5, 3.6))
        pal = np.array([_COVER[i][1] for i in pick], np.uint8)
        if rng.random() < 0.3:
            pal = np.array(political_colours(rng, k), np.uint8)
        col = pal[cls]
        entries = [(tuple(int(c) for c in pal[j]), _COVER[i][0]) for j, i in enumerate(pick)]
        leg = ("classes", entries, rng.choice([None, "Land cover", "Legend", "Land use"]))
        ttl = rng.choice(["Land cover", "Land use", "Vegetation", "Soil types", "Geology"])
    else:
        nm, rname, levels = _FIELDS[int(rng.integers(len(_FIELDS)))]
        if nm.startswith("Slope"):
            gy, gx = np.gradient(z)
            v = np.hypot(gx, gy) * max(h, w) * rng.uniform(2, 6)
        else:
            v = 0.5 * z + 0.5 * R.fractal(rng, h, w, 3.0) * 0.3
            if "temperature" in nm:
                v = np.linspace(-1, 1, h)[:, None] * 0.6 - z * 0.8
        v = (v - v[land].min()) / (np.ptp(v[land]) + 1e-9) if land.any() else v
        stepped = rng.random() < 0.5
        if stepped:
            v = np.floor(v * (len(levels) - 1) * 0.999) / (len(levels) - 2)
        col = ramp(rname, v)
        bar = ramp(rname, np.linspace(0, 1, 256))
        ticks = [(i / (len(levels) - 1), f"{lv:g}") for i, lv in enumerate(levels)]
        if stepped:
            entries = [(tuple(int(c) for c in ramp(rname, i / (len(levels) - 2))),
                        f"{levels[i]:g} – {levels[i + 1]:g}") for i in range(len(levels) - 1)]
            leg = ("classes", entries, nm if rng.random() < 0.5 else None)
        else:
            leg = ("bar", bar, ticks, nm)
        ttl = nm.split(" (")[0]
    if rng.random() < 0.4:
        hs = R.hillshade(np.clip(z, 0, 1), 4)
        col = np.clip(col * (0.6 + 0.5 * hs[..., None]), 0, 255).astype(np.uint8)
    base = np.asarray(ctx.img)[y0:y1, x0:x1]
    out = np.where(land[..., None], col, base)
    ctx.img.paste(Image.fromarray(out.astype(np.uint8)), (x0, y0))
    if rng.random() < 0.8:
        fill_layer(ctx, L, idx, [None] * len(idx), look.ink, 1)
    if rng.random() < 0.3:
        cities(ctx, rng, 8)
    title = f"{ttl} of {title}" if rng.random() < 0.5 else (title if rng.random() < 0.5 else ttl)
    return {"title": title, "legend": leg}


def coast(ctx: Ctx, rng):
    """Coastlines, rivers and borders on a plain or tinted land fill (GMT-like line maps)."""
    A, look = ctx.assets, ctx.look
    what, L, idx, title = _target_view_only(ctx, rng)
    sea(ctx, look.sea)
    C = A.layers["countries"]
    cidx = D.visible(C, A.bbox["countries"], ctx.win)
    landc = look.land if rng.random() < 0.7 else hsv(rng.uniform(0.08, 0.35), rng.uniform(0.2, 0.5), rng.uniform(0.6, 0.9))
    fill_layer(ctx, C, cidx, [landc] * len(cidx), None, 1)
    stroke_layer(ctx, "coast", look.ink, max(1, look.border_w - 1))
    if rng.random() < 0.8:
        stroke_layer(ctx, "rivers", look.water_line, 1)
    if rng.random() < 0.8:
        stroke_layer(ctx, "borders", look.ink if rng.random() < 0.5 else (180, 40, 40), 1,
                     dash=(6, 3) if rng.random() < 0.6 else None)
    if rng.random() < 0.6:
        cities(ctx, rng, 15)
    return {"title": title if rng.random() < 0.7 else None, "legend": None}


_ROAD_W = {"motorway": 5, "trunk": 5, "primary": 4, "secondary": 3.5, "tertiary": 3,
           "residential": 2, "unclassified": 2, "living_street": 1.5, "service": 1,
           "pedestrian": 1.5, "footway": 0.7, "cycleway": 0.7, "path": 0.7, "steps": 0.7}
_ROAD_ORDER = ["footway", "cycleway", "path", "steps", "service", "pedestrian", "living_street",
               "unclassified", "residential", "tertiary", "secondary", "primary", "trunk", "motorway"]


def street(ctx: Ctx, rng):
    """A city street map from OpenStreetMap: roads by class, water, parks, buildings, names."""
    A, look = ctx.assets, ctx.look
    R_ = A.layers.get("osm_roads")
    if R_ is None or not len(R_):
        return coast(ctx, rng)
    bb = A.bbox["osm_roads"]
    ext = A.street_extent
    span = float(min(rng.uniform(0.005, 0.03), (ext[2] - ext[0]) * 0.9))
    cx = rng.uniform(ext[0] + span / 2, max(ext[2] - span / 2, ext[0] + span / 2))
    cy = rng.uniform(ext[1] + span / 4, max(ext[3] - span / 4, ext[1] + span / 4))
    win = (cx - span / 2, cy - span / 4, cx + span / 2, cy + span / 4)
    set_view(ctx, rng, win, pad=0.0, proj=Projection("equirect", cx, cy))
    ctx.win = (win[0] - span, win[1] - span, win[2] + span, win[3] + span)
    s = rng.integers(4)
    if s == 0:      # OSM-like
        bg, park, water, bld, casing, fillc = (242, 239, 233), (200, 230, 190), (170, 211, 223), (217, 208, 201), (160, 160, 160), (255, 255, 255)
    elif s == 1:    # muted web map
        bg, park, water, bld, casing, fillc = (245, 245, 245), (214, 236, 206), (160, 200, 240), (230, 230, 230), (210, 210, 210), (255, 255, 255)
    elif s == 2:    # monochrome print
        g = rng.uniform(0.9, 1.0)
        bg, park, water, bld, casing, fillc = hsv(0, 0, g), hsv(0, 0, g - .1), hsv(0, 0, g - .2), hsv(0, 0, g - .15), (40, 40, 40), hsv(0, 0, g)
    else:           # old paper
        bg = hsv(rng.uniform(0.08, 0.13), rng.uniform(0.1, 0.3), rng.uniform(0.85, 0.97))
        park, water, bld, casing, fillc = (190, 200, 150), (150, 180, 200), (200, 170, 140), (90, 70, 50), (250, 240, 215)
    ctx.d.rectangle(ctx.box, fill=bg)
    for nm, c in (("osm_green", park), ("osm_water", water), ("osm_buildings", bld)):
        if nm in A.layers and (nm != "osm_buildings" or rng.random() < 0.7):
            L = A.layers[nm]
            idx = D.visible(L, A.bbox[nm], ctx.win)
            fill_layer(ctx, L, idx, [c] * len(idx), None, 1)
    if "osm_waterways" in A.layers:
        stroke_layer(ctx, "osm_waterways", water, 3)
    k = ctx.view.scale * 0.0004 * rng.uniform(0.8, 1.4)    # px per metre-ish scaling of widths
    wmul = float(np.clip(k * 150 / max(span / 0.02, 0.3), 0.6, 2.5))
    idx = D.visible(R_, bb, ctx.win)
    parts = D.project_parts(R_, idx, ctx.proj, ctx.view, False)
    order = sorted(range(len(idx)), key=lambda j: _ROAD_ORDER.index(R_.tags[idx[j]]) if R_.tags[idx[j]] in _ROAD_ORDER else 5)
    major = (255, 210, 120) if s in (0, 3) else fillc
    for pass_ in (0, 1):
        for j in order:
            t = R_.tags[idx[j]]
            w = _ROAD_W.get(t, 1.5) * wmul
            if pass_ == 0 and w >= 2:
                D.lines(ctx.d, parts[j], casing, int(w + 2))
            elif pass_ == 1:
                c = major if t in ("primary", "secondary", "trunk", "motorway") else fillc
                if w < 1.5:
                    c = casing
                D.lines(ctx.d, parts[j], c, max(1, int(w)), (3, 2) if w < 1.5 and rng.random() < 0.5 else None)
    if "osm_rail" in A.layers:
        stroke_layer(ctx, "osm_rail", (110, 110, 110), 2, dash=(8, 4))
    fp = look.font
    f = font(fp, ctx.fs * rng.uniform(0.7, 0.95))
    named = [j for j in order[::-1] if R_.names[idx[j]]]
    seen = set()
    n = 0
    for j in named:
        nm = R_.names[idx[j]]
        if nm in seen:
            continue
        for xy in parts[j]:
            if D.text_along(ctx.img, xy, nm, f, look.ink, halo=fillc if rng.random() < 0.6 else None,
                            boxes=ctx.boxes):
                seen.add(nm)
                n += 1
                break
        if n > 40:
            break
    for nm in ("osm_green", "osm_water"):
        L = A.layers.get(nm)
        if L is not None and rng.random() < 0.6:
            li = D.visible(L, A.bbox[nm], ctx.win)
            D.label_features(ctx.d, L, li, ctx.proj, ctx.view, look.font2, ctx.fs * 0.8,
                             (60, 100, 60) if nm == "osm_green" else (40, 80, 140), None,
                             ctx.boxes, ctx.box, rng, min_area_px=2000, max_n=8)
    title = rng.choice(["Helsinki", "City centre", "Street map", "Helsinki – Helsingfors", None, None])
    return {"title": title, "legend": None, "street": True}
