"""Maps: render_map draws charts with coastlines, roads, grids and labels."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter, ImageFont

from .assets import SynthAssets, _drawable
from .blocks import _smooth_noise
from .degrade import _add_noise, _jpeg
from .draw import _basic_draw, _make_ctx, _paper_colour
from .map_furniture import _legend, _north_arrow, _scale_bar
from .scripts import _HAS_RAQM, _NO_SPACES
from .text import _pick_script

__all__ = ["render_map"]


# Maps
# ----------------------------------------------------------------------------------------------


def _fractal(rng, h: int, w: int, base_cells: float, octaves: int, gain: float = 0.5
             ) -> np.ndarray:
    """Fractal (multi-octave) noise, (h, w) float32, roughly zero mean, unit-ish range."""
    out = np.zeros((h, w), np.float32)
    amp, cells, total = 1.0, base_cells, 0.0
    for _ in range(octaves):
        if cells > max(h, w) / 2:
            break
        out += amp * (_smooth_noise(rng, h, w, int(cells))[..., 0] - 0.5)
        total += amp
        amp *= gain
        cells *= 2
    return out / max(total, 1e-6)


def _ramp(stops, n=256) -> np.ndarray:
    """Colour lookup table (n, 3) uint8 from [(t, (r, g, b)), ...] with t in [0, 1]."""
    ts = np.array([t for t, _ in stops], np.float32)
    cs = np.array([c for _, c in stops], np.float32)
    x = np.linspace(0, 1, n, dtype=np.float32)
    return np.stack([np.interp(x, ts, cs[:, k]) for k in range(3)], 1).astype(np.uint8)


_HYPSO = [
    [(0, (112, 160, 90)), (0.25, (170, 200, 120)), (0.5, (230, 220, 150)), (0.7, (200, 160, 100)),
     (0.88, (150, 110, 80)), (1, (250, 250, 250))],
    [(0, (90, 150, 80)), (0.4, (200, 210, 140)), (0.75, (180, 140, 90)), (1, (120, 90, 70))],
    [(0, (200, 225, 180)), (0.5, (240, 235, 200)), (1, (220, 190, 160))],
    [(0, (60, 120, 60)), (0.3, (120, 170, 80)), (0.6, (210, 190, 120)), (0.85, (160, 120, 90)),
     (1, (240, 240, 240))],
]
_WATER = [
    [(0, (190, 225, 245)), (1, (40, 90, 170))],
    [(0, (170, 210, 235)), (1, (110, 160, 210))],
    [(0, (215, 235, 250)), (1, (150, 195, 230))],
]
_SEQ = [
    [(0, (255, 247, 188)), (0.5, (254, 153, 41)), (1, (153, 52, 4))],
    [(0, (239, 243, 255)), (0.5, (107, 174, 214)), (1, (8, 69, 148))],
    [(0, (237, 248, 233)), (0.5, (116, 196, 118)), (1, (0, 90, 50))],
    [(0, (254, 229, 217)), (0.5, (251, 106, 74)), (1, (165, 15, 21))],
    [(0, (242, 240, 247)), (0.5, (158, 154, 200)), (1, (84, 39, 143))],
    [(0, (68, 1, 84)), (0.5, (33, 145, 140)), (1, (253, 231, 37))],
]
_SYLL = ["ber", "lin", "ton", "ham", "mar", "vil", "sten", "ka", "ro", "ma", "no", "li", "san",
         "gor", "dor", "va", "el", "ast", "bur", "ford", "ley", "mont", "sur", "pol", "do",
         "ri", "ta", "che", "nik", "wa", "an", "or", "bel", "ca", "stra", "hei", "lu"]
_SUFFIX = ["", "", "", "ville", "burg", "ton", "sk", "ow", "heim", "field", "port", "polis",
           "a", "ia", "en", "stad"]


class _Labels:
    """Greedy label placement without overlaps."""

    def __init__(self):
        self.boxes = []

    def free(self, box) -> bool:
        x0, y0, x1, y1 = box
        for a0, b0, a1, b1 in self.boxes:
            if x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1:
                return False
        return True

    def add(self, box):
        self.boxes.append(box)


def _place_name(ctx) -> str:
    rng = ctx.rng
    if ctx.script == "latin" and rng.random() < 0.7:
        s = "".join(_SYLL[int(i)] for i in rng.integers(0, len(_SYLL), int(rng.integers(1, 4))))
        s = (s + _SUFFIX[int(rng.integers(len(_SUFFIX)))]).capitalize()
        if rng.random() < 0.12:
            s = rng.choice(["St. ", "Port ", "New ", "Lake ", "Mount ", "San "]) + s
        return s
    s = ctx.text.words(int(rng.integers(1, 3)))
    return s[:14] if ctx.script not in _NO_SPACES else s[:4]


def _map_label(ctx, labels: _Labels, x, y, s, font, fill, halo=None, dx=0.0, anchor="left"):
    """Draw an upright label near (x, y) if it does not overlap another; returns success."""
    f, _ = font
    w = ctx.width(s, font)
    size = f.size
    if anchor == "center":
        lx, ly = x - w / 2, y - size * 0.6
    else:
        lx, ly = x + dx, y - size * 0.65
    box = (lx - 2, ly - 2, lx + w + 2, ly + size * 1.25 + 2)
    W, H = ctx.im.size
    if box[0] < 0 or box[1] < 0 or box[2] > W or box[3] > H or not labels.free(box):
        return False
    labels.add(box)
    kw = {}
    text = s if f.layout_engine == ImageFont.Layout.BASIC else _drawable(f, s)
    if ctx.rtl:
        if _HAS_RAQM and f.layout_engine == ImageFont.Layout.RAQM:
            kw["direction"] = "rtl"
        else:
            text = text[::-1]
    if f.layout_engine == ImageFont.Layout.BASIC:  # fast path: cached glyphs, ring halo
        if halo is not None:
            r = max(1, size // 10)
            for ox, oy in ((-r, 0), (r, 0), (0, -r), (0, r), (-r, -r), (r, r), (-r, r), (r, -r)):
                _basic_draw(ctx.im, (lx + ox, ly + oy), text, f, halo)
        _basic_draw(ctx.im, (lx, ly), text, f, fill)
        return True
    if halo is not None:
        kw.update(stroke_width=max(1, size // 8), stroke_fill=halo)
    ctx.draw.text((lx, ly), text, font=f, fill=fill, **kw)
    return True


def _river_paths(rng, hgt: np.ndarray, sea: float, n: int):
    """Downhill walks on a low-resolution height field; lists of (row, col)."""
    h, w = hgt.shape
    land = np.argwhere(hgt > sea + 0.3 * (hgt.max() - sea))
    paths = []
    if len(land) == 0:
        return paths
    z = (hgt + rng.uniform(0, 0.004, hgt.shape).astype(np.float32)).tolist()
    jumps = rng.integers(-1, 2, (4 * (h + w) * n, 2)).tolist()
    nj = 0
    nb = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    for _ in range(n):
        r, c = (int(v) for v in land[int(rng.integers(len(land)))])
        path = [(r, c)]
        for _ in range(4 * (h + w)):
            best, br, bc = z[r][c], r, c
            for dr, dc in nb:
                rr, cc = r + dr, c + dc
                if 0 <= rr < h and 0 <= cc < w and z[rr][cc] < best:
                    best, br, bc = z[rr][cc], rr, cc
            if (br, bc) == (r, c):  # a pit: raise it and step at random
                z[r][c] += 0.01
                dr, dc = jumps[nj % len(jumps)]
                nj += 1
                br, bc = min(max(r + dr, 0), h - 1), min(max(c + dc, 0), w - 1)
            r, c = br, bc
            path.append((r, c))
            if hgt[r, c] <= sea or r in (0, h - 1) or c in (0, w - 1):
                break
        if len(path) > 8:
            paths.append(path)
    return paths


def _jitter_line(rng, p0, p1, rough: float, depth: int = 4):
    """Midpoint-displaced polyline between two points."""
    pts = [p0, p1]
    for _ in range(depth):
        new = [pts[0]]
        for a, b in zip(pts[:-1], pts[1:]):
            L = math.hypot(b[0] - a[0], b[1] - a[1])
            mx = (a[0] + b[0]) / 2 + rng.normal(0, rough * L * 0.15)
            my = (a[1] + b[1]) / 2 + rng.normal(0, rough * L * 0.15)
            new += [(mx, my), b]
        pts = new
    return pts


def _edges(mask: np.ndarray) -> np.ndarray:
    e = np.zeros_like(mask, dtype=bool)
    e[:, 1:] |= mask[:, 1:] != mask[:, :-1]
    e[1:, :] |= mask[1:, :] != mask[:-1, :]
    return e


def _paint(arr: np.ndarray, mask: np.ndarray, colour, alpha: float = 1.0):
    if alpha >= 1:
        arr[mask] = colour
    else:
        arr[mask] = (arr[mask] * (1 - alpha) + np.asarray(colour, np.float32) * alpha).astype(
            np.uint8)


def _terrain(rng, h, w, style):
    """Low-resolution height field and land mask: (hgt, sea)."""
    hgt = _fractal(rng, h, w, rng.uniform(2, 6), 6, rng.uniform(0.45, 0.6))
    hgt = (hgt - hgt.min()) / max(1e-6, float(hgt.max() - hgt.min()))
    water_share = rng.uniform(0.05, 0.6) if style != "street" else 0.0
    sea = float(np.quantile(hgt, water_share)) if water_share > 0.06 else -1.0
    return hgt, sea


def _map_base(rng, ctx, W, H, style):
    """Raster base of the map area at full size: (rgb uint8 (H, W, 3), hgt_full, sea, hgt_lo)."""
    s = 3 if max(W, H) > 700 else 2
    h, w = max(8, H // s), max(8, W // s)
    hgt, sea = _terrain(rng, h, w, style)
    land = hgt > sea
    if style in ("physical", "topo"):
        lut = _ramp(_HYPSO[int(rng.integers(len(_HYPSO)))])
        wat = _ramp(_WATER[int(rng.integers(len(_WATER)))])
        rel = np.clip((hgt - sea) / max(1e-6, 1 - sea), 0, 1)
        if style == "topo":
            lut = _ramp([(0, (250, 250, 245)), (1, (245, 240, 225))]) if rng.random() < 0.5 else \
                _ramp([(0, (225, 240, 210)), (0.6, (245, 245, 230)), (1, (250, 250, 250))])
        rgb = lut[(rel * 255).astype(np.uint8)].astype(np.float32)
        depth = np.clip((sea - hgt) / max(1e-6, sea - hgt.min() + 1e-6), 0, 1)
        rgbw = wat[(depth * 255).astype(np.uint8)].astype(np.float32)
        if style == "topo":
            rgbw[:] = wat[40]
        rgb = np.where(land[..., None], rgb, rgbw)
        if style == "physical" or rng.random() < 0.3:  # hillshade, light from the north-west
            gy, gx = np.gradient(hgt * rng.uniform(20, 60) * (h / 300))
            shade = np.clip(0.75 + (-gx - gy) * 0.35 / np.sqrt(1 + gx ** 2 + gy ** 2), 0.45, 1.15)
            rgb = np.where(land[..., None], rgb * shade[..., None], rgb)
    elif style in ("choropleth", "political"):
        rgb = np.empty((h, w, 3), np.float32)
        rgb[:] = (170, 210, 235) if rng.random() < 0.6 else (255, 255, 255)
    else:  # street
        rgb = np.empty((h, w, 3), np.float32)
        rgb[:] = (238, 234, 224) if rng.random() < 0.6 else (245, 245, 240)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).resize((W, H), Image.BILINEAR)
    hf = np.asarray(Image.fromarray(hgt, "F").resize((W, H), Image.BILINEAR))
    return np.array(img), hf, sea, hgt


def _map_regions(rng, h, w, n):
    """Voronoi region ids (h, w) uint8 with wiggly borders."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    amp = rng.uniform(0.02, 0.08) * max(h, w)
    yy += _fractal(rng, h, w, 4, 4) * amp * 2
    xx += _fractal(rng, h, w, 4, 4) * amp * 2
    seeds = np.stack([rng.uniform(0, h, n), rng.uniform(0, w, n)], 1).astype(np.float32)
    best = np.full((h, w), np.inf, np.float32)
    ids = np.zeros((h, w), np.uint8)
    for i, (sy, sx) in enumerate(seeds):
        d = (yy - sy) ** 2 + (xx - sx) ** 2
        m = d < best
        best[m] = d[m]
        ids[m] = i
    return ids, seeds


def render_map(rng: np.random.Generator, assets: SynthAssets,
               size_px: tuple[int, int] | None = None, *, script: str | None = None
               ) -> np.ndarray:
    """Render one upright map or chart (physical, topographic, street plan, choropleth...).

    Parameters
    ----------
    rng : numpy Generator, the only source of randomness
    assets : SynthAssets
    size_px : (height, width) in pixels, or None for a random size

    Returns
    -------
    map : (H, W, 3) uint8 RGB, upright (label 0): labels horizontal, north up
    """
    if size_px is None:
        L = rng.uniform(700, 1300)
        a = float(np.exp(rng.uniform(np.log(0.6), np.log(1.8))))
        size_px = (int(L / a), int(L)) if a > 1 else (int(L), int(L * a))
    H, W = max(16, int(size_px[0])), max(16, int(size_px[1]))
    script = script or _pick_script(rng, assets)
    paper = (255, 255, 255) if rng.random() < 0.6 else _paper_colour(rng)
    ctx = _make_ctx(rng, assets, (W, H), script, paper=paper)
    ctx.ink = (int(rng.integers(0, 60)),) * 3
    style = str(rng.choice(["physical", "topo", "street", "choropleth", "political"],
                           p=[0.3, 0.2, 0.2, 0.18, 0.12]))
    # the map area: framed with margins (title above, labels in the margin) or the whole image
    unit = max(9, int(min(W, H) / rng.uniform(45, 80)))  # a typical label size
    framed = rng.random() < 0.6 and min(W, H) > unit * 25
    if framed:
        mx = int(unit * rng.uniform(3, 6))
        top = int(unit * rng.uniform(4, 7))
        box = (mx, top, W - mx, H - int(unit * rng.uniform(3, 6)))
    else:
        box = (0, 0, W, H)
    bw_, bh_ = box[2] - box[0], box[3] - box[1]
    base, hf, sea, hgt = _map_base(rng, ctx, bw_, bh_, style)
    land_full = hf > sea
    # styles
    if style in ("physical", "topo") and sea > -1:
        coast = _edges(land_full)
        _paint(base, coast, (60, 90, 140) if rng.random() < 0.6 else (40, 40, 40))
    if style == "topo":
        step = rng.choice([0.02, 0.025, 0.033, 0.05])
        lev = np.floor(hf / step).astype(np.int16)
        cont = _edges(lev) & land_full
        idx = _edges(np.floor(hf / (step * 5)).astype(np.int16)) & land_full
        idx[:, 1:] |= idx[:, :-1]
        col = (170, 110, 60) if rng.random() < 0.8 else (120, 120, 120)
        _paint(base, cont, col, 0.7)
        _paint(base, idx, tuple(int(c * 0.8) for c in col))
    if style in ("choropleth", "political"):
        s = 3
        h, w = max(8, bh_ // s), max(8, bw_ // s)
        n = int(rng.integers(6, 60))
        ids, seeds = _map_regions(rng, h, w, n)
        idsf = np.asarray(Image.fromarray(ids).resize((bw_, bh_), Image.NEAREST))
        land_ok = land_full if sea > -1 else np.ones_like(land_full)
        if style == "choropleth":
            lut = _ramp(_SEQ[int(rng.integers(len(_SEQ)))])
            k = int(rng.integers(4, 8))
            vals = rng.integers(0, k, n)
            cols = lut[(vals * 255 // max(1, k - 1)).astype(int)]
        else:
            pastel = rng.uniform(170, 245, (n, 3)).astype(np.uint8)
            cols = pastel
            k, lut = 0, None
        reg = cols[idsf]
        base = np.where(land_ok[..., None], reg, base)
        border = _edges(idsf) & land_ok
        border |= _edges(land_ok)
        _paint(base, border, (90, 90, 90) if rng.random() < 0.7 else (255, 255, 255))
    img = Image.fromarray(base)
    ctx.im.paste(img, box[:2])
    d = ctx.draw
    labels = _Labels()
    ox, oy = box[0], box[1]
    sc_y, sc_x = bh_ / hgt.shape[0], bw_ / hgt.shape[1]
    label_font_fam = ctx.body if rng.random() < 0.7 else ctx.head
    halo = (255, 255, 255) if rng.random() < 0.6 else None

    if style == "street":
        _draw_streets(ctx, rng, box, unit, labels)
        if framed:  # clip the plan to its frame: repaint the margins
            for band in ([0, 0, W, box[1]], [0, box[3], W, H], [0, 0, box[0], H],
                         [box[2], 0, W, H]):
                d.rectangle(band, fill=ctx.paper)
    else:
        # rivers
        if style != "choropleth" and sea > -1:
            rc = (70, 120, 200)
            for path in _river_paths(rng, hgt, sea, int(rng.integers(1, 7))):
                pts = [(ox + (c + 0.5) * sc_x, oy + (r + 0.5) * sc_y) for r, c in path[::2]]
                if len(pts) > 2:
                    d.line(pts, fill=rc, width=int(rng.integers(1, 4)), joint="curve")
        # cities and roads
        ncity = int(rng.integers(4, 40))
        landpts = np.argwhere(hgt > sea) if sea > -1 else np.argwhere(np.ones_like(hgt, bool))
        cities = []
        if len(landpts):
            pick = landpts[rng.integers(0, len(landpts), ncity)]
            cities = [(ox + (c + 0.5) * sc_x, oy + (r + 0.5) * sc_y) for r, c in pick]
        if style != "choropleth" and len(cities) > 1 and rng.random() < 0.85:
            road_cols = [(200, 40, 40), (230, 150, 30), (120, 120, 120), (250, 210, 80)]
            for i, p in enumerate(cities):
                dists = [math.hypot(p[0] - q[0], p[1] - q[1]) for q in cities]
                order = np.argsort(dists)[1:int(rng.integers(2, 4))]
                for j in order:
                    if j < i:
                        continue
                    pts = _jitter_line(rng, p, cities[j], 0.5, 3)
                    col = road_cols[int(rng.integers(len(road_cols)))]
                    wid = int(rng.integers(1, 4))
                    if wid > 1 and rng.random() < 0.5:
                        d.line(pts, fill=(90, 60, 40), width=wid + 2)
                    d.line(pts, fill=col, width=wid)
        for i, (x, y) in enumerate(cities):
            big = rng.random() < 0.2
            r = unit * (0.45 if big else 0.3)
            if big and rng.random() < 0.5:
                d.rectangle([x - r, y - r, x + r, y + r], fill=ctx.ink)
            else:
                d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255) if rng.random() < 0.3
                          else ctx.ink, outline=ctx.ink)
            sz = int(unit * (1.3 if big else rng.uniform(0.8, 1.1)))
            f = ctx.font(sz, "bold" if big else "regular", label_font_fam)
            name = _place_name(ctx)
            for dx_ in (r + 2, -(r + 2) - ctx.width(name, f)):
                if _map_label(ctx, labels, x, y, name, f, ctx.ink, halo, dx=dx_):
                    break
        # water / region names
        for _ in range(int(rng.integers(0, 4))):
            pts = np.argwhere(hgt <= sea) if (sea > -1 and rng.random() < 0.6) else None
            if pts is None or not len(pts):
                pts = np.argwhere(hgt > sea)
                fill, style_ = (ctx.ink, "bold")
            else:
                fill, style_ = ((40, 80, 160), "italic")
            if not len(pts):
                continue
            r_, c_ = pts[int(rng.integers(len(pts)))]
            f = ctx.font(int(unit * rng.uniform(1.3, 2.2)), style_, label_font_fam)
            name = _place_name(ctx)
            if ctx.script in ("latin", "cyrillic", "greek") and rng.random() < 0.6:
                name = " ".join(name.upper())
            _map_label(ctx, labels, ox + c_ * sc_x, oy + r_ * sc_y, name, f, fill, halo,
                       anchor="center")
        if style == "topo":  # contour labels
            step_m = int(rng.choice([10, 20, 50, 100]))
            f = ctx.font(max(8, int(unit * 0.8)), fam=ctx.latin)
            for _ in range(int(rng.integers(3, 15))):
                y_ = int(rng.integers(0, bh_))
                row = land_full[y_]
                if not row.any():
                    continue
                xs = np.flatnonzero(row)
                x_ = int(xs[int(rng.integers(len(xs)))])
                s = str(int(hf[y_, x_] * 100) * step_m)
                halo_ = tuple(int(v) for v in base[y_, x_])  # the map colour under it
                _map_label(ctx, labels, ox + x_, oy + y_, s, f, (150, 90, 40), halo_,
                           anchor="center")
    # graticule
    if rng.random() < 0.55 and style != "street":
        n_ = int(rng.integers(3, 8))
        lat0, lon0 = rng.uniform(-60, 60), rng.uniform(-170, 150)
        stepd = float(rng.choice([1, 2, 5, 10, 15]))
        gc = (80, 80, 120) if rng.random() < 0.5 else (120, 120, 120)
        f = ctx.font(max(8, int(unit * 0.85)), fam=ctx.latin)
        curved = rng.random() < 0.35
        bend = rng.uniform(0.02, 0.08) * bh_ if curved else 0
        for i in range(1, n_):
            x = ox + bw_ * i / n_
            d.line([(x, oy), (x, oy + bh_)], fill=gc, width=1)
            lon = lon0 + i * stepd
            s = f"{abs(lon):.0f}°{'E' if lon >= 0 else 'W'}"
            if framed:
                ctx.put((x - ctx.width(s, f) / 2, oy + bh_ + unit * 0.3), s, f, rtl=False)
                ctx.put((x - ctx.width(s, f) / 2, oy - unit * 1.5), s, f, rtl=False)
        for i in range(1, n_):
            y = oy + bh_ * i / n_
            pts = [(ox + bw_ * t / 16, y + bend * (1 - ((t - 8) / 8) ** 2)) for t in range(17)]
            d.line(pts, fill=gc, width=1)
            lat = lat0 + (n_ - i) * stepd
            s = f"{abs(lat):.0f}°{'N' if lat >= 0 else 'S'}"
            if framed:
                ctx.put((ox - ctx.width(s, f) - unit * 0.3, y - unit * 0.5), s, f, rtl=False)
                ctx.put((ox + bw_ + unit * 0.3, y - unit * 0.5), s, f, rtl=False)
    # frame, title, legend, scale bar, north arrow
    if framed:
        d.rectangle(list(box), outline=ctx.ink, width=int(rng.integers(1, 4)))
    tsz = int(unit * rng.uniform(1.8, 3.0))
    title = ctx.text.title(int(rng.integers(1, 5)))
    tf = ctx.font(tsz, "bold" if rng.random() < 0.7 else "regular", ctx.head)
    if framed:
        tw = ctx.width(title, tf)
        tx = (W - tw) / 2 if rng.random() < 0.6 else box[0]
        ctx.put((tx, max(2, box[1] - tsz * 1.35 - (unit * 1.5 if rng.random() < 0.3 else 0))),
                title, tf)
    elif rng.random() < 0.6:
        tw = ctx.width(title, tf)
        x, y = unit, unit
        d.rectangle([x, y, x + tw + unit, y + tsz * 1.5], fill=(255, 255, 255), outline=ctx.ink)
        ctx.put((x + unit / 2, y + tsz * 0.15), title, tf)
    if rng.random() < 0.65:
        if style == "choropleth" and lut is not None:
            entries = []
            lo = rng.uniform(0, 100)
            stepv = rng.choice([1, 5, 10, 50, 100])
            for i in range(k):
                entries.append(("fill", tuple(int(v) for v in lut[i * 255 // max(1, k - 1)]),
                                f"{lo + i * stepv:g} – {lo + (i + 1) * stepv:g}"))
        else:
            entries = [("dot", ctx.ink, ctx.text.words(1)),
                       ("line", (200, 40, 40), ctx.text.words(2)),
                       ("line", (70, 120, 200), ctx.text.words(1)),
                       ("fill", (170, 200, 120), ctx.text.words(1))][: int(rng.integers(2, 5))]
        lsz = max(8, int(unit * rng.uniform(0.8, 1.0)))
        corner = int(rng.integers(4))
        ew = lsz * 3.2 + max([ctx.width(e[2], ctx.font(lsz)) for e in entries] + [lsz * 4])
        eh = lsz * 1.5 * (len(entries) + 1) + lsz * 0.5
        lx = box[0] + unit if corner % 2 == 0 else box[2] - unit - ew
        ly = box[1] + unit if corner < 2 else box[3] - unit - eh
        if framed or corner >= 2 or rng.random() < 0.5:
            _legend(ctx, lx, ly, entries, lsz)
    if rng.random() < 0.6:
        _scale_bar(ctx, box[2] - unit * 14, box[3] - unit * 2.5, unit * 10,
                   max(8, int(unit * 0.9)))
    if rng.random() < 0.5:
        _north_arrow(ctx, box[2] - unit * 3, box[1] + unit * 2.5, unit * 1.6)
    return _degrade_light(rng, ctx.im)


def _draw_streets(ctx, rng, box, unit, labels):
    """A street plan: rotated grid, avenues, parks, a river, upright street names."""
    d = ctx.draw
    x0, y0, x1, y1 = box
    W_, H_ = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    th = math.radians(rng.uniform(-35, 35)) if rng.random() < 0.7 else 0.0
    ux, uy = math.cos(th), math.sin(th)
    vx, vy = -uy, ux
    R = math.hypot(W_, H_) / 2
    sp_u = unit * rng.uniform(5, 12)
    sp_v = sp_u * rng.uniform(0.6, 1.6)
    # parks and water first
    for _ in range(int(rng.integers(0, 5))):
        a, b = rng.uniform(-R, R, 2)
        w, h = sp_u * rng.integers(1, 4), sp_v * rng.integers(1, 3)
        poly = [(cx + (a + p) * ux + (b + q) * vx, cy + (a + p) * uy + (b + q) * vy)
                for p, q in ((0, 0), (w, 0), (w, h), (0, h))]
        d.polygon(poly, fill=(200, 225, 180) if rng.random() < 0.8 else (215, 210, 200))
    if rng.random() < 0.4:
        p0 = (x0 - 10, y0 + rng.uniform(0, H_))
        p1 = (x1 + 10, y0 + rng.uniform(0, H_))
        d.line(_jitter_line(rng, p0, p1, 0.4, 4), fill=(170, 205, 235),
               width=int(unit * rng.uniform(2, 5)), joint="curve")
    casing = (190, 185, 175)
    majors = []
    for axis in (0, 1):
        sp = sp_u if axis == 0 else sp_v
        n = int(R / sp) + 1
        for i in range(-n, n + 1):
            off = i * sp + rng.normal(0, sp * 0.05)
            major = rng.random() < 0.15
            if axis == 0:  # lines along v at u = off
                p = (cx + off * ux - R * vx, cy + off * uy - R * vy)
                q = (cx + off * ux + R * vx, cy + off * uy + R * vy)
            else:
                p = (cx - R * ux + off * vx, cy - R * uy + off * vy)
                q = (cx + R * ux + off * vx, cy + R * uy + off * vy)
            w = unit * (0.9 if major else 0.5)
            d.line([p, q], fill=casing, width=int(w + 2))
            if major:
                majors.append((p, q, w, axis))
            else:
                d.line([p, q], fill=(255, 255, 255), width=int(w))
    for p, q, w, axis in majors:
        d.line([p, q], fill=(250, 200, 90) if rng.random() < 0.7 else (240, 150, 120),
               width=int(w))
    if rng.random() < 0.5:  # a diagonal avenue
        p = (x0 + rng.uniform(0, W_), y0)
        q = (x0 + rng.uniform(0, W_), y1)
        d.line([p, q], fill=casing, width=int(unit * 1.1))
        d.line([p, q], fill=(255, 255, 255), width=int(unit * 0.9))
    # building footprints in a few blocks
    for _ in range(int(rng.integers(0, 60))):
        a, b = rng.uniform(-R, R, 2)
        a = (math.floor(a / sp_u) + rng.uniform(0.15, 0.6)) * sp_u
        b = (math.floor(b / sp_v) + rng.uniform(0.15, 0.6)) * sp_v
        w, h = sp_u * rng.uniform(0.15, 0.3), sp_v * rng.uniform(0.15, 0.3)
        poly = [(cx + (a + p) * ux + (b + q) * vx, cy + (a + p) * uy + (b + q) * vy)
                for p, q in ((0, 0), (w, 0), (w, h), (0, h))]
        d.polygon(poly, fill=(215, 205, 195), outline=(180, 170, 160))
    # upright street names and POIs
    fam = ctx.body
    halo = (255, 255, 255)
    for _ in range(int(rng.integers(6, 30))):
        x, y = x0 + rng.uniform(0, W_), y0 + rng.uniform(0, H_)
        f = ctx.font(int(unit * rng.uniform(0.8, 1.2)), "italic" if rng.random() < 0.3 else
                     "regular", fam)
        name = _place_name(ctx)
        if ctx.script == "latin" and rng.random() < 0.5:
            name += rng.choice([" St", " Ave", " Rd", " Street", "straße", " Blvd", " Way"])
        _map_label(ctx, labels, x, y, name, f, (60, 60, 60), halo, anchor="center")
    for _ in range(int(rng.integers(0, 12))):
        x, y = x0 + rng.uniform(0, W_), y0 + rng.uniform(0, H_)
        r = unit * 0.5
        col = tuple(int(v) for v in rng.choice([(200, 50, 50), (50, 100, 200), (60, 150, 60),
                                                (150, 80, 160)]))
        d.ellipse([x - r, y - r, x + r, y + r], fill=col, outline=(255, 255, 255))
        f = ctx.font(int(unit * 0.8), fam=fam)
        _map_label(ctx, labels, x, y, _place_name(ctx), f, col, halo, dx=r + 2)


def _degrade_light(rng, im: Image.Image) -> np.ndarray:
    """Mild, orientation-free degradations for maps."""
    if rng.random() < 0.25:
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.0))))
    arr = np.asarray(im)
    if rng.random() < 0.25:
        arr = _add_noise(rng, arr, float(rng.uniform(2, 8)), rng.random() < 0.5)
    if rng.random() < 0.4:
        arr = np.asarray(_jpeg(Image.fromarray(arr), int(rng.integers(35, 92))))
    return np.ascontiguousarray(arr)
