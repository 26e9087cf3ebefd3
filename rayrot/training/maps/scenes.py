"""The map kinds: each draws one north-up map body into a box of a canvas.

A scene function takes ``(ctx, rng)`` where ``ctx`` is a :class:`Ctx` (canvas, draw, assets,
look, map box) and returns a dict of what the furniture needs (legend entries, title,
lon/lat window for the graticule, km per pixel). Kinds: political, labelled, highlight,
choropleth, relief, relief_real, raster_legend, street, coast.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from . import draw as D
from . import raster as R
from .geo import label_point
from .project import Projection, View, choose_projection
from .style import font, hsv, political_colours, ramp, random_ramp, Look


@dataclass
class Ctx:
    img: Image.Image
    d: ImageDraw.ImageDraw
    assets: object
    look: Look
    box: tuple                      # map box in pixels
    boxes: D.Boxes = field(default_factory=D.Boxes)
    proj: Projection | None = None
    view: View | None = None
    win: tuple | None = None        # lon/lat culling window

    @property
    def fs(self) -> float:         # base font size
        return max(9.0, min(self.img.width, self.img.height) / 55)


# -- choosing a view ----------------------------------------------------------------------

def set_view(ctx: Ctx, rng, lonlat_bb, pad=0.08, proj: Projection | None = None):
    """Project the lon/lat box, fit it to the map box, and store projection/view/window."""
    lo0, la0, lo1, la1 = [float(v) for v in lonlat_bb]
    if lo1 - lo0 > 300:                                  # near-global: whole world
        lo0, lo1 = -180, 180
    w, h = lo1 - lo0, la1 - la0
    lo0, lo1 = lo0 - w * pad, lo1 + w * pad
    la0, la1 = max(la0 - h * pad, -89.5), min(la1 + h * pad, 89.5)
    clon, clat = (lo0 + lo1) / 2, (la0 + la1) / 2
    span = max(lo1 - lo0, (la1 - la0) * 1.3)
    if proj is None:
        proj = choose_projection(rng, clon, clat, span)
        if span > 300:
            proj.lon0 = 0.0
    t = np.linspace(0, 1, 40)
    ring_lon = np.concatenate([lo0 + t * (lo1 - lo0), np.full(40, lo1), lo1 - t * (lo1 - lo0), np.full(40, lo0)])
    ring_lat = np.concatenate([np.full(40, la0), la0 + t * (la1 - la0), np.full(40, la1), la1 - t * (la1 - la0)])
    if proj.kind in ("stere_n", "stere_s", "ortho"):
        ring_lon = np.concatenate([ring_lon, np.full(1, clon)])
        ring_lat = np.concatenate([ring_lat, np.full(1, clat)])
    x, y = proj.forward(ring_lon, ring_lat)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:                                     # degenerate: fall back to plate carree
        proj = Projection("platecarree", clon, 0.0)
        x, y = proj.forward(ring_lon, ring_lat)
        ok = np.isfinite(x) & np.isfinite(y)
    if proj.kind == "ortho":
        x, y = np.array([-1.0, 1.0]), np.array([-1.0, 1.0])
        ok = np.ones(2, bool)
        ctx.win = None
    else:
        ctx.win = (lo0 - w - 5, la0 - h - 5, lo1 + w + 5, la1 + h + 5)
    ctx.view = View.fit(x[ok].min(), y[ok].min(), x[ok].max(), y[ok].max(), ctx.box)
    ctx.proj = proj
    ctx.lonlat = (lo0, la0, lo1, la1)
    return proj


def km_per_px(ctx: Ctx) -> float | None:
    p, v = ctx.proj, ctx.view
    if p is None or p.kind == "planar":
        return None
    lo0, la0, lo1, la1 = ctx.lonlat
    clon, clat = (lo0 + lo1) / 2, (la0 + la1) / 2
    dl = max((lo1 - lo0) / 20, 1e-4)
    x, y = p.forward(np.array([clon - dl / 2, clon + dl / 2]), np.array([clat, clat]))
    px = np.hypot(*(np.diff(v.to_px(x, y), axis=0)[0]))
    if not np.isfinite(px) or px <= 0:
        return None
    return dl * 111.32 * np.cos(np.radians(clat)) / px


def fill_layer(ctx, layer, idx, colours, outline, width):
    parts = D.project_parts(layer, idx, ctx.proj, ctx.view, True)
    for ps, c in zip(parts, colours):
        D.polys(ctx.d, ps, fill=c)
    if outline is not None:
        for ps in parts:
            D.polys(ctx.d, ps, outline=outline, width=width)
    return parts


def stroke_layer(ctx, name, colour, width, dash=None):
    L = ctx.assets.layers[name]
    idx = D.visible(L, ctx.assets.bbox[name], ctx.win)
    for ps in D.project_parts(L, idx, ctx.proj, ctx.view, False):
        D.lines(ctx.d, ps, colour, width, dash)


def sea(ctx, colour):
    ctx.d.rectangle(ctx.box, fill=colour)
    if ctx.proj is not None and ctx.proj.kind == "ortho":
        ctx.d.rectangle(ctx.box, fill=ctx.look.paper)
        v = ctx.view
        cx, cy = v.to_px(np.array([0.0]), np.array([0.0]))[0]
        r = v.scale
        ctx.d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour, outline=ctx.look.ink)


def cities(ctx, rng, max_n=25, dot=None):
    L = ctx.assets.layers["cities"]
    idx = D.visible(L, ctx.assets.bbox["cities"], ctx.win)
    rng.shuffle(idx)
    f = font(ctx.look.font2 if rng.random() < 0.5 else ctx.look.font, ctx.fs * rng.uniform(0.8, 1.0))
    ink = ctx.look.ink
    r = max(2, ctx.fs / 4)
    n = 0
    bx = ctx.box
    for i in idx:
        p = L.parts[i][0][0]
        x, y = ctx.proj.forward(p[:1], p[1:])
        if not np.isfinite(x[0]):
            continue
        px, py = ctx.view.to_px(x, y)[0]
        if not (bx[0] + 20 < px < bx[2] - 60 and bx[1] + 10 < py < bx[3] - 10):
            continue
        if D.text(ctx.d, (px + r + 2, py), L.names[i], f, ink, anchor="lm", boxes=ctx.boxes,
                  halo=ctx.look.paper if rng.random() < 0.5 else None):
            ctx.d.ellipse((px - r, py - r, px + r, py + r), fill=dot or ink, outline=ink)
            n += 1
        if n >= max_n:
            break


def _target(ctx, rng):
    """Pick what to show: ('world'|'continent'|'country'|'states', layer, idx, focus idx)."""
    A = ctx.assets
    C = A.layers["countries"]
    r = rng.random()
    if r < 0.12:
        return "world", "countries", np.arange(len(C)), None
    if r < 0.35:
        conts = sorted(set(C.tags) - {"Antarctica", "Seven seas (open ocean)"})
        cont = conts[int(rng.integers(len(conts)))]
        idx = np.array([i for i, t in enumerate(C.tags) if t == cont])
        return "continent", "countries", idx, None
    S = A.layers["states"]
    if r < 0.62 and len(S):
        cc = sorted(set(S.tags))[int(rng.integers(len(set(S.tags))))]
        idx = np.array([i for i, t in enumerate(S.tags) if t == cc])
        if cc in ("US", "RU") and rng.random() < 0.7:          # a region of a huge country
            bb = A.bbox["states"][idx]
            k = idx[int(rng.integers(len(idx)))]
            c = (bb[:, :2] + bb[:, 2:]) / 2
            kc = (A.bbox["states"][k, :2] + A.bbox["states"][k, 2:]) / 2
            d = np.hypot(*(c - kc).T)
            idx = idx[np.argsort(d)[: int(rng.integers(4, 14))]]
        return "states", "states", idx, cc
    if r < 0.75 and "uscounties" in A.layers:
        U = A.layers["uscounties"]
        sts = sorted(set(U.tags) - {"AK", "HI", "PR", ""})
        st = sts[int(rng.integers(len(sts)))]
        idx = np.array([i for i, t in enumerate(U.tags) if t == st])
        return "counties", "uscounties", idx, st
    big = [i for i in range(len(C)) if C.attrs["area_km2"][i] > 2e4]
    k = big[int(rng.integers(len(big)))]
    return "country", "countries", np.array([k]), k


def _base_map(ctx, rng, mode):
    """Sea, context countries, then the target features; returns (layer, idx, parts, title)."""
    A, look = ctx.assets, ctx.look
    what, lname, idx, focus = _target(ctx, rng)
    L = A.layers[lname]
    bb = _bbox_of_idx(A, lname, idx)
    if what == "country":
        w = bb[2] - bb[0]
        bb = bb + np.array([-1, -1, 1, 1]) * max(w, 4) * rng.uniform(0.1, 0.6)
    set_view(ctx, rng, bb)
    # atlas/quiz style: the target alone on a plain page, no sea and no neighbours
    alone = what in ("states", "counties", "continent") and rng.random() < 0.3
    sea(ctx, ctx.look.paper if alone else look.sea)
    C = A.layers["countries"]
    cidx = D.visible(C, A.bbox["countries"], ctx.win)
    ctx_fill = look.land if rng.random() < 0.6 else hsv(0, 0, rng.uniform(0.8, 0.95))
    if (lname != "countries" or what == "country") and not alone:
        cols = ([ctx_fill] * len(cidx) if what != "country" or rng.random() < 0.5
                else political_colours(rng, len(cidx)))
        fill_layer(ctx, C, cidx, cols, look.border, max(1, look.border_w))
    if what == "world":
        title = "The World"
    elif what == "continent":
        title = C.tags[idx[0]] if len(idx) else ""
    elif what == "states":
        title = A.country_name(focus)
    elif what == "counties":
        title = A.us_state_name(focus)
    else:
        title = C.names[focus]
    if what == "country":
        idx = cidx
    return what, L, idx, title


def _bbox_of_idx(A, lname, idx):
    bb = (A.mainbox.get(lname, A.bbox[lname]))[idx]
    return np.array([bb[:, 0].min(), bb[:, 1].min(), bb[:, 2].max(), bb[:, 3].max()])


# -- scenes ---------------------------------------------------------------------------------

def political(ctx, rng, labels: bool, highlight: bool):
    look = ctx.look
    what, L, idx, title = _base_map(ctx, rng, "political")
    if highlight:
        grey = hsv(rng.random(), rng.uniform(0, 0.15), rng.uniform(0.75, 0.93))
        cols = [grey] * len(idx)
        k = int(rng.integers(len(idx)))
        cols[k] = hsv(rng.choice([0.0, 0.02, 0.08, 0.6, 0.33]), rng.uniform(0.55, 0.9), rng.uniform(0.6, 0.9))
        title = L.names[idx[k]] or title
    else:
        cols = political_colours(rng, len(idx))
    fill_layer(ctx, L, idx, cols, look.border, look.border_w)
    if rng.random() < 0.3:
        stroke_layer(ctx, "rivers", look.water_line, 1)
    if labels:
        D.label_features(ctx.d, L, idx, ctx.proj, ctx.view, look.font, ctx.fs * rng.uniform(0.85, 1.2),
                         look.ink, look.paper if rng.random() < 0.4 else None, ctx.boxes, ctx.box, rng,
                         caps=rng.random() < 0.3)
        if rng.random() < 0.4:
            cities(ctx, rng, 12)
    return {"title": title, "legend": None}


_ATTR_TITLES = {"pop": "Population", "lifeExp": "Life expectancy (years)",
                "gdpPercap": "GDP per capita (US$)", "pop_est": "Population estimate",
                "gdp_md_est": "GDP (million US$)", "BIR74": "Births 1974", "SID74": "SIDS cases 1974",
                "NWBIR74": "Non-white births 1974", "BIR79": "Births 1979", "SID79": "SIDS 1979",
                "MEDV": "Median home value", "CRIM": "Crime rate", "NOX": "NOx concentration",
                "AGE": "Older housing (%)", "LSTAT": "Lower status (%)", "POP": "Population",
                "CRIME": "Crime per 1000", "HOVAL": "Housing value", "INC": "Household income",
                "POP8": "Population 1980", "Cases": "Leukaemia cases", "PCTOWNHOME": "Home owners",
                "PCTAGE65P": "Aged 65 and over"}
_RANDOM_TITLES = ["Unemployment rate (%)", "Population density (per km²)", "Median age",
                  "Annual rainfall (mm)", "Voter turnout (%)", "Forest cover (%)", "Income per head",
                  "Population change 2000-2010 (%)", "Share of urban population", "Literacy rate (%)",
                  "Average temperature (°C)", "Households with internet (%)"]


def choropleth(ctx, rng):
    A, look = ctx.assets, ctx.look
    r = rng.random()
    if r < 0.35 and any(n in A.layers for n in ("nc", "boston", "columbus", "ny8")):
        local = [n for n in ("nc", "boston", "columbus", "ny8") if n in A.layers]
        name = local[int(rng.integers(len(local)))]
        L = A.layers[name]
        idx = np.arange(len(L))
        if L.crs == "planar":
            bb = _bbox_of_idx(A, name, idx)
            ctx.proj = Projection("planar")
            ctx.view = View.fit(*bb, ctx.box)
            ctx.win, ctx.lonlat = None, None
            ctx.ny8 = name == "ny8"
        else:
            set_view(ctx, rng, _bbox_of_idx(A, name, idx), proj=Projection("equirect", *(_bbox_of_idx(A, name, idx).reshape(2, 2).mean(0))))
        ctx.d.rectangle(ctx.box, fill=look.paper if rng.random() < 0.6 else look.sea)
        keys = list(L.attrs)
        key = keys[int(rng.integers(len(keys)))]
        vals = L.attrs[key].astype(float)
        title = _ATTR_TITLES.get(key, key)
        where = {"nc": "North Carolina", "boston": "Boston", "columbus": "Columbus, Ohio",
                 "ny8": "Upstate New York"}[name]
        title = f"{title}, {where}" if rng.random() < 0.6 else title
    else:
        what, L, idx, place = _base_map(ctx, rng, "choropleth")
        if L.name == "countries" and rng.random() < 0.8:
            key = ["pop", "lifeExp", "gdpPercap", "density"][int(rng.integers(4))]
            vals = (L.attrs["pop"] / L.attrs["area_km2"] if key == "density" else L.attrs[key])[idx]
            title = "Population density (per km²)" if key == "density" else _ATTR_TITLES[key]
        else:
            # spatially smooth made-up values sampled from a noise field at label points
            f = R.fractal(rng, 64, 64, 3.0)
            vals = []
            for i in idx:
                lp = label_point(L.parts[i])
                x, y = ctx.proj.forward(lp[:1], lp[1:])
                p = ctx.view.to_px(x, y)[0]
                u = np.clip(((p - ctx.box[:2]) / (np.array(ctx.box[2:]) - ctx.box[:2] + 1) * 63), 0, 63)
                u = np.nan_to_num(u)
                vals.append(f[int(u[1]), int(u[0])] + rng.normal(0, 0.4))
            vals = np.array(vals)
            lo, hi = sorted(rng.uniform(0, 100, 2)) if rng.random() < 0.5 else (0, 10 ** rng.uniform(1, 6))
            vals = lo + (vals - vals.min()) / (np.ptp(vals) + 1e-9) * (hi - lo)
            title = _RANDOM_TITLES[int(rng.integers(len(_RANDOM_TITLES)))]
        title = f"{title}: {place}" if place and rng.random() < 0.5 else title
    finite = np.isfinite(vals)
    k = int(rng.integers(4, 8))
    rname, rev = random_ramp(rng)
    ts = np.linspace(0, 1, k)
    if rev:
        ts = ts[::-1]
    cols = [tuple(int(c) for c in ramp(rname, t)) for t in ts]
    qs = np.nanquantile(vals[finite], np.linspace(0, 1, k + 1)) if finite.any() else np.linspace(0, 1, k + 1)
    bins = np.clip(np.searchsorted(qs[1:-1], np.nan_to_num(vals, nan=qs[0]), side="right"), 0, k - 1)
    nodata = hsv(0, 0, 0.8)
    fcols = [cols[b] if ok else nodata for b, ok in zip(bins, finite)]
    bw = look.border_w if rng.random() < 0.7 else 1
    fill_layer(ctx, L, idx, fcols, look.border if rng.random() < 0.8 else None, bw)
    if rng.random() < 0.25 and L.names and any(L.names):
        D.label_features(ctx.d, L, idx, ctx.proj, ctx.view, look.font, ctx.fs * 0.85, look.ink,
                         look.paper, ctx.boxes, ctx.box, rng, max_n=25)
    entries = [(c, f"{D.fmt_num(qs[i])} – {D.fmt_num(qs[i + 1])}") for i, c in enumerate(cols)]
    if (~finite).any():
        entries.append((nodata, "No data"))
    return {"title": title, "legend": ("classes", entries, title if rng.random() < 0.4 else None),
            "ramp": (rname, rev, qs)}


def _land_mask(ctx, layer_names, colour=255):
    """Rasterised land (visible countries / states) over the whole canvas."""
    m = Image.new("L", ctx.img.size, 0)
    md = ImageDraw.Draw(m)
    for nm in layer_names:
        L = ctx.assets.layers[nm]
        idx = D.visible(L, ctx.assets.bbox[nm], ctx.win)
        for ps in D.project_parts(L, idx, ctx.proj, ctx.view, True):
            D.polys(md, ps, fill=colour)
    return np.asarray(m) > 127


def relief(ctx, rng):
    """Synthetic terrain tinted by height, hillshaded from the NW, with an elevation legend."""
    look = ctx.look
    what, L, idx, title = _target_view_only(ctx, rng)
    land = _land_mask(ctx, ["countries"])
    x0, y0, x1, y1 = [int(v) for v in ctx.box]
    sub = land[y0:y1, x0:x1]
    z = R.terrain(rng, sub, rng.uniform(0.6, 1.4))
    hs = R.hillshade(z, rng.uniform(3, 10))
    tint_name = ["classic", "atlas", "terrain", "grey"][int(rng.choice(4, p=[.35, .3, .25, .1]))]
    top = float(rng.choice([1500, 2500, 3000, 4000, 5000, 6000]))
    col = ramp(tint_name, np.clip(z, 0, 1)).astype(float)
    seac = np.array(look.sea if rng.random() < 0.6 else (170, 200, 230), float)
    deep = seac * 0.75
    t = np.clip(-z, 0, 1)[..., None]
    col = np.where(z[..., None] > 0, col, seac * (1 - t) + deep * t)
    s = rng.uniform(0.35, 0.7)
    shade = (1 - s) + s * hs[..., None] * 1.25
    col = np.where(z[..., None] > 0, col * shade, col)
    ctx.img.paste(Image.fromarray(np.clip(col, 0, 255).astype(np.uint8)), (x0, y0))
    if rng.random() < 0.7:
        stroke_layer(ctx, "borders" if rng.random() < 0.5 else "coast", look.ink, 1, dash=(6, 4) if rng.random() < .5 else None)
    if rng.random() < 0.6:
        stroke_layer(ctx, "rivers", look.water_line, 1)
    if rng.random() < 0.6:
        cities(ctx, rng, 15)
    levels = sorted(set([0, top * 0.1, top * 0.25, top * 0.5, top * 0.75, top]))
    ticks = [(lv / top, f"{lv:g}") for lv in levels]
    cbar = ramp(tint_name, np.linspace(0, 1, 256))
    return {"title": title, "legend": ("bar", cbar, ticks, rng.choice(["Elevation (m)", "Height in metres", "m", "Altitude (m)"]))}


def _target_view_only(ctx, rng):
    A = ctx.assets
    C = A.layers["countries"]
    r = rng.random()
    if r < 0.5:
        big = [i for i in range(len(C)) if C.attrs["area_km2"][i] > 3e4]
        k = big[int(rng.integers(len(big)))]
        bb = A.mainbox["countries"][k]
        w = max(bb[2] - bb[0], 3)
        set_view(ctx, rng, bb + np.array([-1, -1, 1, 1]) * w * rng.uniform(0.05, 0.4))
        return "country", C, [k], C.names[k]
    conts = sorted(set(C.tags) - {"Antarctica", "Seven seas (open ocean)"})
    cont = conts[int(rng.integers(len(conts)))]
    idx = np.array([i for i, t in enumerate(C.tags) if t == cont])
    bb = _bbox_of_idx(A, "countries", idx)
    if rng.random() < 0.5:          # a random window inside the continent
        w, h = bb[2] - bb[0], bb[3] - bb[1]
        f = rng.uniform(0.25, 0.6)
        cx, cy = bb[0] + rng.uniform(0.2, 0.8) * w, bb[1] + rng.uniform(0.2, 0.8) * h
        bb = np.array([cx - w * f / 2, cy - h * f / 2, cx + w * f / 2, cy + h * f / 2])
    set_view(ctx, rng, bb)
    return "continent", C, idx, cont
