"""Drawing primitives on a PIL canvas: features, upright labels, legends, scale bar, arrows.

Every piece of text is drawn upright: horizontal with :func:`text`, or along a line with
:func:`text_along`, whose angle is folded into (-90, 90] degrees so it never reads upside
down. Map furniture (title, legends, scale bar, north arrow, graticule labels, frame) is
drawn in image axes, so north is always up.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .geo import Layer, label_point
from .project import Projection, View
from .style import font


class Boxes:
    """Occupied label rectangles, to keep labels from overlapping."""
    def __init__(self):
        self.b: list[tuple] = []

    def free(self, box, pad=2) -> bool:
        x0, y0, x1, y1 = box
        for a in self.b:
            if x0 - pad < a[2] and a[0] < x1 + pad and y0 - pad < a[3] and a[1] < y1 + pad:
                return False
        return True

    def add(self, box):
        self.b.append(box)


def project_parts(layer: Layer, idx, proj: Projection, view: View, closed: bool):
    """Pixel arrays per feature (list of lists), dropping parts cut by the seam or limb."""
    from .project import wrap_lon
    idx = list(idx)
    out: list[list[np.ndarray]] = [[] for _ in idx]
    plist = [(k, p) for k, i in enumerate(idx) for p in layer.parts[i]]
    if not plist:
        return out
    lens = np.array([len(p) for _, p in plist])
    owner = np.array([k for k, _ in plist])
    allp = np.concatenate([p for _, p in plist])
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    x, y = proj.forward(allp[:, 0], allp[:, 1])
    ok = np.isfinite(x) & np.isfinite(y)
    lim = 16 * max(view.px1, view.py1)
    xy = np.clip(view.to_px(np.where(ok, x, 0), np.where(ok, y, 0)), -lim, lim)
    if layer.crs == "lonlat" and proj.kind != "planar":
        jump = np.abs(np.diff(wrap_lon(allp[:, 0], proj.lon0))) > 180
    else:
        jump = np.zeros(len(allp) - 1, bool)
    inner = np.ones(len(allp) - 1, bool)          # segment i -> i+1 inside one part
    inner[starts[1:] - 1] = False
    if closed:
        jpart = np.add.reduceat(np.concatenate([jump & inner, [False]]).astype(np.int32), starts) > 0
        okfrac = np.add.reduceat(ok.astype(np.float32), starts) / lens
        for j in np.nonzero(~jpart & (okfrac >= 0.5) & (lens >= 3))[0]:
            s0, n = starts[j], lens[j]
            pxy = xy[s0:s0 + n]
            if okfrac[j] < 1:
                pxy = pxy[ok[s0:s0 + n]]
            out[owner[j]].append(pxy)
        return out
    brk = ~inner | jump | ~ok[1:] | ~ok[:-1]
    cuts = np.nonzero(brk)[0] + 1
    pstart = np.concatenate([[0], cuts])
    pend = np.concatenate([cuts, [len(allp)]])
    keep = (pend - pstart) > 1
    part_of = np.searchsorted(starts, pstart, side="right") - 1
    for a0, a1, j in zip(pstart[keep], pend[keep], part_of[keep]):
        if ok[a0]:
            out[owner[j]].append(xy[a0:a1])
    return out


def visible(layer: Layer, bb: np.ndarray, win) -> np.ndarray:
    """Indices of features whose lon/lat bbox meets ``win`` (None: all)."""
    if win is None:
        return np.arange(len(layer))
    x0, y0, x1, y1 = win
    m = (bb[:, 2] >= x0) & (bb[:, 0] <= x1) & (bb[:, 3] >= y0) & (bb[:, 1] <= y1)
    return np.nonzero(m)[0]


def polys(d: ImageDraw.ImageDraw, parts, fill=None, outline=None, width=1):
    for xy in parts:
        pts = [tuple(p) for p in xy.tolist()]
        if len(pts) >= 3:
            if fill is not None:
                d.polygon(pts, fill=fill)
            if outline is not None:
                d.line(pts + [pts[0]], fill=outline, width=width, joint="curve" if width > 2 else None)


def lines(d: ImageDraw.ImageDraw, parts, fill, width=1, dash=None):
    for xy in parts:
        pts = [tuple(p) for p in xy.tolist()]
        if len(pts) < 2:
            continue
        if dash is None:
            d.line(pts, fill=fill, width=width, joint="curve" if width > 2 else None)
        else:
            dashed(d, xy, fill, width, dash)


def dashed(d, xy, fill, width, dash):
    on, off = dash
    seg = np.diff(xy, axis=0)
    L = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0], np.cumsum(L)])
    total = cum[-1]
    s = 0.0
    while s < total:
        e = min(s + on, total)
        ts = np.linspace(s, e, 4)
        px = np.interp(ts, cum, xy[:, 0])
        py = np.interp(ts, cum, xy[:, 1])
        d.line(list(zip(px.tolist(), py.tolist())), fill=fill, width=width)
        s += on + off


def text(d: ImageDraw.ImageDraw, xy, s, fnt, fill, anchor="mm", halo=None, boxes: Boxes | None = None,
         halo_w=2) -> bool:
    """Horizontal text; returns False (drawing nothing) where it would overlap ``boxes``."""
    bb = d.textbbox(xy, s, font=fnt, anchor=anchor)
    if boxes is not None:
        if not boxes.free(bb):
            return False
        boxes.add(bb)
    if halo is not None:
        d.text(xy, s, font=fnt, fill=fill, anchor=anchor, stroke_width=halo_w, stroke_fill=halo)
    else:
        d.text(xy, s, font=fnt, fill=fill, anchor=anchor)
    return True


def upright_angle(dx: float, dy: float) -> float:
    """Counter-clockwise degrees of an image-axes direction, folded into (-90, 90]."""
    a = math.degrees(math.atan2(-dy, dx))
    if a > 90:
        a -= 180
    elif a <= -90:
        a += 180
    return a


def text_along(img: Image.Image, xy: np.ndarray, s: str, fnt, fill, halo=None,
               boxes: Boxes | None = None, max_angle: float = 90.0) -> bool:
    """Label a polyline at its middle, rotated to its direction but never upside down."""
    seg = np.diff(xy, axis=0)
    L = np.hypot(seg[:, 0], seg[:, 1])
    total = L.sum()
    tw = fnt.getlength(s)
    if total < tw * 1.1 or tw == 0:
        return False
    cum = np.concatenate([[0], np.cumsum(L)])
    mid = total / 2
    p0 = np.array([np.interp(mid - tw / 2, cum, xy[:, 0]), np.interp(mid - tw / 2, cum, xy[:, 1])])
    p1 = np.array([np.interp(mid + tw / 2, cum, xy[:, 0]), np.interp(mid + tw / 2, cum, xy[:, 1])])
    c = (p0 + p1) / 2
    ang = upright_angle(*(p1 - p0))
    if abs(ang) > max_angle:
        return False
    asc, desc = fnt.getmetrics()
    pad = (halo is not None) * 2 + 2
    tile = Image.new("LA", (int(tw) + 2 * pad, asc + desc + 2 * pad), (0, 0))
    td = ImageDraw.Draw(tile)
    if halo is not None:
        td.text((pad, pad), s, font=fnt, fill=(255, 255), stroke_width=2, stroke_fill=(0, 255))
    else:
        td.text((pad, pad), s, font=fnt, fill=(255, 255))
    rot = tile.rotate(ang, resample=Image.BICUBIC, expand=True)
    w, h = rot.size
    box = (int(c[0] - w / 2), int(c[1] - h / 2), int(c[0] - w / 2) + w, int(c[1] - h / 2) + h)
    if box[0] < 0 or box[1] < 0 or box[2] > img.width or box[3] > img.height:
        return False
    if boxes is not None:
        inner = (box[0] + w * 0.2, box[1] + h * 0.2, box[2] - w * 0.2, box[3] - h * 0.2)
        if not boxes.free(inner, pad=1):
            return False
        boxes.add(inner)
    lum, alpha = rot.split()
    # the "L" channel is 255 for glyph, 0 for halo: colour each from it
    if halo is not None:
        img.paste(Image.new("RGB", rot.size, halo), box[:2], alpha)
    glyph = Image.eval(lum, lambda v: v)
    glyph = Image.composite(glyph, Image.new("L", rot.size, 0), alpha)
    img.paste(Image.new("RGB", rot.size, fill), box[:2], glyph)
    return True


def label_features(d, layer: Layer, idx, proj, view, fnt_path, base_size, ink, halo,
                   boxes: Boxes, clip, rng, caps=False, min_area_px=300, max_n=60):
    """Names at feature label points, bigger features first, skipping overlaps."""
    cand = []
    for i in idx:
        nm = layer.names[i]
        if not nm:
            continue
        lp = label_point(layer.parts[i])
        x, y = proj.forward(lp[:1], lp[1:])
        if not (np.isfinite(x[0]) and np.isfinite(y[0])):
            continue
        px, py = view.to_px(x, y)[0]
        if not (clip[0] + 10 < px < clip[2] - 10 and clip[1] + 6 < py < clip[3] - 6):
            continue
        bb = np.concatenate(layer.parts[i])
        bx, by = proj.forward(bb[:, 0], bb[:, 1])
        area = (np.nanmax(bx) - np.nanmin(bx)) * (np.nanmax(by) - np.nanmin(by)) * view.scale ** 2
        if area < min_area_px:
            continue
        cand.append((area, px, py, nm))
    cand.sort(reverse=True)
    n = 0
    for area, px, py, nm in cand:
        size = base_size * float(np.clip((area ** 0.5) / 180, 0.75, 1.5))
        s = nm.upper() if caps else nm
        if text(d, (px, py), s, font(fnt_path, size), ink, halo=halo, boxes=boxes):
            n += 1
        if n >= max_n:
            break


def nice_step(span: float, n: int = 4) -> float:
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt_num(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.1f}B"
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.1f}"
    return f"{v:.2f}"


def legend_classes(d, corner_xy, entries, fnt_path, size, ink, bg, rng, title=None,
                   anchor="bl", boxes: Boxes | None = None):
    """A boxed legend of (colour, label) rows placed at a corner point."""
    f = font(fnt_path, size)
    ft = font(fnt_path, int(size * 1.15))
    sw = int(size * 1.4)
    rowh = int(size * 1.5)
    wtxt = max([f.getlength(t) for _, t in entries] + [ft.getlength(title) if title else 0])
    w = int(sw + size * 0.6 + wtxt + size * 1.2)
    h = int(len(entries) * rowh + (rowh * 1.3 if title else 0) + size)
    x, y = corner_xy
    x0 = x if anchor[1] == "l" else x - w
    y0 = y - h if anchor[0] == "b" else y
    if bg is not None:
        d.rectangle((x0, y0, x0 + w, y0 + h), fill=bg, outline=ink if rng.random() < 0.7 else None)
    cy = y0 + size * 0.5
    if title:
        d.text((x0 + size * 0.6, cy), title, font=ft, fill=ink)
        cy += rowh * 1.3
    for col, lab in entries:
        d.rectangle((x0 + size * 0.6, cy, x0 + size * 0.6 + sw, cy + rowh * 0.75), fill=col,
                    outline=ink if rng.random() < 0.5 else None)
        d.text((x0 + size * 0.6 + sw + size * 0.5, cy + rowh * 0.375), lab, font=f, fill=ink,
               anchor="lm")
        cy += rowh
    if boxes is not None:
        boxes.add((x0, y0, x0 + w, y0 + h))
    return (x0, y0, x0 + w, y0 + h)


def legend_bar(img, d, box, colours: np.ndarray, ticks, fnt_path, size, ink, title=None,
               vertical=False):
    """A continuous colour bar in ``box`` with tick labels (``ticks``: (t in 0..1, text))."""
    x0, y0, x1, y1 = [int(v) for v in box]
    f = font(fnt_path, size)
    if title:
        d.text((x0, y0 - 4), title, font=font(fnt_path, int(size * 1.1)), fill=ink, anchor="ld")
    n = len(colours)
    if vertical:
        h = y1 - y0
        strip = np.repeat(colours[::-1][np.linspace(0, n - 1, h).astype(int)][:, None], x1 - x0, 1)
        img.paste(Image.fromarray(strip.astype(np.uint8)), (x0, y0))
        d.rectangle((x0, y0, x1, y1), outline=ink)
        for t, s in ticks:
            yy = y1 - t * h
            d.line((x1, yy, x1 + 4, yy), fill=ink)
            d.text((x1 + 6, yy), s, font=f, fill=ink, anchor="lm")
    else:
        w = x1 - x0
        strip = np.repeat(colours[np.linspace(0, n - 1, w).astype(int)][None], y1 - y0, 0)
        img.paste(Image.fromarray(strip.astype(np.uint8)), (x0, y0))
        d.rectangle((x0, y0, x1, y1), outline=ink)
        for t, s in ticks:
            xx = x0 + t * w
            d.line((xx, y1, xx, y1 + 4), fill=ink)
            d.text((xx, y1 + 5), s, font=f, fill=ink, anchor="ma")


def scale_bar(d, xy, km_per_px: float, fnt_path, size, ink, rng, max_px=180, anchor="l"):
    """Alternating-block scale bar whose length is a round number of km (or m)."""
    km = nice_step(km_per_px * max_px, 1)
    px = km / km_per_px
    if px < 20:
        return
    unit, val = ("m", km * 1000) if km < 1 else ("km", km)
    x, y = xy
    if anchor == "r":
        x -= px
    n = int(rng.choice([1, 2, 4, 5])) if val % 4 == 0 or val % 5 == 0 else 2
    hgt = max(3, size // 3)
    style = rng.integers(3)
    f = font(fnt_path, size)
    for i in range(n):
        a, b = x + px * i / n, x + px * (i + 1) / n
        if style == 2:
            d.line((a, y, b, y), fill=ink, width=2)
            d.line((a, y - hgt, a, y), fill=ink, width=1)
        else:
            d.rectangle((a, y - hgt, b, y), fill=ink if i % 2 == 0 else (255, 255, 255),
                        outline=ink)
    if style == 2:
        d.line((x + px, y - hgt, x + px, y), fill=ink)
    vs = f"{val:g}"
    if rng.random() < 0.5:
        d.text((x, y - hgt - 2), "0", font=f, fill=ink, anchor="md")
        d.text((x + px, y - hgt - 2), f"{vs} {unit}", font=f, fill=ink, anchor="md")
    else:
        d.text((x + px / 2, y + 3), f"{vs} {unit}", font=f, fill=ink, anchor="ma")


def north_arrow(d, xy, size, ink, fnt_path, rng, fill2=(255, 255, 255)):
    """A north arrow or compass point, pointing to the top of the image."""
    x, y = xy
    s = size
    kind = rng.integers(4)
    f = font(fnt_path, int(s * 0.45))
    if kind == 0:       # half-filled arrowhead
        d.polygon([(x, y - s / 2), (x - s / 4, y + s / 2), (x, y + s / 4)], fill=ink)
        d.polygon([(x, y - s / 2), (x + s / 4, y + s / 2), (x, y + s / 4)], fill=fill2, outline=ink)
        d.text((x, y - s / 2 - 2), "N", font=f, fill=ink, anchor="md")
    elif kind == 1:     # line with arrow
        d.line((x, y + s / 2, x, y - s / 2), fill=ink, width=max(1, s // 12))
        d.polygon([(x, y - s / 2 - 2), (x - s / 6, y - s / 6), (x + s / 6, y - s / 6)], fill=ink)
        d.text((x, y + s / 2 + 2), "N", font=f, fill=ink, anchor="ma")
    elif kind == 2:     # four-point star
        r, q = s / 2, s / 9
        for ang in range(4):
            a = ang * math.pi / 2
            tip = (x + r * math.sin(a), y - r * math.cos(a))
            l = (x + q * math.sin(a - math.pi / 2), y - q * math.cos(a - math.pi / 2))
            rr = (x + q * math.sin(a + math.pi / 2), y - q * math.cos(a + math.pi / 2))
            d.polygon([tip, l, (x, y)], fill=ink)
            d.polygon([tip, rr, (x, y)], fill=fill2 if ang == 0 else ink, outline=ink)
        d.text((x, y - r - 2), "N", font=f, fill=ink, anchor="md")
    else:               # "N" above a triangle
        d.polygon([(x, y - s / 3), (x - s / 5, y + s / 3), (x + s / 5, y + s / 3)], fill=ink)
        d.text((x, y - s / 3 - 2), "N", font=f, fill=ink, anchor="md")


def deg_label(v: float, ns: bool, style: int) -> str:
    h = ("N" if v > 0 else "S" if v < 0 else "") if ns else ("E" if v > 0 else "W" if v < 0 else "")
    a = abs(v)
    num = f"{a:g}"
    if style == 0:
        return f"{num}°{h}"
    if style == 1:
        return f"{num}° {h}".strip()
    return f"{v:g}°"


def graticule(d, proj: Projection, view: View, lonlat_box, clip, ink, width, fnt_path, size,
              rng, labels=True, dash=None, boxes=None):
    """Meridians and parallels at a round step, with degree labels at the frame edges."""
    lo0, la0, lo1, la1 = lonlat_box
    step = nice_step(max(lo1 - lo0, la1 - la0), int(rng.integers(3, 7)))
    step = min([s for s in (0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60) if s >= step] or [60])
    style = int(rng.integers(3))
    f = font(fnt_path, size)
    cx0, cy0, cx1, cy1 = clip
    for lon in np.arange(math.ceil(lo0 / step) * step, lo1 + 1e-9, step):
        lat = np.linspace(max(la0, -89), min(la1, 89), 120)
        x, y = proj.forward(np.full_like(lat, lon), lat)
        xy = view.to_px(x, y)
        xy = xy[np.isfinite(xy).all(1)]
        if len(xy) > 1:
            lines(d, [xy], ink, width, dash)
            if labels:
                bot = xy[np.argmax(xy[:, 1])] if xy[:, 1].max() >= cy1 - 2 else None
                if bot is not None and cx0 + 10 < bot[0] < cx1 - 10:
                    d.text((bot[0], cy1 + 3), deg_label(round(lon, 4), False, style), font=f,
                           fill=ink, anchor="ma")
    for lat in np.arange(math.ceil(la0 / step) * step, la1 + 1e-9, step):
        lon = np.linspace(lo0, lo1, 160)
        x, y = proj.forward(lon, np.full_like(lon, lat))
        xy = view.to_px(x, y)
        xy = xy[np.isfinite(xy).all(1)]
        if len(xy) > 1:
            lines(d, [xy], ink, width, dash)
            if labels:
                lft = xy[np.argmin(xy[:, 0])]
                if lft[0] <= cx0 + 2 and cy0 + 8 < lft[1] < cy1 - 8:
                    d.text((cx0 - 3, lft[1]), deg_label(round(lat, 4), True, style), font=f,
                           fill=ink, anchor="rm")
