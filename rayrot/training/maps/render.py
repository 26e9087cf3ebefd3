"""Render one random north-up map: canvas layout, a scene, furniture, and scan effects.

    assets = MapAssets.load(mapdata_dir, fonts_dir)
    img, kind = render_map_kind(rng, assets)     # (H, W, 3) uint8, upright, north up
    img = render_map(rng, assets)

The canvas is 600-1200 px on the long side. Furniture: title on top, legend in a bottom or
side corner (or in the margin), scale bar, north arrow, graticule with labels, neatline
frame and margins, a source note. Then optionally a small tilt (a few degrees), paper
tint, blur, noise and JPEG, like a scan; the map stays upright.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import draw as D
from .geo import Layer, load_layers
from .scenes import Ctx, choropleth, km_per_px, political, relief
from .scenes_local import provinces, raster_local
from .scenes_more import coast, raster_legend, relief_real, street
from .style import Fonts, font, random_look

KINDS = {  # kind -> (weight, scene)
    "political": (0.10, lambda c, r: political(c, r, labels=False, highlight=False)),
    "labelled": (0.13, lambda c, r: political(c, r, labels=True, highlight=False)),
    "highlight": (0.06, lambda c, r: political(c, r, labels=r.random() < 0.4, highlight=True)),
    "provinces": (0.09, provinces),
    "choropleth": (0.12, choropleth),
    "relief": (0.08, relief),
    "relief_real": (0.06, relief_real),
    "raster_legend": (0.09, raster_legend),
    "raster_local": (0.12, raster_local),
    "street": (0.09, street),
    "coast": (0.06, coast),
}
_US = {"AL": "Alabama", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
       "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "ID": "Idaho",
       "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky",
       "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
       "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska",
       "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
       "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
       "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island",
       "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah",
       "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
       "WI": "Wisconsin", "WY": "Wyoming"}
_CC = {"AR": "Argentina", "AU": "Australia", "BR": "Brazil", "CA": "Canada", "CN": "China",
       "IN": "India", "RU": "Russia", "US": "United States", "NO": "Norway"}


def _main_boxes(L: Layer) -> np.ndarray:
    """Per feature the bbox of its largest ring (no far-flung islands or territories)."""
    out = np.zeros((len(L), 4), np.float32)
    for i, ps in enumerate(L.parts):
        big = max(ps, key=lambda p: float(np.ptp(p[:, 0]) * np.ptp(p[:, 1])))
        out[i] = (*big.min(0), *big.max(0))
    return out


class MapAssets:
    """Vector layers (with per-feature bboxes), whole-world rasters and fonts."""
    def __init__(self, layers: dict[str, Layer], rasters: dict | None, fonts: Fonts):
        self.layers = layers
        self.bbox = {k: L.bboxes() for k, L in layers.items()}
        self.mainbox = {k: _main_boxes(L) for k, L in layers.items() if L.kind == "polygon"}
        self.rasters = rasters
        roads = layers.get("osm_roads")
        if roads is not None and len(roads):
            v = np.concatenate([p for ps in roads.parts for p in ps])
            self.street_extent = (*np.percentile(v, 3, axis=0), *np.percentile(v, 97, axis=0))
        self.fonts = fonts

    @classmethod
    def load(cls, mapdata_dir, fonts_dir=None) -> "MapAssets":
        d = Path(mapdata_dir)
        layers = load_layers(d / "geo.npz")
        rasters = {}
        for nm in ("shadedrelief", "etopo1"):
            p = d / f"{nm}.jpg"
            if p.exists():
                rasters[nm] = np.asarray(Image.open(p).convert("RGB"))
        return cls(layers, rasters or None, Fonts(Path(fonts_dir) if fonts_dir else None))

    def country_name(self, cc: str) -> str:
        return _CC.get(cc, cc)

    def us_state_name(self, st: str) -> str:
        return _US.get(st, st)

    def kinds(self) -> list[str]:
        """The kinds these assets can draw (street needs the OSM layers)."""
        need = {"street": "osm_roads", "choropleth": "nc", "relief_real": None}
        out = []
        for k in KINDS:
            if k == "relief_real" and not self.rasters:
                continue
            if k in need and need[k] and need[k] not in self.layers:
                continue
            out.append(k)
        return out


def _layout(rng, W, H, fs):
    """Map box and furniture slots: returns (box, title_y or None, margin)."""
    m = int(rng.choice([0, rng.uniform(0.015, 0.06) * min(W, H)], p=[0.25, 0.75]))
    grat_lab = m > fs * 2.5 and rng.random() < 0.5
    top = m
    title_y = None
    if rng.random() < 0.7:
        title_y = m + fs * 1.6
        top = int(m + fs * 3.4)
    bottom = H - m - (int(fs * 1.5) if grat_lab else 0)
    left = m + (int(fs * 3.5) if grat_lab else 0)
    side = 0
    if rng.random() < 0.15:          # legend panel on the right
        side = int(W * rng.uniform(0.18, 0.26))
    return (left, top, W - m - side, bottom), title_y, m, grat_lab, side


def _furniture(ctx: Ctx, rng, info, title_y, m, grat_lab, side):
    img, d, look = ctx.img, ctx.d, ctx.look
    W, H = img.size
    fs = ctx.fs
    bx = ctx.box
    # graticule
    if ctx.proj is not None and ctx.proj.kind != "planar" and ctx.lonlat is not None and \
            not info.get("street") and rng.random() < 0.45:
        col = look.ink if rng.random() < 0.4 else (150, 150, 170)
        D.graticule(d, ctx.proj, ctx.view, ctx.lonlat, bx, col, 1, look.font, int(fs * 0.8), rng,
                    labels=grat_lab, dash=(4, 4) if rng.random() < 0.3 else None)
    # outside the map box: paper
    for r in ((0, 0, W, bx[1]), (0, bx[3], W, H), (0, 0, bx[0], H), (bx[2], 0, W, H)):
        if r[2] > r[0] and r[3] > r[1]:
            d.rectangle((r[0], r[1], r[2] - 1, r[3] - 1), fill=look.paper)
    if grat_lab and ctx.proj is not None and ctx.proj.kind != "planar" and ctx.lonlat is not None:
        _draw_grat_labels(ctx, rng, fs)
    # frame
    if rng.random() < 0.85:
        d.rectangle(bx, outline=look.ink, width=int(rng.choice([1, 1, 2, 3])))
        if rng.random() < 0.25 and m > 8:
            g = max(3, m // 3)
            d.rectangle((bx[0] - g, bx[1] - g, bx[2] + g, bx[3] + g), outline=look.ink, width=1)
    # title
    title = info.get("title")
    if title and title_y is not None:
        ft = font(look.font2 if rng.random() < 0.4 else look.font, fs * rng.uniform(1.5, 2.3))
        while ft.getlength(title) > W * 0.92 and ft.size > 10:
            ft = font(look.font, ft.size * 0.85)
        x = W / 2 if rng.random() < 0.7 else m + fs
        d.text((x, title_y), title, font=ft, fill=look.ink, anchor="mm" if x == W / 2 else "lm")
    elif title and rng.random() < 0.4:      # title in a box inside the map
        ft = font(look.font, fs * 1.4)
        D.text(d, (bx[0] + fs, bx[1] + fs), title, ft, look.ink, anchor="la", halo=look.paper,
               boxes=ctx.boxes)
    # legend
    corners = ["bl", "br", "tr", "tl"]
    rng.shuffle(corners)
    leg = info.get("legend")
    pad = fs * 0.8
    used = set()
    if leg is not None:
        if side:
            cx, cy, anc = bx[2] + fs, bx[1] + fs * 2, "tl"
        else:
            anc = corners[0] if rng.random() < 0.6 else rng.choice(["bl", "br"])
            cx = bx[0] + pad if anc[1] == "l" else bx[2] - pad
            cy = bx[3] - pad if anc[0] == "b" else bx[1] + pad
        used.add(anc)
        bg = look.paper if rng.random() < 0.8 or side else None
        if leg[0] == "classes":
            D.legend_classes(d, (cx, cy), leg[1], look.font, int(fs * rng.uniform(0.8, 1.0)), look.ink,
                             bg, rng, title=leg[2], anchor=anc, boxes=ctx.boxes)
        else:
            vertical = side or rng.random() < 0.4
            ln = (bx[3] - bx[1]) * 0.35 if vertical else (bx[2] - bx[0]) * rng.uniform(0.25, 0.45)
            th = fs * 1.1
            if vertical:
                x0 = cx if anc[1] == "l" else cx - th - fs * 3.5
                y0 = cy - ln - fs if anc[0] == "b" else cy + fs * 1.5
                bb = (x0, y0, x0 + th, y0 + ln)
            else:
                x0 = cx if anc[1] == "l" else cx - ln
                y0 = cy - th - fs * 1.6 if anc[0] == "b" else cy + fs * 1.5
                bb = (x0, y0, x0 + ln, y0 + th)
            if rng.random() < 0.7:
                d.rectangle((bb[0] - fs * .6, bb[1] - fs * 2, bb[2] + fs * (4 if vertical else .8),
                             bb[3] + fs * 1.8), fill=look.paper)
            D.legend_bar(img, d, bb, leg[1], leg[2], look.font, int(fs * 0.8), look.ink,
                         title=leg[3] if rng.random() < 0.8 else None, vertical=bool(vertical))
    free = [c for c in corners if c not in used]
    # scale bar
    kpp = info.get("kpp") or (km_per_px(ctx) if ctx.proj is not None else None)
    if kpp is None and getattr(ctx, "ny8", False):
        kpp = 1 / (1000 * ctx.view.scale)
    if kpp and rng.random() < 0.6 and free:
        c = [f for f in free if f[0] == "b"] or free
        anc = c[0]
        free.remove(anc)
        y = bx[3] - fs * 1.8 if anc[0] == "b" else bx[1] + fs * 2.5
        x = bx[0] + fs if anc[1] == "l" else bx[2] - fs
        if rng.random() < 0.5:
            d.rectangle((x - fs * .5 - (W * .25 if anc[1] == "r" else 0), y - fs * 2.2,
                         x + fs * .5 + (W * .25 if anc[1] == "l" else 0), y + fs * 1.6), fill=look.paper)
        D.scale_bar(d, (x, y), kpp, look.font, int(fs * 0.8), look.ink, rng,
                    max_px=int(W * 0.22), anchor=anc[1])
    # north arrow
    if rng.random() < 0.5 and free:
        anc = free[0]
        s = int(fs * rng.uniform(2.2, 4))
        x = bx[0] + s if anc[1] == "l" else bx[2] - s
        y = bx[3] - s * 1.1 if anc[0] == "b" else bx[1] + s * 1.2
        D.north_arrow(d, (x, y), s, look.ink, look.font, rng, fill2=look.paper)
    # source note
    if rng.random() < 0.35 and H - bx[3] > fs * 1.2:
        note = rng.choice(["Source: Natural Earth", "Data: OpenStreetMap contributors",
                           "Map data: DCW / GSHHG", "© cartographer 2024", "Scale 1:5 000 000",
                           "Projection: Lambert conformal conic"])
        d.text((bx[2], H - 2), note, font=font(look.font, fs * 0.7), fill=look.ink, anchor="rd")


def _draw_grat_labels(ctx, rng, fs):
    class _NoLines:
        def __init__(self, d):
            self.d = d

        def line(self, *a, **k):
            pass

        def text(self, *a, **k):
            self.d.text(*a, **k)
    D.graticule(_NoLines(ctx.d), ctx.proj, ctx.view, ctx.lonlat, ctx.box, ctx.look.ink, 1,
                ctx.look.font, int(fs * 0.8), rng, labels=True)


def scan(img: Image.Image, rng) -> Image.Image:
    """Small tilt, paper tint, blur, noise, JPEG: a scanned or photographed print."""
    r = rng.random()
    if r < 0.5:
        ang = rng.uniform(-3, 3)
        fill = tuple(int(v) for v in rng.integers(200, 256, 3)) if rng.random() < 0.5 else (255, 255, 255)
        img = img.rotate(ang, resample=Image.BICUBIC, expand=rng.random() < 0.5, fillcolor=fill)
    a = np.asarray(img).astype(np.float32)
    if rng.random() < 0.5:
        tint = np.array([rng.uniform(0.93, 1.0), rng.uniform(0.9, 1.0), rng.uniform(0.82, 1.0)])
        a *= tint
    if rng.random() < 0.5:
        a += rng.normal(0, rng.uniform(1, 6), a.shape[:2])[..., None]
    if rng.random() < 0.3:     # uneven illumination
        h, w = a.shape[:2]
        gy, gx = np.mgrid[0:h, 0:w]
        g = 1 - rng.uniform(0, 0.12) * ((gx / w - rng.random()) ** 2 + (gy / h - rng.random()) ** 2)
        a *= g[..., None]
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.8:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(35, 92)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def render_map_kind(rng: np.random.Generator, assets: MapAssets, kind: str | None = None,
                    post: bool = True) -> tuple[np.ndarray, str]:
    """One map of a random (or the given) kind: ((H, W, 3) uint8, kind)."""
    kinds = assets.kinds()
    if kind is None:
        w = np.array([KINDS[k][0] for k in kinds])
        kind = kinds[int(rng.choice(len(kinds), p=w / w.sum()))]
    long = int(rng.integers(600, 1201))
    ar = float(np.exp(rng.uniform(np.log(0.62), np.log(1.6))))
    W, H = (long, int(long / ar)) if ar >= 1 else (int(long * ar), long)
    look = random_look(rng, assets.fonts, scale=long / 900)
    img = Image.new("RGB", (W, H), look.paper)
    fs = max(9.0, min(W, H) / 55)
    box, title_y, m, grat_lab, side = _layout(rng, W, H, fs)
    ctx = Ctx(img, ImageDraw.Draw(img), assets, look, box)
    ctx.lonlat = None
    info = KINDS[kind][1](ctx, rng)
    _furniture(ctx, rng, info, title_y, m, grat_lab, side)
    if post:
        img = scan(img, rng)
    return np.asarray(img.convert("RGB")), kind


def render_map(rng: np.random.Generator, assets: MapAssets) -> np.ndarray:
    """(H, W, 3) uint8 north-up map in a random style."""
    return render_map_kind(rng, assets)[0]
