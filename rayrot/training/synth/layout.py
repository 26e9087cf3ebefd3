"""Text layout: wrapping, justification and line placement in a column."""

from __future__ import annotations


from .draw import _Ctx
from .text import _clusters

__all__ = []


# Text layout
# ----------------------------------------------------------------------------------------------


def _wrap(ctx: _Ctx, text: str, font, width: float, first_indent: float = 0.0) -> list[str]:
    """Greedy line breaking; returns lines in logical order."""
    sep = " " if ctx.text.spaces else ""
    tokens = text.split() if ctx.text.spaces else _clusters(text)
    if not tokens:
        return []
    cache: dict = {}

    def w(t):
        v = cache.get(t)
        if v is None:
            v = cache[t] = ctx.width(t, font)
        return v

    space = ctx.width(" ", font) if sep else 0.0
    lines, cur, cur_w, avail = [], [], 0.0, width - first_indent
    for t in tokens:
        tw = w(t)
        add = tw + (space if cur else 0.0)
        if cur and cur_w + add > avail:
            lines.append(sep.join(cur))
            cur, cur_w, avail = [t], tw, width
        else:
            cur.append(t)
            cur_w += add
    if cur:
        lines.append(sep.join(cur))
    return lines


def _draw_paragraph(ctx: _Ctx, x0, y, width, bottom, text, font, size, leading, align="left",
                    indent=0.0, fill=None) -> float:
    """Lay out ``text`` in the box; returns the y below the last drawn line."""
    lines = _wrap(ctx, text, font, width, indent)
    lh = size * leading
    rtl = ctx.rtl
    for i, line in enumerate(lines):
        if y + size * 1.1 > bottom:
            break
        ind = indent if i == 0 else 0.0
        last = i == len(lines) - 1
        if align == "justify" and not last and ctx.text.spaces and not ctx.complex \
                and line.count(" ") >= 2:
            words = line.split(" ")
            ws = [ctx.width(wd, font) for wd in words]
            gap = (width - ind - sum(ws)) / (len(words) - 1)
            if gap < size * 1.2:
                x = x0 + ind
                for wd, ww in zip(words, ws):
                    ctx.put((x, y), wd, font, fill)
                    x += ww + gap
                y += lh
                continue
        lw = ctx.width(line, font)
        if align == "center":
            x = x0 + (width - lw) / 2
        elif align == "right" or (rtl and align in ("left", "justify")):
            x = x0 + width - lw - ind
        else:
            x = x0 + ind
        ctx.put((x, y), line, font, fill)
        y += lh
    return y
