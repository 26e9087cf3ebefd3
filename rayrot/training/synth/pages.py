"""Whole pages: render_document composes blocks into a page of a random layout."""

from __future__ import annotations


import numpy as np

from .assets import SynthAssets, _drawable
from .blocks import (_BLOCKS, _Style, _block_footnotes, _block_form, _block_heading,
                     _block_paragraph, _block_table, _draw_plot, _photo_like)
from .degrade import _degrade_document
from .draw import _make_ctx
from .layout import _draw_paragraph
from .text import _clusters, _number, _pick_script

__all__ = ["render_document"]


# Whole pages
# ----------------------------------------------------------------------------------------------


def _body_style(rng, col_w: float, scale: float) -> _Style:
    cpl = rng.uniform(30, 95)  # characters per line
    size = col_w / (cpl * 0.5)
    if rng.random() < 0.2:
        size = rng.uniform(10, 14)  # tiny print (x-height ~ 5-7 px)
    size = int(np.clip(size * scale, 10, 60))
    return _Style(
        size=size,
        leading=float(rng.uniform(1.1, 1.75)),
        align="justify" if rng.random() < 0.55 else "left",
        para_gap=float(size * rng.choice([0.0, 0.3, 0.6, 1.0])),
        indent=float(size * rng.choice([0.0, 0.0, 1.5, 2.5])),
        head_scale=float(rng.uniform(1.1, 1.9)),
        numbered_heads=bool(rng.random() < 0.4),
    )


def _page_furniture(ctx, st, left, right, top, bottom, H):
    """Running header, footer and page number; returns (top, bottom) of the text area."""
    rng = ctx.rng
    size = max(8, int(st.size * rng.uniform(0.7, 0.95)))
    f = ctx.font(size, "italic" if rng.random() < 0.4 else "regular")
    nf = ctx.font(size, fam=ctx.latin)
    page_no = str(int(rng.integers(1, 400)))
    if rng.random() < 0.45:
        s = ctx.text.words(int(rng.integers(2, 8)))
        w = ctx.width(s, f)
        pos = rng.integers(3)
        x = left if pos == 0 else right - w if pos == 1 else (left + right - w) / 2
        ctx.put((x, top), s, f)
        if rng.random() < 0.5:
            ctx.put((right - ctx.width(page_no, nf) if pos != 1 else left, top), page_no, nf,
                    rtl=False)
            page_no = None
        if rng.random() < 0.6:
            ctx.draw.line([(left, top + size * 1.5), (right, top + size * 1.5)], fill=ctx.ink,
                          width=1)
        top += size * 3
    if page_no is not None and rng.random() < 0.8:
        s = page_no if rng.random() < 0.8 else f"- {page_no} -"
        w = ctx.width(s, nf)
        pos = rng.integers(3)
        x = (left + right - w) / 2 if pos == 0 else left if pos == 1 else right - w
        yb = min(H - size * 1.5, bottom + size * rng.uniform(0.8, 2.0))
        ctx.put((x, yb), s, nf, rtl=False)
        if rng.random() < 0.3:
            s2 = ctx.text.words(int(rng.integers(2, 6)))
            if pos != 1:
                ctx.put((left, yb), s2, ctx.font(max(7, size - 2)))
    return top, bottom


def _title_block(ctx, st, left, right, y, bottom):
    rng = ctx.rng
    w = right - left
    size = int(st.size * rng.uniform(1.8, 3.2))
    align = "center" if rng.random() < 0.6 else "left"
    y = _draw_paragraph(ctx, left, y, w, bottom, ctx.text.title(int(rng.integers(3, 12))),
                        ctx.font(size, "bold" if rng.random() < 0.7 else "regular", ctx.head),
                        size, 1.15, align, fill=ctx.accent if rng.random() < 0.25 else ctx.ink)
    y += st.size * 0.6
    if rng.random() < 0.7:  # authors / affiliation
        names = ", ".join(ctx.text.title(2) for _ in range(int(rng.integers(1, 4))))
        y = _draw_paragraph(ctx, left, y, w, bottom, names, ctx.font(int(st.size * 1.1)),
                            st.size * 1.1, 1.3, align)
    if rng.random() < 0.5:  # abstract
        y += st.size
        inset = w * rng.uniform(0.05, 0.15)
        asz = max(9, int(st.size * 0.9))
        y = _draw_paragraph(ctx, left + inset, y, w - 2 * inset, bottom,
                            ctx.text.passage(int(rng.integers(200, 700))),
                            ctx.font(asz, "italic" if rng.random() < 0.5 else "regular"), asz,
                            st.leading, "justify")
    return y + st.size * 1.5


def _flow_columns(ctx, st, left, right, top, bottom, ncol, gutter):
    rng = ctx.rng
    names = list(_BLOCKS)
    p = np.array([_BLOCKS[k][1] for k in names])
    p /= p.sum()
    colw = (right - left - gutter * (ncol - 1)) / ncol
    for c in range(ncol):
        x0 = left + c * (colw + gutter) if not ctx.rtl else right - (c + 1) * colw - c * gutter
        y = top
        bot = bottom
        if rng.random() < 0.15 and c == ncol - 1:
            bot = _block_footnotes(ctx, st, x0, y, colw, bottom) - st.size
        if c == 0 and rng.random() < 0.3:
            y = _block_heading(ctx, st, x0, y, colw, bot)
        guard = 0
        while y < bot - st.size * 1.5 and guard < 60:
            guard += 1
            name = names[int(rng.choice(len(names), p=p))]
            y = _BLOCKS[name][0](ctx, st, x0, y, colw, bot)
        if ncol > 1 and rng.random() < 0.2:
            xr = x0 + colw + gutter / 2
            if c < ncol - 1:
                ctx.draw.line([(xr, top), (xr, bottom)], fill=ctx.ink, width=1)


def _doc_article(ctx, W, H):
    rng = ctx.rng
    ml = W * rng.uniform(0.04, 0.14)
    mr = ml if rng.random() < 0.7 else W * rng.uniform(0.04, 0.14)
    mt = H * rng.uniform(0.03, 0.10)
    mb = H * rng.uniform(0.04, 0.10)
    left, right, top, bottom = ml, W - mr, mt, H - mb
    width = right - left
    ncol = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    gutter = width * rng.uniform(0.025, 0.06)
    colw = (width - gutter * (ncol - 1)) / ncol
    st = _body_style(rng, colw, 1.0)
    while ncol > 1 and colw < st.size * 14:
        ncol -= 1
        colw = (width - gutter * (ncol - 1)) / ncol
    top, bottom = _page_furniture(ctx, st, left, right, top, bottom, H)
    if rng.random() < 0.35:
        top = _title_block(ctx, st, left, right, top, bottom)
    _flow_columns(ctx, st, left, right, top, bottom, ncol, gutter)


def _doc_vertical_cjk(ctx, W, H):
    """Japanese/Chinese vertical-rl: columns top to bottom, right to left."""
    rng = ctx.rng
    size = int(np.clip(min(W, H) / rng.uniform(25, 55), 10, 40))
    f = ctx.font(size)
    mx, my = W * rng.uniform(0.05, 0.12), H * rng.uniform(0.05, 0.12)
    pitch = size * rng.uniform(1.4, 2.0)
    x = W - mx - size
    top, bottom = my, H - my
    nchar = max(1, int((bottom - top) / size))
    if rng.random() < 0.5:  # title column
        hf = ctx.font(int(size * 1.6), "bold")
        t = _drawable(hf[0], ctx.text.words(int(rng.integers(3, 8))))[: max(1, int(nchar / 1.6))]
        ctx.draw.multiline_text((x - size * 0.3, top + size), "\n".join(t), font=hf[0],
                                fill=ctx.ink, spacing=0, align="center")
        x -= pitch * 2
    text = ctx.text.passage(int(nchar * (x - mx) / pitch) + 10)
    chars = [c for c in _clusters(_drawable(f[0], text)) if not c.isspace()]
    i = 0
    while x > mx and i < len(chars):
        start = 1 if rng.random() < 0.15 else 0
        col = chars[i: i + nchar - start]
        i += len(col)
        ctx.draw.multiline_text((x, top + start * size), "\n".join(col), font=f[0], fill=ctx.ink,
                                spacing=int(size * 0.08), align="center")
        x -= pitch
    if rng.random() < 0.7:
        s = str(int(rng.integers(1, 300)))
        nf = ctx.font(int(size * 0.8), fam=ctx.latin)
        ctx.put(((W - ctx.width(s, nf)) / 2, H - my * 0.6), s, nf, rtl=False)


def _doc_letter(ctx, W, H):
    rng, d = ctx.rng, ctx.draw
    m = W * rng.uniform(0.08, 0.14)
    left, right = m, W - m
    st = _body_style(rng, right - left, 1.0)
    st.size = int(np.clip(st.size, 11, 24))
    y = H * rng.uniform(0.04, 0.08)
    hf = ctx.font(int(st.size * rng.uniform(1.5, 2.5)), "bold", ctx.head)
    name = ctx.text.title(int(rng.integers(1, 4)))
    if rng.random() < 0.5:
        d.rectangle([left, y, left + st.size * 3, y + st.size * 3], fill=ctx.accent)
        ctx.put((left + st.size * 4, y), name, hf, ctx.accent)
    else:
        ctx.put(((W - ctx.width(name, hf)) / 2, y), name, hf, ctx.accent)
    y += st.size * 4
    small = ctx.font(max(8, int(st.size * 0.8)))
    for _ in range(int(rng.integers(1, 4))):
        s = ctx.text.words(int(rng.integers(2, 6))) + "  " + _number(rng, "int")
        ctx.put((right - ctx.width(s, small), y), s, small)
        y += st.size
    d.line([(left, y + st.size * 0.5), (right, y + st.size * 0.5)], fill=ctx.accent, width=2)
    y += st.size * 2
    f = ctx.font(st.size)
    for _ in range(int(rng.integers(2, 5))):  # recipient address
        ctx.put((left if not ctx.rtl else right - ctx.width(s, f), y),
                ctx.text.words(int(rng.integers(2, 5))), f)
        y += st.size * 1.3
    y += st.size
    s = _number(rng, "date")
    ctx.put((right - ctx.width(s, f), y), s, f, rtl=False)
    y += st.size * 2
    bottom = H * 0.85
    for _ in range(int(rng.integers(2, 6))):
        y = _draw_paragraph(ctx, left, y, right - left, bottom,
                            ctx.text.passage(int(rng.integers(100, 500))), f, st.size,
                            st.leading, st.align) + st.size
    if y < H * 0.9:  # signature scribble
        pts = [(left + i * st.size * 0.6, y + st.size + rng.normal(0, st.size * 0.5))
               for i in range(int(rng.integers(6, 14)))]
        d.line(pts, fill=(20, 30, 120), width=2, joint="curve")
        ctx.put((left, y + st.size * 2.5), ctx.text.title(2), f)


def _doc_form(ctx, W, H):
    rng = ctx.rng
    m = W * rng.uniform(0.05, 0.1)
    st = _body_style(rng, W - 2 * m, 1.0)
    st.size = int(np.clip(st.size, 10, 22))
    y = H * 0.04
    y = _title_block(ctx, st, m, W - m, y, H)
    ncol = 1 if rng.random() < 0.6 else 2
    gutter = W * 0.04
    colw = (W - 2 * m - gutter * (ncol - 1)) / ncol
    for c in range(ncol):
        yy = y
        x0 = m + c * (colw + gutter)
        while yy < H * 0.92:
            if rng.random() < 0.2:
                yy = _block_heading(ctx, st, x0, yy, colw, H * 0.95)
            elif rng.random() < 0.15:
                yy = _block_table(ctx, st, x0, yy, colw, H * 0.95)
            elif rng.random() < 0.15:
                yy = _block_paragraph(ctx, st, x0, yy, colw, H * 0.95)
            else:
                yy = _block_form(ctx, st, x0, yy, colw, H * 0.95)


def _doc_slide(ctx, W, H):
    rng, d = ctx.rng, ctx.draw
    theme = rng.random()
    if theme < 0.3:  # coloured title bar
        bar = ctx.accent
        bh = H * rng.uniform(0.12, 0.2)
        d.rectangle([0, 0, W, bh], fill=bar)
        title_fill = (255, 255, 255)
    elif theme < 0.45:  # dark background
        d.rectangle([0, 0, W, H], fill=tuple(int(v) for v in rng.integers(10, 60, 3)))
        ctx.ink = (235, 235, 235)
        bh = H * 0.15
        title_fill = (255, 255, 255)
    else:
        bh = H * rng.uniform(0.12, 0.2)
        title_fill = ctx.accent
    m = W * rng.uniform(0.05, 0.09)
    tsize = int(H * rng.uniform(0.05, 0.09))
    tf = ctx.font(tsize, "bold", ctx.head)
    t = ctx.text.title(int(rng.integers(2, 7)))
    _draw_paragraph(ctx, m, max(H * 0.03, (bh - tsize * 1.2) / 2), W - 2 * m, bh + tsize, t, tf,
                    tsize, 1.1, "left", fill=title_fill)
    y = bh + H * 0.05
    size = int(H * rng.uniform(0.03, 0.05))
    f = ctx.font(size)
    right = W - m if rng.random() < 0.6 else W * 0.55
    for i in range(int(rng.integers(2, 7))):
        if y > H * 0.85:
            break
        b = "•" if rng.random() < 0.8 else "–"
        sub = i > 0 and rng.random() < 0.25
        x = m + (size * 1.5 if sub else 0)
        fs = ctx.font(int(size * 0.85)) if sub else f
        bf = ctx.font(int(size * 0.85) if sub else size, fam=ctx.latin)
        if ctx.rtl:
            ctx.put((W - x - size, y), b, bf, rtl=False)
            y = _draw_paragraph(ctx, W - right, y, right - x - size * 1.5, H * 0.9,
                                ctx.text.passage(int(rng.integers(20, 110))), fs, size, 1.2,
                                "right")
        else:
            ctx.put((x, y), b, bf, rtl=False)
            y = _draw_paragraph(ctx, x + size * 1.2, y, right - x - size * 1.2, H * 0.9,
                                ctx.text.passage(int(rng.integers(20, 110))), fs, size, 1.2)
        y += size * 0.6
    if right < W * 0.6:  # figure on the right
        fx, fy, fw, fh = W * 0.6, bh + H * 0.06, W * 0.34, H * 0.55
        if rng.random() < 0.5:
            ctx.im.paste(_photo_like(rng, fw, fh), (int(fx), int(fy)))
        else:
            _draw_plot(ctx, fx, fy, fw, fh, max(10, size // 2), bars=rng.random() < 0.5)
    fsz = max(8, int(H * 0.022))
    s = f"{int(rng.integers(1, 60))}"
    ctx.put((W - m - ctx.width(s, ctx.font(fsz)), H - fsz * 2), s, ctx.font(fsz), rtl=False)
    if rng.random() < 0.5:
        ctx.put((m, H - fsz * 2), ctx.text.words(int(rng.integers(2, 6))), ctx.font(fsz))


def _doc_receipt(ctx, W, H):
    rng, d = ctx.rng, ctx.draw
    mono = rng.random() < 0.7
    fam = ctx.mono if mono and ctx.script == "latin" else ctx.body
    size = int(np.clip(W / rng.uniform(22, 38) * (1.6 if mono else 1.3), 9, 40))
    f = ctx.font(size, fam=fam)
    fb = ctx.font(int(size * 1.4), "bold", fam=ctx.body)
    nf = ctx.font(size, fam=ctx.mono if mono else ctx.latin)
    m = W * 0.06
    y = size
    for _ in range(int(rng.integers(1, 3))):
        s = ctx.text.words(int(rng.integers(1, 4)))
        ctx.put(((W - ctx.width(s, fb)) / 2, y), s, fb)
        y += size * 1.8
    for _ in range(int(rng.integers(1, 4))):
        s = ctx.text.words(int(rng.integers(2, 5)))
        ctx.put(((W - ctx.width(s, f)) / 2, y), s, f)
        y += size * 1.3
    dash = "-" * 60
    y += size * 0.5
    while y < H - size * 8:
        r = rng.random()
        if r < 0.1:
            ctx.put((m, y), dash, nf, rtl=False)
        else:
            s = ctx.text.words(int(rng.integers(1, 3)))[:18]
            p = _number(rng, "money").lstrip("$€£")
            pw = ctx.width(p, nf)
            ctx.put((W - m - pw, y), p, nf, rtl=False)
            while len(s) > 1 and ctx.width(s, f) > W - 2 * m - pw - size:
                s = s[:-1]
            ctx.put((m if not ctx.rtl else W - m - pw - size - ctx.width(s, f), y), s, f)
        y += size * 1.3
    ctx.put((m, y), dash, nf, rtl=False)
    y += size * 1.3
    tot = _number(rng, "money")
    ctx.put((m, y), "TOTAL" if ctx.script == "latin" else ctx.text.words(1), fb)
    ctx.put((W - m - ctx.width(tot, fb), y), tot, fb, rtl=False)
    y += size * 2.5
    if rng.random() < 0.7:  # barcode
        x = m * 2
        bh = size * 3
        while x < W - m * 2:
            bw = int(rng.integers(1, 4))
            if rng.random() < 0.55:
                d.rectangle([int(x), int(y), int(x) + bw - 1, int(y + bh)], fill=ctx.ink)
            x += bw
        y += bh + size * 0.3
        s = "".join(str(int(v)) for v in rng.integers(0, 10, 13))
        ctx.put(((W - ctx.width(s, nf)) / 2, y), s, nf, rtl=False)


def _doc_ticket(ctx, W, H):
    rng, d = ctx.rng, ctx.draw
    m = min(W, H) * 0.06
    col = ctx.accent
    stub = W * rng.uniform(0.7, 0.8)
    d.rectangle([m * 0.3, m * 0.3, W - m * 0.3, H - m * 0.3], outline=col, width=3)
    for yy in range(int(m), int(H - m), 8):
        d.line([(stub, yy), (stub, yy + 4)], fill=col, width=1)
    if rng.random() < 0.6:
        d.rectangle([m * 0.3, m * 0.3, W - m * 0.3, H * 0.25], fill=col)
        hf = (255, 255, 255)
    else:
        hf = col
    tsz = int(H * rng.uniform(0.09, 0.14))
    ctx.put((m, H * 0.04), ctx.text.title(int(rng.integers(1, 4))), ctx.font(tsz, "bold"), hf)
    y = H * 0.32
    sz = int(H * rng.uniform(0.05, 0.08))
    small = ctx.font(max(8, int(sz * 0.6)))
    big = ctx.font(sz, "bold")
    while y < H - m - sz * 2:
        x = m
        for _ in range(int(rng.integers(2, 4))):
            lab = ctx.text.words(1)
            val = (_number(rng, "date") if rng.random() < 0.3 else
                   f"{rng.choice(list('ABCDEFGH'))}{int(rng.integers(1, 60))}")
            ctx.put((x, y), lab, small, (100, 100, 100))
            ctx.put((x, y + sz * 0.7), val, big, rtl=False)
            x += (stub - m) / 3
        y += sz * 2.2
    x = stub + m * 0.5
    yy = H * 0.3
    while x < W - m and yy < H - m:  # stub barcode, horizontal bars
        h = int(rng.integers(1, 4))
        if rng.random() < 0.55:
            d.rectangle([int(x), int(yy), int(W - m), int(yy) + h - 1], fill=ctx.ink)
        yy += h


def _doc_fragment(ctx, W, H):
    """A few lines, single words or labels on a plain background."""
    rng = ctx.rng
    r = rng.random()
    if r < 0.45:  # a few lines of text
        size = int(np.clip(H / rng.uniform(3, 12), 9, 120))
        m = size * rng.uniform(0.3, 1.5)
        _draw_paragraph(ctx, m, m * 0.5, W - 2 * m, H, ctx.text.passage(int(rng.integers(30, 400))),
                        ctx.font(size, "bold" if rng.random() < 0.2 else "regular"), size,
                        rng.uniform(1.1, 1.6), "left" if rng.random() < 0.8 else "center")
    elif r < 0.7:  # a single word or short phrase, big
        s = ctx.text.words(int(rng.integers(1, 4)))
        size = int(np.clip(H * rng.uniform(0.2, 0.6), 10, 300))
        f = ctx.font(size, "bold" if rng.random() < 0.4 else "regular", ctx.head)
        w = ctx.width(s, f)
        if w > W * 0.95:
            size = max(8, int(size * W * 0.9 / w))
            f = ctx.font(size, "bold" if rng.random() < 0.4 else "regular", ctx.head)
            w = ctx.width(s, f)
        ctx.put(((W - w) / 2 + rng.uniform(-0.2, 0.2) * max(0, W - w), (H - size * 1.2) / 2), s,
                f)
    else:  # labels in boxes scattered
        for _ in range(int(rng.integers(4, 20))):
            size = int(rng.integers(max(10, int(min(W, H) / 14)), max(11, int(min(W, H) / 4))))
            s = ctx.text.words(int(rng.integers(1, 3)))
            f = ctx.font(size, "bold" if rng.random() < 0.3 else "regular")
            w = ctx.width(s, f)
            x, y = rng.uniform(0, max(1, W - w - size)), rng.uniform(0, max(1, H - size * 2))
            if rng.random() < 0.5:
                fill = tuple(int(v) for v in rng.uniform(200, 255, 3))
                ctx.draw.rectangle([x - size * 0.3, y - size * 0.1, x + w + size * 0.3,
                                    y + size * 1.4], fill=fill, outline=ctx.ink)
            ctx.put((x, y), s, f)


_GENRES = {
    "article": 0.50, "letter": 0.06, "form": 0.07, "slide": 0.08, "receipt": 0.06,
    "ticket": 0.04, "fragment": 0.12, "vertical": 0.07,
}


def _genre_size(rng, genre: str) -> tuple[int, int]:
    L = float(rng.uniform(700, 1300))
    if genre == "slide":
        a = rng.choice([16 / 9, 4 / 3, 16 / 10])
        return int(L / a), int(L)
    if genre == "receipt":
        return int(L), int(L / rng.uniform(2.0, 3.5))
    if genre == "ticket":
        return int(L / rng.uniform(2.0, 3.0)), int(L)
    if genre == "fragment":
        L = rng.uniform(300, 1000)
        a = float(np.exp(rng.uniform(np.log(0.4), np.log(5))))
        return (int(L / a), int(L)) if a > 1 else (int(L), int(L * a))
    r = rng.random()
    a = rng.choice([1.414, 1.294, 1.5, 1.333])
    if r < 0.7:  # portrait page
        return int(L), int(L / a)
    if r < 0.85:  # landscape page
        return int(L / a), int(L)
    # slice of a page (the renderer draws a full page, then crops it)
    return int(L), int(L / a)


def render_document(rng: np.random.Generator, assets: SynthAssets,
                    size_px: tuple[int, int] | None = None, *, script: str | None = None,
                    genre: str | None = None) -> np.ndarray:
    """Render one upright document page (or text fragment, slide, receipt...).

    Parameters
    ----------
    rng : numpy Generator, the only source of randomness
    assets : SynthAssets
    size_px : (height, width) in pixels, or None for a random genre-dependent size
    script : one of :data:`SCRIPTS` to force it (else drawn by its share), optional
    genre : one of "article", "letter", "form", "slide", "receipt", "ticket", "fragment",
        "vertical" (CJK top-to-bottom) to force it (else drawn at random), optional

    Returns
    -------
    page : (H, W, 3) uint8 RGB, upright (label 0); may be tilted by up to +-15 degrees
    """
    names = list(_GENRES)
    script = script or _pick_script(rng, assets)
    p = np.array([_GENRES[g] for g in names])
    if script not in ("chinese", "japanese"):
        p[names.index("vertical")] = 0
    if genre is not None and genre not in _GENRES:
        raise ValueError(f"genre must be one of {names}, got {genre!r}")
    genre = genre or names[int(rng.choice(len(names), p=p / p.sum()))]
    H, W = size_px if size_px is not None else _genre_size(rng, genre)
    H, W = max(16, int(H)), max(16, int(W))
    ctx = _make_ctx(rng, assets, (W, H), script)
    {"article": _doc_article, "letter": _doc_letter, "form": _doc_form, "slide": _doc_slide,
     "receipt": _doc_receipt, "ticket": _doc_ticket, "fragment": _doc_fragment,
     "vertical": _doc_vertical_cjk}[genre](ctx, W, H)
    return _degrade_document(rng, ctx.im, ctx.paper)
