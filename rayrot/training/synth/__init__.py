"""Synthetic *upright* training images: documents, maps and textures.

The training data pipeline samples crops from what these functions render, turns
them by ``k * 90`` degrees and labels them ``k`` (see :mod:`rayrot.model.preprocess`).
Everything rendered here is upright (label 0), including pages tilted by a small
skew of up to +-15 degrees; textures have no up at all (their label is uniform).

All functions are plain, deterministic given the ``numpy.random.Generator`` they
receive, render at the final resolution with PIL, and return ``(H, W, 3)`` uint8
RGB arrays::

    assets = SynthAssets.load(".data/fonts", ".data/text")
    rng = np.random.default_rng(0)
    page = render_document(rng, assets)              # (H, W, 3) uint8
    chart = render_map(rng, assets, size_px=(768, 1024))
    cells = render_texture(rng)
    any_kind = render_sample(rng, assets, "document")

``size_px`` is ``(height, width)`` in pixels, like the returned array's shape; when
``None`` a kind-specific random size with a long side of roughly 640-1300 px is used.

Fonts come from ``fonts_dir`` (``fonts.json`` with ``file, family, style, scripts``
entries, or, without it, every ``.ttf/.otf/.ttc`` found there, its scripts guessed
from its cmap with fontTools); when that holds no usable font, the fonts installed
on the system are used. Text comes from ``text_dir/<script>.txt`` (one passage a
line); scripts without a file fall back to a small built-in sample.

Run ``python -m rayrot.training.synth --out /tmp/synth_preview --n 12`` to save
previews.

The package, along the renderer's own sections::

    scripts    kinds, scripts and their shares, built-in sample text
    assets     SynthAssets: fonts by script, text passages
    text       words and lines drawn from the assets
    draw       the drawing context every renderer uses
    layout     text layout in a column
    blocks     document blocks (headings, paragraphs, tables, figures ...)
    pages      render_document
    degrade    scan degradations
    maps       render_map
    textures   render_texture, render_sample
    cli        the preview command
"""

from __future__ import annotations

from .assets import SynthAssets
from .maps import render_map
from .pages import render_document
from .scripts import KINDS, SCRIPTS
from .textures import render_sample, render_texture

__all__ = [
    "KINDS",
    "SCRIPTS",
    "SynthAssets",
    "render_document",
    "render_map",
    "render_texture",
    "render_sample",
]
