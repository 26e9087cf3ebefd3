"""Text for rendering: passages, words and lines drawn from the assets, per script."""

from __future__ import annotations

import unicodedata

import numpy as np

from .assets import SynthAssets
from .scripts import SCRIPTS, _FALLBACK_TEXT, _NO_SPACES

__all__ = []


# Text
# ----------------------------------------------------------------------------------------------


def _pick_script(rng, assets: SynthAssets) -> str:
    scripts = [s for s in assets.scripts]
    if not scripts:
        return "latin"
    p = np.array([SCRIPTS[s] for s in scripts], float)
    return scripts[int(rng.choice(len(scripts), p=p / p.sum()))]


class _Text:
    """Text of one script drawn from the assets."""

    def __init__(self, rng, assets: SynthAssets, script: str):
        self.rng = rng
        self.script = script
        self.lines = assets.text.get(script) or _FALLBACK_TEXT["latin"]
        self.spaces = script not in _NO_SPACES

    def passage(self, nchars: int) -> str:
        rng, lines = self.rng, self.lines
        i = int(rng.integers(len(lines)))
        parts, n = [], 0
        first = lines[i]
        if len(first) > 40 and rng.random() < 0.7:  # start at a word/sentence boundary inside
            if self.spaces:
                cuts = [k + 1 for k, c in enumerate(first) if c == " "]
                if cuts:
                    first = first[cuts[int(rng.integers(len(cuts)))]:] or first
            else:
                cl = _clusters(first)
                first = "".join(cl[int(rng.integers(len(cl) // 2)):])
        for k in range(200):
            s = first if k == 0 else lines[(i + k) % len(lines)]
            parts.append(s)
            n += len(s)
            if n >= nchars:
                break
        text = (" " if self.spaces else "").join(parts)
        if len(text) > nchars * 1.3:
            cut = text.rfind(" ", 0, nchars) if self.spaces else nchars
            text = text[: max(cut, nchars // 2)]
        return text

    def words(self, n: int) -> str:
        """About ``n`` words (``2n`` characters for unspaced scripts), no end punctuation."""
        if self.spaces:
            ws = self.passage(n * 12 + 20).split()
            k = int(self.rng.integers(0, max(1, len(ws) - n)))
            s = " ".join(ws[k:k + n])
        else:
            cl = _clusters(self.passage(n * 3))
            k = int(self.rng.integers(0, max(1, len(cl) - 2 * n)))
            s = "".join(cl[k:k + 2 * n])
        return s.strip(" .,;:،。、，!?") or "Text"

    def title(self, n: int) -> str:
        s = self.words(n)
        if self.script in ("latin", "cyrillic", "greek") and self.rng.random() < 0.5:
            s = " ".join(w[:1].upper() + w[1:] for w in s.split())
        elif self.script in ("latin", "cyrillic", "greek") and self.rng.random() < 0.2:
            s = s.upper()
        else:
            s = s[:1].upper() + s[1:]
        return s


def _number(rng, kind: str | None = None) -> str:
    kind = kind or ("int", "float", "pct", "money", "sci", "date")[int(rng.integers(6))]
    if kind == "int":
        return f"{int(rng.integers(0, 10 ** int(rng.integers(1, 6)))):,}".replace(
            ",", "," if rng.random() < 0.7 else " ")
    if kind == "float":
        return f"{rng.normal(0, 10 ** rng.uniform(0, 3)):.{int(rng.integers(1, 4))}f}"
    if kind == "pct":
        return f"{rng.uniform(0, 100):.1f}%"
    if kind == "money":
        return f"{rng.choice(['$', '€', '£', ''])}{rng.uniform(0, 2000):,.2f}"
    if kind == "sci":
        return f"{rng.uniform(1, 10):.2f}e{int(rng.integers(-9, 9))}"
    return (f"{int(rng.integers(1, 29)):02d}/{int(rng.integers(1, 13)):02d}/"
            f"{int(rng.integers(1950, 2030))}")


def _clusters(s: str) -> list[str]:
    """Characters with their combining marks attached (for breaking unspaced text)."""
    out = []
    for c in s:
        if out and (unicodedata.category(c) in ("Mn", "Mc", "Me") or c in "\u200c\u200d"):
            out[-1] += c
        else:
            out.append(c)
    return out
