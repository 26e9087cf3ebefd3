"""Document blocks (headings, paragraphs, tables, lists, figures ...): each takes (ctx, st, x0, y, w, bottom) and returns the new y."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .layout import _draw_paragraph
from .scripts import _COMPLEX
from .text import _number

__all__ = []


# Document blocks. Each takes (ctx, st, x0, y, w, bottom) and returns the new y.
# ----------------------------------------------------------------------------------------------


@dataclass
class _Style:
    size: int  # body font size, px
    leading: float  # line pitch / font size
    align: str
    para_gap: float  # px
    indent: float  # px, first-line indent
    head_scale: float
    numbered_heads: bool
    fig_no: int = 0
    tab_no: int = 0
    eq_no: int = 0
    sec_no: int = 0


def _block_paragraph(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    n = int(rng.integers(80, 700))
    style = "italic" if rng.random() < 0.06 else "regular"
    return _draw_paragraph(ctx, x0, y, w, bottom, ctx.text.passage(n), ctx.font(st.size, style),
                           st.size, st.leading, st.align, st.indent) + st.para_gap


def _block_heading(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    st.sec_no += 1
    size = int(st.size * st.head_scale * rng.uniform(0.9, 1.2))
    txt = ctx.text.title(int(rng.integers(1, 7)))
    if st.numbered_heads:
        sub = int(rng.integers(0, 4))
        txt = f"{st.sec_no}.{sub} {txt}" if sub and not ctx.rtl else f"{st.sec_no} {txt}"
    y += st.size * rng.uniform(0.3, 1.2)
    fill = ctx.accent if rng.random() < 0.3 else ctx.ink
    style = "bold" if rng.random() < 0.8 else "italic"
    y = _draw_paragraph(ctx, x0, y, w, bottom, txt, ctx.font(size, style, ctx.head), size, 1.2,
                        "center" if rng.random() < 0.15 else "left", fill=fill)
    if rng.random() < 0.15:
        ctx.draw.line([(x0, y), (x0 + w, y)], fill=fill, width=max(1, size // 14))
    return y + st.size * rng.uniform(0.2, 0.8)


def _block_list(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    kind = int(rng.integers(5))
    bullets = ["•", "–", "▪", "◦", "*"]
    bullet = bullets[int(rng.integers(len(bullets)))]
    font = ctx.font(st.size)
    ind = st.size * rng.uniform(1.2, 2.5)
    for i in range(int(rng.integers(2, 8))):
        if y + st.size > bottom:
            break
        mark = (f"{i + 1}." if kind == 1 else f"{chr(97 + i)})" if kind == 2 else
                f"({i + 1})" if kind == 3 else bullet)
        mfont = ctx.font(st.size, fam=ctx.latin)
        if ctx.rtl:
            ctx.put((x0 + w - ind * 0.8, y), mark, mfont, rtl=False)
            y = _draw_paragraph(ctx, x0, y, w - ind, bottom,
                                ctx.text.passage(int(rng.integers(20, 200))), font, st.size,
                                st.leading, "right")
        else:
            ctx.put((x0 + ind * 0.25, y), mark, mfont)
            y = _draw_paragraph(ctx, x0 + ind, y, w - ind, bottom,
                                ctx.text.passage(int(rng.integers(20, 200))), font, st.size,
                                st.leading, "left")
        y += st.size * rng.uniform(0, 0.5)
    return y + st.para_gap


def _block_table(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    size = max(8, int(st.size * rng.uniform(0.8, 1.0)))
    ncol = int(rng.integers(2, 8))
    nrow = int(rng.integers(3, 18))
    rh = size * rng.uniform(1.4, 2.0)
    need = rh * (nrow + 2)
    if y + rh * 4 > bottom:
        return bottom
    nrow = min(nrow, int((bottom - y) / rh) - 2)
    st.tab_no += 1
    cap_font = ctx.font(size, "bold" if rng.random() < 0.5 else "regular")
    if rng.random() < 0.7:
        cap = f"Table {st.tab_no}. " if ctx.script == "latin" else f"{st.tab_no}. "
        y = _draw_paragraph(ctx, x0, y, w, bottom, cap + ctx.text.words(int(rng.integers(3, 12))),
                            cap_font, size, 1.2, "left") + size * 0.3
    tw = w * rng.uniform(0.6, 1.0)
    tx = x0 + (w - tw) / 2
    first = tw * rng.uniform(0.2, 0.45)
    colw = [first] + [(tw - first) / (ncol - 1)] * (ncol - 1) if ncol > 1 else [tw]
    style = ("booktabs", "grid", "zebra", "plain")[int(rng.integers(4))]
    lw = max(1, size // 12)
    hfont = ctx.font(size, "bold")
    bfont = ctx.font(size)
    nfont = ctx.font(size, fam=ctx.latin)
    numkind = [("int", "float", "pct", "money")[int(rng.integers(4))] for _ in range(ncol)]
    top = y
    if style in ("booktabs", "grid"):
        ctx.draw.line([(tx, y), (tx + tw, y)], fill=ctx.ink, width=lw * 2)
    for r in range(nrow + 1):
        if style == "zebra" and r % 2 == 1:
            g = tuple(max(0, c - 18) for c in ctx.paper)
            ctx.draw.rectangle([tx, y, tx + tw, y + rh], fill=g)
        if style == "zebra" and r == 0:
            ctx.draw.rectangle([tx, y, tx + tw, y + rh], fill=ctx.accent)
        cx = tx
        for c in range(ncol):
            pad = size * 0.3
            if r == 0:
                s = ctx.text.words(int(rng.integers(1, 3)))
                f = hfont
                fill = ctx.paper if style == "zebra" else ctx.ink
            elif c == 0:
                s, f, fill = ctx.text.words(int(rng.integers(1, 4))), bfont, ctx.ink
            else:
                s, f, fill = _number(rng, numkind[c]), nfont, ctx.ink
            maxw = colw[c] - 2 * pad
            while len(s) > 1 and ctx.width(s, f) > maxw:
                s = s[: max(1, int(len(s) * 0.8))]
            sw = ctx.width(s, f)
            numeric = r > 0 and c > 0
            if numeric or (ctx.rtl and f is not nfont):
                xx = cx + colw[c] - pad - sw
            else:
                xx = cx + pad
            ctx.put((xx, y + (rh - size) / 2), s, f, fill, rtl=ctx.rtl and not numeric)
            cx += colw[c]
        y += rh
        if r == 0 and style in ("booktabs", "grid"):
            ctx.draw.line([(tx, y), (tx + tw, y)], fill=ctx.ink, width=lw)
        elif style == "grid":
            ctx.draw.line([(tx, y), (tx + tw, y)], fill=ctx.ink, width=lw)
    if style in ("booktabs", "grid"):
        ctx.draw.line([(tx, y), (tx + tw, y)], fill=ctx.ink, width=lw * 2)
    if style == "grid":
        cx = tx
        for c in range(ncol + 1):
            ctx.draw.line([(cx, top), (cx, y)], fill=ctx.ink, width=lw)
            cx += colw[c] if c < ncol else 0
    del need
    return y + st.para_gap + size


def _smooth_noise(rng, h: int, w: int, cells: int, channels: int = 1) -> np.ndarray:
    """Smooth random field in [0, 1], (h, w, channels) float32, from an upsampled grid."""
    gh = max(2, int(round(cells * h / max(h, w))) + 1)
    gw = max(2, int(round(cells * w / max(h, w))) + 1)
    out = np.empty((h, w, channels), np.float32)
    for c in range(channels):
        g = Image.fromarray(rng.random((gh, gw), dtype=np.float32), "F")
        out[..., c] = np.asarray(g.resize((w, h), Image.BICUBIC))
    return np.clip(out, 0, 1)


def _photo_like(rng, w: int, h: int) -> Image.Image:
    """A blurry photograph-like colour patch (sky above ground, blobs)."""
    w, h = max(4, int(w)), max(4, int(h))
    base = _smooth_noise(rng, h, w, int(rng.integers(3, 9)), 3)
    fine = _smooth_noise(rng, h, w, int(rng.integers(12, 40)), 1)
    pal = rng.uniform(30, 230, (2, 3)).astype(np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    if rng.random() < 0.6:  # sky/ground split: a natural upright cue
        hz = rng.uniform(0.3, 0.7)
        sky = np.array([rng.uniform(120, 200), rng.uniform(160, 220), rng.uniform(200, 255)],
                       np.float32)
        grad = np.where(t < hz, sky * (0.8 + 0.2 * t / hz), pal[1] * (0.6 + 0.4 * base))
    else:
        grad = pal[0] * (1 - base) + pal[1] * base
    img = grad * (0.75 + 0.5 * fine)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def _text_box(ctx, s, font, fill, angle=0):
    """Render a line into a small RGBA image (for rotated labels)."""
    f = font[0]
    l, t, r, b = f.getbbox(s)
    im = Image.new("L", (int(r - l) + 4, int(b - t) + 4), 0)
    ImageDraw.Draw(im).text((2 - l, 2 - t), s, font=f, fill=255)
    if angle:
        im = im.rotate(angle, expand=True)
    col = Image.new("RGB", im.size, fill)
    return col, im


def _block_figure(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    fw = w * rng.uniform(0.55, 1.0)
    fh = min(fw * rng.uniform(0.45, 0.9), bottom - y - st.size * 3)
    if fh < st.size * 8:
        return _block_paragraph(ctx, st, x0, y, w, bottom)
    fx = x0 + (w - fw) / 2
    kind = rng.choice(["plot", "plot", "bars", "photo", "diagram"])
    if kind in ("plot", "bars"):
        _draw_plot(ctx, fx, y, fw, fh, st.size, bars=kind == "bars")
    elif kind == "photo":
        ctx.im.paste(_photo_like(rng, fw, fh), (int(fx), int(y)))
        if rng.random() < 0.5:
            ctx.draw.rectangle([fx, y, fx + fw, y + fh], outline=ctx.ink, width=1)
    else:
        _draw_diagram(ctx, fx, y, fw, fh, st.size)
    y += fh + st.size * 0.6
    st.fig_no += 1
    size = max(8, int(st.size * rng.uniform(0.8, 1.0)))
    cap = (f"Figure {st.fig_no}: " if ctx.script == "latin" and rng.random() < 0.7
           else f"Fig. {st.fig_no}. ")
    if ctx.script != "latin":
        cap = f"{st.fig_no}. "
    y = _draw_paragraph(ctx, x0, y, w, bottom, cap + ctx.text.passage(int(rng.integers(20, 160))),
                        ctx.font(size, "italic" if rng.random() < 0.4 else "regular"), size,
                        1.2, "center" if rng.random() < 0.4 else "left")
    return y + st.para_gap + st.size


def _nice_ticks(lo, hi, n):
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    ticks = []
    v = start
    while v <= hi + 1e-9 and len(ticks) < 12:
        ticks.append(v)
        v += step
    return ticks, step


def _fmt_tick(v, step):
    if step >= 1:
        return f"{v:.0f}"
    d = max(0, -int(math.floor(math.log10(step))))
    return f"{v:.{d}f}"


def _draw_plot(ctx, fx, fy, fw, fh, size, bars=False):
    rng, d = ctx.rng, ctx.draw
    ts = max(8, int(size * rng.uniform(0.7, 1.0)))
    tf = ctx.font(ts, fam=ctx.latin)
    left, bottom_pad = ts * 3.6, ts * 2.8
    ax0, ay0 = fx + left, fy + ts * 0.6
    ax1, ay1 = fx + fw - ts * 0.8, fy + fh - bottom_pad
    if ax1 - ax0 < 30 or ay1 - ay0 < 30:
        return
    axis = ctx.ink
    xlo, xhi = 0.0, float(10 ** rng.uniform(0, 3))
    xt, xs = _nice_ticks(xlo, xhi, int(rng.integers(4, 8)))
    n = int(rng.integers(1, 5))
    xs_ = np.linspace(xlo, xhi, 60)
    curves = []
    for _ in range(n):
        a = rng.normal(0, 1, 4)
        yv = a[0] + a[1] * xs_ / xhi + a[2] * np.sin(xs_ / xhi * rng.uniform(2, 12) + a[3])
        curves.append(yv)
    ylo = min(c.min() for c in curves)
    yhi = max(c.max() for c in curves)
    if bars:
        ylo = 0.0
        yhi = max(yhi - min(c.min() for c in curves), 1e-3) * 1.1
    yt, ys = _nice_ticks(ylo, yhi + 1e-6, int(rng.integers(4, 7)))
    ylo, yhi = min(ylo, yt[0]), max(yhi, yt[-1])

    def X(v):
        return ax0 + (v - xlo) / (xhi - xlo) * (ax1 - ax0)

    def Y(v):
        return ay1 - (v - ylo) / (yhi - ylo) * (ay1 - ay0)

    grid = rng.random() < 0.4
    box = rng.random() < 0.5
    for v in yt:
        yy = Y(v)
        if grid:
            d.line([(ax0, yy), (ax1, yy)], fill=(200, 200, 200), width=1)
        d.line([(ax0 - ts * 0.4, yy), (ax0, yy)], fill=axis, width=1)
        s = _fmt_tick(v, ys)
        d.text((ax0 - ts * 0.6 - tf[0].getlength(s), yy - ts * 0.6), s, font=tf[0], fill=axis)
    for v in xt:
        xx = X(v)
        if grid:
            d.line([(xx, ay0), (xx, ay1)], fill=(200, 200, 200), width=1)
        d.line([(xx, ay1), (xx, ay1 + ts * 0.4)], fill=axis, width=1)
        s = _fmt_tick(v, xs)
        d.text((xx - tf[0].getlength(s) / 2, ay1 + ts * 0.5), s, font=tf[0], fill=axis)
    cols = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (0, 0, 0), (90, 90, 90)]
    if rng.random() < 0.25:
        cols = [(0, 0, 0), (80, 80, 80), (140, 140, 140), (40, 40, 40)]
    if bars:
        c0 = curves[0] - min(c.min() for c in curves)
        k = int(rng.integers(4, 16))
        bw = (ax1 - ax0) / k
        for i in range(k):
            v = c0[int(i * len(c0) / k)]
            d.rectangle([ax0 + i * bw + bw * 0.15, Y(v), ax0 + (i + 1) * bw - bw * 0.15, ay1],
                        fill=cols[i % 2 if rng.random() < 0.1 else 0], outline=axis)
    else:
        scatter = rng.random() < 0.3
        for i, c in enumerate(curves):
            pts = [(X(a), Y(b)) for a, b in zip(xs_, c)]
            col = cols[i % len(cols)]
            if scatter and i == 0:
                r = max(1.5, ts * 0.2)
                for (px, py) in pts[::2]:
                    py += rng.normal(0, (ay1 - ay0) * 0.03)
                    d.ellipse([px - r, py - r, px + r, py + r], fill=col)
            else:
                d.line(pts, fill=col, width=int(rng.integers(1, 3)))
        if n > 1 and rng.random() < 0.6:  # legend
            lx, ly = ax1 - ts * 8, ay0 + ts * 0.5
            for i in range(n):
                d.line([(lx, ly + ts * 0.6), (lx + ts * 1.5, ly + ts * 0.6)],
                       fill=cols[i % len(cols)], width=2)
                d.text((lx + ts * 2, ly), ctx.text.words(1)[:10] if rng.random() < 0.5 else
                       f"n={int(rng.integers(1, 100))}",
                       font=ctx.font(ts)[0] if ctx.script not in _COMPLEX else tf[0],
                       fill=axis)
                ly += ts * 1.3
    d.line([(ax0, ay0), (ax0, ay1), (ax1, ay1)], fill=axis, width=1)
    if box:
        d.line([(ax0, ay0), (ax1, ay0), (ax1, ay1)], fill=axis, width=1)
    # axis labels: x below, y rotated (reads bottom to top, as in print)
    lab = ctx.text.words(int(rng.integers(1, 3)))
    lf = ctx.font(ts)
    if ctx.script not in _COMPLEX:
        lw_ = ctx.width(lab, lf)
        ctx.put(((ax0 + ax1 - lw_) / 2, ay1 + ts * 1.6), lab, lf)
        col, mask = _text_box(ctx, ctx.text.words(1)[:14], lf, ctx.ink, angle=90)
        ctx.im.paste(col, (int(fx), int((ay0 + ay1 - mask.size[1]) / 2)), mask)


def _draw_diagram(ctx, fx, fy, fw, fh, size):
    rng, d = ctx.rng, ctx.draw
    n = int(rng.integers(2, 6))
    bw = fw / (n * 1.6)
    bh = min(fh * 0.35, size * 3.5)
    rows = 1 if rng.random() < 0.6 else 2
    font = ctx.font(max(8, int(size * 0.9)))
    centers = []
    for r in range(rows):
        cy = fy + fh * (r + 0.5) / rows
        for i in range(n):
            cx = fx + fw * (i + 0.5) / n
            fill = None if rng.random() < 0.5 else tuple(
                int(v) for v in rng.uniform(190, 250, 3))
            box = [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]
            if rng.random() < 0.3:
                d.ellipse(box, outline=ctx.ink, fill=fill, width=1)
            else:
                d.rectangle(box, outline=ctx.ink, fill=fill, width=1)
            s = ctx.text.words(1)
            while len(s) > 1 and ctx.width(s, font) > bw * 0.9:
                s = s[:-1]
            ctx.put((cx - ctx.width(s, font) / 2, cy - size * 0.55), s, font)
            centers.append((cx, cy))
            if i:
                px = centers[-2][0] + bw / 2
                d.line([(px, cy), (cx - bw / 2, cy)], fill=ctx.ink, width=1)
                ah = size * 0.4
                d.polygon([(cx - bw / 2, cy), (cx - bw / 2 - ah, cy - ah / 2),
                           (cx - bw / 2 - ah, cy + ah / 2)], fill=ctx.ink)


_MATH_VARS = "xyzabcnkt"
_MATH_GREEK = "αβγδεθλμσφωπ"


def _block_equation(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    size = st.size
    if y + size * 3 > bottom:
        return bottom
    f = ctx.font(size, fam=ctx.latin)
    fi = ctx.font(size, "italic", fam=ctx.latin)
    fs = ctx.font(max(7, int(size * 0.7)), fam=ctx.latin)
    # a list of (kind, text) items: 't' text, 's' superscript, 'f' fraction (num, den)
    items = []
    lhs = rng.choice(list("fgEFLPVu")) + f"({rng.choice(list(_MATH_VARS))})"
    items.append(("i", lhs))
    items.append(("t", " = "))
    for k in range(int(rng.integers(1, 5))):
        if k:
            items.append(("t", f" {rng.choice(['+', '−', '·', '×', '≤', '≈'])} "))
        r = rng.random()
        if r < 0.3:
            items.append(("f", (f"{rng.choice(list(_MATH_GREEK))}{rng.choice(list(_MATH_VARS))}",
                                f"{int(rng.integers(2, 20))}{rng.choice(list(_MATH_VARS))}")))
        elif r < 0.5:
            items.append(("t", f"{rng.choice(['∑', '∫', '∏', '√'])}"))
            items.append(("i", f"{rng.choice(list(_MATH_VARS))}"))
            items.append(("s", f"{int(rng.integers(2, 5))}"))
        elif r < 0.8:
            items.append(("i", f"{rng.choice(list(_MATH_GREEK + _MATH_VARS))}"))
            items.append(("s", f"{rng.choice(['2', 'n', 'k', '−1', 'T'])}"))
        else:
            items.append(("t", f"{rng.uniform(0, 10):.{int(rng.integers(0, 3))}f}"))
    widths = []
    for kind, t in items:
        if kind == "f":
            widths.append(max(ctx.width(t[0], fs), ctx.width(t[1], fs)) + size * 0.3)
        else:
            widths.append(ctx.width(t, fs if kind == "s" else f))
    total = sum(widths)
    x = x0 + (w - total) / 2 if rng.random() < 0.8 else x0 + size * 2
    yb = y + size * 0.8
    for (kind, t), wd in zip(items, widths):
        if kind == "t":
            ctx.put((x, yb), t, f, rtl=False)
        elif kind == "i":
            ctx.put((x, yb), t, fi, rtl=False)
        elif kind == "s":
            ctx.put((x, yb - size * 0.35), t, fs, rtl=False)
        else:
            mid = yb + size * 0.6
            ctx.put((x + (wd - ctx.width(t[0], fs)) / 2, mid - size * 0.95), t[0], fs, rtl=False)
            ctx.draw.line([(x, mid), (x + wd, mid)], fill=ctx.ink, width=max(1, size // 16))
            ctx.put((x + (wd - ctx.width(t[1], fs)) / 2, mid + size * 0.1), t[1], fs, rtl=False)
        x += wd
    if rng.random() < 0.6:
        st.eq_no += 1
        s = f"({st.eq_no})"
        ctx.put((x0 + w - ctx.width(s, f), yb), s, f, rtl=False)
    return y + size * 3.2


_CODE = [
    "def {a}({b}, {c}=None):", "    return {b} + {n}", "for (int i = 0; i < {n}; i++) {{",
    "    {a}[i] = {b}(i) * {n};", "}}", "if {a} is not None and {b} > {n}:",
    "    {a}.append({b})", "import {a}", "from {a} import {b}", "class {A}({B}):",
    "    self.{a} = {b}", "# {a} {b} {c}", "{a} = [{n}, {m}, {n}]", "print(f\"{{{a}}}\")",
    "while ({a} != NULL) {{", "    {a} = {a}->{b};", "let {a} = {b}.map(|x| x * {n});",
    "SELECT {a}, {b} FROM {c} WHERE {a} > {n};", "#include <{a}.h>", "    // {a} {b}",
    "$ {a} --{b} {n} {c}.txt", "const {a} = require('{b}');",
]
_IDENT = ["data", "value", "result", "count", "node", "items", "buffer", "config", "path", "x",
          "idx", "total", "name", "tmp", "out", "self", "args", "size", "key", "line"]


def _code_lines(rng, n):
    out = []
    for _ in range(n):
        t = _CODE[int(rng.integers(len(_CODE)))]
        pick = [_IDENT[int(i)] for i in rng.integers(0, len(_IDENT), 3)]
        out.append(t.format(a=pick[0], b=pick[1], c=pick[2], A=pick[0].title(),
                            B=pick[1].title(), n=int(rng.integers(0, 100)),
                            m=int(rng.integers(0, 1000))))
    return out


def _block_code(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    size = max(8, int(st.size * rng.uniform(0.8, 1.0)))
    f = ctx.font(size, fam=ctx.mono)
    n = int(min(rng.integers(3, 16), (bottom - y) / (size * 1.3) - 1))
    if n < 2:
        return bottom
    lh = size * 1.3
    if rng.random() < 0.6:
        g = tuple(max(0, c - int(rng.integers(8, 25))) for c in ctx.paper)
        ctx.draw.rectangle([x0, y, x0 + w, y + lh * n + size], fill=g,
                           outline=ctx.ink if rng.random() < 0.3 else None)
    numbers = rng.random() < 0.3
    for i, line in enumerate(_code_lines(rng, n)):
        x = x0 + size * 0.5
        if numbers:
            ctx.put((x, y + size * 0.5), f"{i + 1:>3}", f, (120, 120, 120), rtl=False)
            x += size * 2.5
        while len(line) > 2 and ctx.width(line, f) > x0 + w - x:
            line = line[:-2]
        ctx.put((x, y + size * 0.5), line, f, rtl=False)
        y += lh
    return y + size + st.para_gap


def _block_form(ctx, st, x0, y, w, bottom):
    rng, d = ctx.rng, ctx.draw
    size = st.size
    f = ctx.font(size)
    fb = ctx.font(size, "bold")
    for _ in range(int(rng.integers(2, 9))):
        if y + size * 2.5 > bottom:
            break
        kind = rng.choice(["line", "box", "check", "comb"])
        label = ctx.text.words(int(rng.integers(1, 4))) + ("" if ctx.rtl else ":")
        lw = ctx.width(label, f)
        if kind == "line":
            if ctx.rtl:
                ctx.put((x0 + w - lw, y), label, f)
                d.line([(x0, y + size * 1.1), (x0 + w - lw - size, y + size * 1.1)],
                       fill=ctx.ink, width=1)
            else:
                ctx.put((x0, y), label, f)
                if rng.random() < 0.5:
                    d.line([(x0 + lw + size * 0.5, y + size * 1.1), (x0 + w, y + size * 1.1)],
                           fill=ctx.ink, width=1)
                else:
                    dots = "_" * max(3, int((w - lw - size) / max(1, ctx.width("_", f))))
                    ctx.put((x0 + lw + size * 0.4, y), dots, f)
            y += size * 2.0
        elif kind == "box":
            bh = size * rng.uniform(2.2, 4)
            d.rectangle([x0, y, x0 + w, y + bh], outline=ctx.ink, width=1)
            sf = ctx.font(max(7, int(size * 0.7)))
            ctx.put((x0 + size * 0.3 if not ctx.rtl else x0 + w - ctx.width(label, sf) - size * 0.3,
                     y + size * 0.2), label, sf)
            y += bh + size * 0.6
        elif kind == "check":
            x = x0
            for _ in range(int(rng.integers(2, 5))):
                s = ctx.text.words(int(rng.integers(1, 3)))
                sw = ctx.width(s, f)
                if x + sw + size * 2 > x0 + w:
                    break
                d.rectangle([x, y + size * 0.15, x + size * 0.9, y + size * 1.05],
                            outline=ctx.ink, width=1)
                if rng.random() < 0.3:
                    d.line([(x + 2, y + size * 0.6), (x + size * 0.4, y + size),
                            (x + size, y)], fill=(20, 20, 120), width=2)
                ctx.put((x + size * 1.3, y), s, f)
                x += sw + size * 2.5
            y += size * 1.9
        else:
            ctx.put((x0, y), label, fb)
            x = x0 + lw + size * 0.6
            cw = size * 1.3
            for i in range(int(rng.integers(4, 14))):
                if x + cw > x0 + w:
                    break
                d.rectangle([x, y - size * 0.2, x + cw, y + size * 1.3], outline=ctx.ink, width=1)
                x += cw + (size * 0.5 if rng.random() < 0.15 else 0)
            y += size * 2.2
    return y + st.para_gap


def _block_footnotes(ctx, st, x0, y, w, bottom):
    rng = ctx.rng
    size = max(7, int(st.size * 0.78))
    f = ctx.font(size)
    n = int(rng.integers(1, 4))
    h = n * size * 2.6
    top = bottom - h
    if top < y + st.size * 2:
        return y
    ctx.draw.line([(x0 if not ctx.rtl else x0 + w * 0.7, top),
                   (x0 + w * 0.3 if not ctx.rtl else x0 + w, top)], fill=ctx.ink, width=1)
    yy = top + size * 0.5
    for i in range(n):
        mark = f"{i + 1}"
        mf = ctx.font(max(6, int(size * 0.7)), fam=ctx.latin)
        if ctx.rtl:
            ctx.put((x0 + w - size * 0.6, yy), mark, mf, rtl=False)
            yy = _draw_paragraph(ctx, x0, yy, w - size, bottom,
                                 ctx.text.passage(int(rng.integers(30, 160))), f, size, 1.2,
                                 "right")
        else:
            ctx.put((x0, yy), mark, mf)
            yy = _draw_paragraph(ctx, x0 + size, yy, w - size, bottom,
                                 ctx.text.passage(int(rng.integers(30, 160))), f, size, 1.2)
    return top


_BLOCKS = {
    "paragraph": (_block_paragraph, 0.50),
    "heading": (_block_heading, 0.11),
    "list": (_block_list, 0.08),
    "table": (_block_table, 0.07),
    "figure": (_block_figure, 0.08),
    "equation": (_block_equation, 0.05),
    "code": (_block_code, 0.03),
    "form": (_block_form, 0.02),
}
