"""A map's furniture drawn on a page context: scale bar, north arrow, legend box."""

from __future__ import annotations

__all__: list[str] = []


def _scale_bar(ctx, x, y, length, size):
    d, rng = ctx.draw, ctx.rng
    f = ctx.font(size, fam=ctx.latin)
    n = int(rng.integers(2, 5))
    seg = length / n
    unit = rng.choice(["km", "mi", "m", "km"])
    step = rng.choice([1, 2, 5, 10, 25, 50, 100, 250])
    for i in range(n):
        d.rectangle([x + i * seg, y, x + (i + 1) * seg, y + size * 0.45],
                    fill=ctx.ink if i % 2 == 0 else (255, 255, 255), outline=ctx.ink)
    for i in range(n + 1):
        s = f"{i * step}" + (f" {unit}" if i == n else "")
        ctx.put((x + i * seg - ctx.width(f"{i * step}", f) / 2, y + size * 0.6), s, f, rtl=False)


def _north_arrow(ctx, x, y, size):
    d = ctx.draw
    d.polygon([(x, y), (x - size * 0.4, y + size * 1.4), (x, y + size * 1.1)], fill=ctx.ink)
    d.polygon([(x, y), (x + size * 0.4, y + size * 1.4), (x, y + size * 1.1)],
              fill=(255, 255, 255), outline=ctx.ink)
    f = ctx.font(int(size * 0.8), "bold", fam=ctx.latin)
    ctx.put((x - ctx.width("N", f) / 2, y - size * 1.0), "N", f, rtl=False)


def _legend(ctx, x, y, entries, size):
    """entries: list of (kind, colour, label) with kind in fill/line/dot."""
    d = ctx.draw
    f = ctx.font(size)
    tf = ctx.font(int(size * 1.15), "bold")
    widths = [ctx.width(e[2], f) for e in entries]
    bw = size * 3.2 + max(widths + [size * 4])
    bh = size * 1.5 * (len(entries) + 1) + size * 0.5
    d.rectangle([x, y, x + bw, y + bh], fill=(255, 255, 255), outline=ctx.ink)
    title = ctx.text.words(1) if ctx.rng.random() < 0.5 or ctx.script != "latin" else \
        ctx.rng.choice(["Legend", "Key", "LEGEND"])
    ctx.put((x + size * 0.5, y + size * 0.3), title, tf)
    yy = y + size * 1.8
    for kind, col, lab in entries:
        sx = x + size * 0.5
        if kind == "fill":
            d.rectangle([sx, yy, sx + size * 1.8, yy + size], fill=col, outline=(80, 80, 80))
        elif kind == "line":
            d.line([(sx, yy + size * 0.5), (sx + size * 1.8, yy + size * 0.5)], fill=col,
                   width=max(2, size // 5))
        else:
            r = size * 0.3
            d.ellipse([sx + size * 0.9 - r, yy + size * 0.5 - r, sx + size * 0.9 + r,
                       yy + size * 0.5 + r], fill=col, outline=ctx.ink)
        ctx.put((sx + size * 2.4, yy - size * 0.1), lab, f)
        yy += size * 1.5
    return bw, bh
