"""Training samples made on the fly: views of upright images, turned by a random k * 90 degrees.

Every sample is ``(tile, target, category)``:

========  ===========================  ==========================================================
name      type                         meaning
========  ===========================  ==========================================================
tile      (224, 224, 3) uint8 ndarray  RGB, what the pipeline would score
target    (4,) float32 ndarray         soft target over :data:`rayrot.preprocess.ANGLES`: one-hot
                                       at the class ``k`` that makes the tile upright, or uniform
                                       (0.25 each) for textures, which have no up
category  int                          index into :data:`CATEGORIES`
========  ===========================  ==========================================================

Sources (see ``configs/train.yaml``, ``data.mix``):

- real images under ``<sources_dir>/{documents,photos,maps,art,textures}/`` (any depth);
  ~10% of the files, chosen by a hash of their relative path, are held out for validation;
- synthetic documents, maps and textures from :mod:`rayrot.training.synth`, when it imports
  and its fonts and text exist.

Views mimic what the pipeline scores: the whole image letterboxed
(:func:`rayrot.preprocess.letterbox`), square crops of 8%..100% of the short side resized to
224 (:func:`~rayrot.preprocess.resize_square`), and partial edge tiles padded with
:func:`~rayrot.preprocess.pad_to_square`. Photos, art and textures may be mirrored before the
turn; documents and maps may be tilted by up to +-15 degrees (label unchanged). Colour jitter,
greyscale, gamma, blur, noise and JPEG re-encoding follow. PIL and NumPy only.

The validation set (``shared/data/dev``) is never read here.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps

from ..model.preprocess import ANGLES, letterbox, pad_to_square, resize_square, rotate_by_class
from .config import AugConfig, DataConfig
from .render_cache import RenderCache, as_rgb

__all__ = [
    "CATEGORIES",
    "REAL_CATEGORIES",
    "SYNTH_CATEGORIES",
    "UNIFORM_CATEGORIES",
    "SourceSet",
    "TrainStream",
    "ValSet",
    "load_image",
    "make_view",
    "augment",
    "target_for",
    "as_rgb",
    "worker_init_fn",
]

LOGGER = logging.getLogger(__name__)

REAL_CATEGORIES = ("documents", "photos", "maps", "art", "textures")
# Rendered categories: drawn live by rayrot.training.synth or, when data.render_cache names a
# folder for them, from images rendered once (rayrot.training.render_cache); geo_maps come
# from the cartographic renderer's cache only.
SYNTH_CATEGORIES = ("synth_documents", "synth_maps", "synth_textures", "geo_maps")
CATEGORIES = REAL_CATEGORIES + SYNTH_CATEGORIES
UNIFORM_CATEGORIES = frozenset({"textures", "synth_textures"})  # no up: target 0.25 each
MIRROR_CATEGORIES = frozenset({"photos", "art", "textures", "synth_textures"})  # no text
SKEW_CATEGORIES = frozenset({"documents", "maps"})  # synth renders tilt pages themselves
PHOTO_LIKE = frozenset({"photos", "art"})  # stronger colour jitter

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
_RESERVED = ("shared/data/dev",)  # evaluation only, never training data


# ----------------------------------------------------------------------------- sources


def _is_reserved(path: Path) -> bool:
    s = str(path.resolve()).replace(os.sep, "/")
    return any(r in s for r in _RESERVED)


def _held_out(rel: str, fraction: float, salt: str = "") -> bool:
    """Validation file or not, from the relative path without its suffix (stable under packing).

    Another ``salt`` draws another, independent subset of the same share."""
    key = salt + str(Path(rel).with_suffix("")).replace(os.sep, "/")
    h = int.from_bytes(hashlib.sha1(key.encode()).digest()[:4], "big")
    return (h % 10_000) < fraction * 10_000


@dataclass(frozen=True)
class SourceSet:
    """The real files of each category, split into train and validation by file."""

    train: dict[str, tuple[str, ...]]  # category -> file paths
    val: dict[str, tuple[str, ...]]

    @classmethod
    def scan(cls, sources_dirs: str | Path | list[str] | tuple[str, ...],
             val_fraction: float, train_fraction: dict[str, float] | None = None) -> "SourceSet":
        """Files of ``<dir>/<category>/**`` for each folder of ``sources_dirs`` (a folder that
        does not exist adds nothing).

        ``train_fraction``: category -> share of its training files kept (by a hash of the
        path, so 25% of them are inside 50% of them); the held-out files stay the same."""
        train_fraction = train_fraction or {}
        roots = [Path(sources_dirs)] if isinstance(sources_dirs, (str, Path)) else [
            Path(d) for d in sources_dirs]
        train: dict[str, list[str]] = {c: [] for c in REAL_CATEGORIES}
        val: dict[str, list[str]] = {c: [] for c in REAL_CATEGORIES}
        for root in roots:
            if _is_reserved(root):
                raise ValueError(f"refusing to train on {root}: the dev set is for evaluation only")
            for cat in REAL_CATEGORIES:
                d = root / cat
                files = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                               and p.is_file() and not _is_reserved(p)) if d.is_dir() else []
                for p in files:
                    rel = str(p.relative_to(root))
                    if _held_out(rel, val_fraction):
                        val[cat].append(str(p))
                    elif _held_out(rel, train_fraction.get(cat, 1.0), salt="train:"):
                        train[cat].append(str(p))
        return cls({c: tuple(v) for c, v in train.items()}, {c: tuple(v) for c, v in val.items()})

    def counts(self) -> dict[str, tuple[int, int]]:
        return {c: (len(self.train[c]), len(self.val[c])) for c in self.train}


def source_group(path: str | Path) -> str:
    """The source a training file came from: its name's prefix before ``__`` (the Debian
    package, as the data fetcher names files), else its parent folder."""
    p = Path(path)
    return p.name.split("__", 1)[0] if "__" in p.name else p.parent.name


def load_image(path: str | Path, max_px: int) -> np.ndarray:
    """Decode ``path`` to ``(H, W, 3)`` uint8 RGB, EXIF orientation applied, alpha on white,
    shrunk so the long side is at most ``max_px`` (JPEG draft mode decodes at reduced scale)."""
    with Image.open(path) as im:
        if im.format == "JPEG":
            im.draft("RGB", (max_px, max_px))
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im)
        if im.mode == "I;16" or im.mode == "I":
            arr = np.asarray(im, np.float64)
            arr = (arr - arr.min()) / max(1.0, float(arr.max() - arr.min())) * 255
            im = Image.fromarray(arr.astype(np.uint8))
        im = im.convert("RGB")
        if max(im.size) > max_px:
            s = max_px / max(im.size)
            im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))),
                           Image.BILINEAR, reducing_gap=2.0)
        return np.asarray(im).copy()


# ----------------------------------------------------------------------------- synthetic


class _Synth:
    """Lazy wrapper over rayrot.training.synth; ``available`` is False if it cannot be used."""

    def __init__(self, fonts_dir: str, text_dir: str, enabled: bool):
        self.available = False
        self._assets = None
        self._mod = None
        self.reason = "disabled in config"
        if not enabled:
            return
        try:
            from . import synth as mod  # noqa: PLC0415 (heavy: fonts and text load on use)
        except Exception as exc:  # pragma: no cover - a broken install of the renderer
            self.reason = f"rayrot.training.synth does not import: {exc!r}"
            return
        try:
            self._assets = mod.SynthAssets.load(fonts_dir, text_dir)
        except Exception as exc:
            self.reason = f"synth assets from {fonts_dir}, {text_dir} unusable: {exc!r}"
            return
        self._mod = mod
        self.available = True
        self.reason = ""

    def probe(self, categories: list[str]) -> tuple[str, ...]:
        """The categories that render (one sample each, seed 0); logs why the others do not."""
        ok = []
        for cat in categories:
            try:
                img = self.render(cat, np.random.default_rng(0))
                if img.ndim == 3 and min(img.shape[:2]) >= 16:
                    ok.append(cat)
            except Exception as exc:
                LOGGER.warning("synthetic %s off: %r", cat, exc)
        return tuple(ok)

    def render(self, category: str, rng: np.random.Generator) -> np.ndarray:
        if category == "synth_documents":
            out = self._mod.render_document(rng, self._assets)
        elif category == "synth_maps":
            out = self._mod.render_map(rng, self._assets)
        elif category == "synth_textures":
            out = self._mod.render_texture(rng)
        else:
            raise KeyError(category)
        return as_rgb(out)


# ----------------------------------------------------------------------------- views and aug


def target_for(category: str, k: int) -> np.ndarray:
    """Soft target: one-hot at ``k``, or uniform for categories with no up."""
    if category in UNIFORM_CATEGORIES:
        return np.full(len(ANGLES), 1.0 / len(ANGLES), np.float32)
    t = np.zeros(len(ANGLES), np.float32)
    t[k % 4] = 1.0
    return t


def _skew(rng: np.random.Generator, img: np.ndarray, category: str, max_deg: float) -> np.ndarray:
    """Tilt the whole upright image by a small angle; the canvas grows, corners get a fill."""
    angle = float(rng.uniform(-max_deg, max_deg))
    if "documents" in category:
        fill = (255, 255, 255) if rng.random() < 0.7 else tuple(int(v) for v in rng.integers(0, 256, 3))
    else:
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        fill = tuple(int(v) for v in np.median(border, axis=0))
    im = Image.fromarray(img).rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=fill)
    return np.asarray(im)


def make_view(rng: np.random.Generator, img: np.ndarray, k: int, category: str,
              aug: AugConfig, px: int, pad_value: int) -> np.ndarray:
    """One ``(px, px, 3)`` uint8 tile of the upright ``img``, turned so its label is ``k``.

    Chooses the whole image letterboxed (``aug.p_letterbox``), a partial edge tile padded to a
    square (``aug.p_partial``), or a square crop of ``crop_min..crop_max`` of the short side,
    placed anywhere (touching the border too) and resized to ``px``; padding is grey
    ``pad_value`` (the model card's).
    """
    mirror = category in MIRROR_CATEGORIES and rng.random() < aug.p_mirror
    u = rng.random()
    if u < aug.p_letterbox:
        v = letterbox(img, px, pad_value)
        if mirror:
            v = v[:, ::-1]
        return rotate_by_class(v, k)
    h, w = img.shape[:2]
    short = min(h, w)
    frac = math.exp(rng.uniform(math.log(aug.crop_min), math.log(aug.crop_max)))
    side = int(min(short, max(16, round(frac * short))))
    y0 = int(rng.integers(0, h - side + 1))
    x0 = int(rng.integers(0, w - side + 1))
    crop = img[y0:y0 + side, x0:x0 + side]
    if mirror:
        crop = crop[:, ::-1]
    tile = rotate_by_class(resize_square(np.ascontiguousarray(crop), px), k)
    if u < aug.p_letterbox + aug.p_partial:
        # Edge tile of the scored (turned) image: the content is top left, the rest padded.
        which = rng.integers(0, 3)  # 0: narrower, 1: shorter, 2: both
        kw = px if which == 1 else int(rng.integers(px // 2, px))
        kh = px if which == 0 else int(rng.integers(px // 2, px))
        tile = pad_to_square(np.ascontiguousarray(tile[:kh, :kw]), px, pad_value)
    return tile


_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ_INV = np.linalg.inv(_YIQ).astype(np.float32)


def augment(rng: np.random.Generator, tile: np.ndarray, category: str, aug: AugConfig) -> np.ndarray:
    """Photometric augmentation of a ``(H, W, 3)`` uint8 tile; geometry is left alone."""
    x = tile.astype(np.float32)
    if rng.random() < aug.p_color:
        s = aug.photo_color_strength if category in PHOTO_LIKE else aug.color_strength
        b = 1 + rng.uniform(-s, s)
        c = 1 + rng.uniform(-s, s)
        sat = 1 + rng.uniform(-s, s) * 1.5
        hue = rng.uniform(-s, s) * 0.5  # radians
        cos, sin = math.cos(hue), math.sin(hue)
        rot = np.array([[1, 0, 0], [0, cos, -sin], [0, sin, cos]], np.float32)
        sc = np.diag(np.array([1, sat, sat], np.float32))
        m = _YIQ_INV @ rot @ sc @ _YIQ
        x = x @ m.T
        mean = x.mean()
        x = (x - mean) * c + mean * b
    if rng.random() < aug.p_gray:
        g = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = np.repeat(g[..., None], 3, axis=2)
    if rng.random() < aug.p_gamma:
        x = 255.0 * np.power(np.clip(x, 0, 255) / 255.0, rng.uniform(0.6, 1.6))
    if rng.random() < aug.p_noise:
        x = x + rng.normal(0, rng.uniform(1, aug.max_noise), x.shape).astype(np.float32)
    out = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < aug.p_blur:
        out = np.asarray(Image.fromarray(out).filter(
            ImageFilter.GaussianBlur(rng.uniform(0.3, aug.max_blur_px))))
    if rng.random() < aug.p_jpeg:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, "JPEG", quality=int(rng.integers(aug.jpeg_min_q, 96)))
        buf.seek(0)
        out = np.asarray(Image.open(buf).convert("RGB"))
    return np.require(out, np.uint8, ["C", "W"])


def _prepare(rng: np.random.Generator, img: np.ndarray, category: str, aug: AugConfig) -> np.ndarray:
    """Per-image steps done once when an image enters a pool (tilt documents and maps)."""
    if category in SKEW_CATEGORIES and aug.max_skew_deg > 0 and rng.random() < aug.p_skew:
        img = _skew(rng, img, category, aug.max_skew_deg)
    return img


# ----------------------------------------------------------------------------- streams


def cached_categories(data: DataConfig) -> tuple[str, ...]:
    """The rendered categories drawn from a render cache (``data.render_cache``) that has images."""
    out = []
    for cat, folder in sorted(data.render_cache.items()):
        if cat not in SYNTH_CATEGORIES:
            raise ValueError(f"data.render_cache: {cat!r} is not a rendered category "
                             f"{SYNTH_CATEGORIES}")
        if data.mix.get(cat, 0) > 0 and any(Path(folder).glob("shard_*.npz")):
            out.append(cat)
    return tuple(out)


def _weights(mix: dict[str, float], available: set[str]) -> dict[str, float]:
    unknown = set(mix) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"data.mix: unknown categories {sorted(unknown)}; known: {CATEGORIES}")
    w = {c: float(v) for c, v in mix.items() if c in available and v > 0}
    total = sum(w.values())
    if not total:
        raise ValueError(f"data.mix: no category with data among {sorted(mix)} "
                         f"(available: {sorted(available)})")
    return {c: v / total for c, v in w.items()}


class TrainStream(torch.utils.data.IterableDataset):
    """Endless training samples; each DataLoader worker draws its own with its own seed.

    Each worker keeps ``pool_size`` decoded (and possibly tilted) images per category and
    cuts on average ``pool_reuse`` views from each before replacing it, which amortises
    decoding and rendering while keeping batches varied.
    """

    def __init__(self, data: DataConfig, aug: AugConfig, sources: SourceSet, seed: int,
                 rank: int = 0):
        super().__init__()
        self.data, self.aug, self.sources, self.seed, self.rank = data, aug, sources, seed, rank
        self._synth: _Synth | None = None
        self._caches: dict[str, RenderCache] = {}
        available = {c for c in REAL_CATEGORIES if sources.train.get(c)}
        self.synth_available = False
        self.synth_categories: tuple[str, ...] = ()
        self.cached_categories = cached_categories(data)
        available |= set(self.cached_categories)
        wanted = [c for c in SYNTH_CATEGORIES if data.mix.get(c, 0) > 0
                  and c not in self.cached_categories and c != "geo_maps"]
        if data.synth and wanted:
            probe = _Synth(data.fonts_dir, data.text_dir, data.synth)
            if probe.available:
                self.synth_categories = probe.probe(wanted)
            else:
                LOGGER.warning("synthetic data off: %s", probe.reason)
            available |= set(self.synth_categories)
        self.synth_available = bool(self.synth_categories)
        self.weights = _weights(data.mix, available)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        rng = np.random.default_rng([self.seed, self.rank, wid])
        if self.synth_available and self._synth is None:
            self._synth = _Synth(self.data.fonts_dir, self.data.text_dir, True)
        cats = list(self.weights)
        p = np.array([self.weights[c] for c in cats])
        pools: dict[str, list[np.ndarray]] = {c: [] for c in cats}
        replace_p = {c: 1.0 / max(1.0, self.data.pool_reuse_synth if c in SYNTH_CATEGORIES
                                  else self.data.pool_reuse) for c in cats}
        px = self.data.input_px
        failures = {c: 0 for c in cats}
        while True:
            cat = cats[int(rng.choice(len(cats), p=p))]
            pool = pools[cat]
            if len(pool) < self.data.pool_size:
                img = self._fresh(rng, cat)
                if img is None:
                    failures[cat] += 1
                    if failures[cat] >= 50 and not pool:  # never worked: drop the category
                        LOGGER.warning("dropping category %s: 50 failures in a row", cat)
                        i = cats.index(cat)
                        cats.pop(i)
                        p = np.delete(p, i)
                        p = p / p.sum()
                    continue
                failures[cat] = 0
                pool.append(img)
                idx = len(pool) - 1
            else:
                idx = int(rng.integers(len(pool)))
            img = pool[idx]
            k = int(rng.integers(4))
            tile = augment(rng, make_view(rng, img, k, cat, self.aug, px, self.data.pad_value), cat,
                           self.aug)
            yield tile, target_for(cat, k), CATEGORIES.index(cat)
            if len(pool) >= self.data.pool_size and rng.random() < replace_p[cat]:
                fresh = self._fresh(rng, cat)
                if fresh is not None:
                    pool[idx] = fresh

    def _groups(self, cat: str) -> tuple[list[tuple[str, ...]], np.ndarray]:
        """The category's files by source group, and each group's draw probability."""
        cache = self.__dict__.setdefault("_group_cache", {})
        if cat not in cache:
            by: dict[str, list[str]] = {}
            for f in self.sources.train[cat]:
                by.setdefault(source_group(f), []).append(f)
            groups = [tuple(v) for _, v in sorted(by.items())]
            w = np.array([len(g) ** self.data.group_power for g in groups], np.float64)
            cache[cat] = (groups, w / w.sum())
        return cache[cat]

    def _fresh(self, rng: np.random.Generator, cat: str) -> np.ndarray | None:
        try:
            if cat in self.cached_categories:
                if cat not in self._caches:
                    self._caches[cat] = RenderCache(self.data.render_cache[cat], part="train")
                img = self._caches[cat].random(rng)
            elif cat in SYNTH_CATEGORIES:
                img = self._synth.render(cat, rng)
            else:
                groups, gp = self._groups(cat)
                files = groups[int(rng.choice(len(groups), p=gp))]
                img = load_image(files[int(rng.integers(len(files)))], self.data.max_decode_px)
        except Exception as exc:  # a bad file or a renderer hiccup must not stop training
            LOGGER.warning("skipping a %s sample: %r", cat, exc)
            return None
        if min(img.shape[:2]) < 16:
            return None
        return _prepare(rng, img, cat, self.aug)


class ValSet(torch.utils.data.Dataset):
    """A fixed validation set: item ``i`` is the same tile whenever and wherever it is made.

    Real categories draw from the held-out files only; synthetic ones from renders seeded by
    ``(val_seed, category, i)``. Categories share ``val_samples`` equally; labels cycle 0..3.
    """

    def __init__(self, data: DataConfig, aug: AugConfig, sources: SourceSet,
                 synth_categories: tuple[str, ...] = (), categories: list[str] | None = None):
        super().__init__()
        self.data, self.aug, self.sources = data, aug, sources
        cats = [c for c in CATEGORIES if data.mix.get(c, 0) > 0]
        cached = cached_categories(data)
        cats = [c for c in cats if c in synth_categories or c in cached
                or (c in REAL_CATEGORIES and sources.val.get(c))]
        if categories is not None:
            cats = [c for c in cats if c in categories]
        self.categories = cats
        per = data.val_samples // max(1, len(cats))
        self.items = [(c, i) for c in cats for i in range(per)]
        self._synth: _Synth | None = None
        self._val_caches: dict[str, RenderCache] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        cat, i = self.items[index]
        rng = np.random.default_rng([self.data.val_seed, CATEGORIES.index(cat), i])
        if cat in cached_categories(self.data):
            if cat not in self._val_caches:
                self._val_caches[cat] = RenderCache(self.data.render_cache[cat], part="val")
            held_out = self._val_caches[cat]
            img = held_out.get(i % len(held_out))
        elif cat in SYNTH_CATEGORIES:
            if self._synth is None:
                self._synth = _Synth(self.data.fonts_dir, self.data.text_dir, True)
            img = self._synth.render(cat, rng)
        else:
            files = self.sources.val[cat]
            img = load_image(files[i % len(files)], self.data.max_decode_px)
        img = _prepare(rng, img, cat, self.aug)
        k = i % 4
        tile = augment(rng, make_view(rng, img, k, cat, self.aug, self.data.input_px,
                                       self.data.pad_value), cat, self.aug)
        return tile, target_for(cat, k), CATEGORIES.index(cat)


def worker_init_fn(worker_id: int) -> None:
    """Seed the global RNGs of a DataLoader worker (for code that uses them) and keep it to one
    thread, so many workers do not oversubscribe the cores."""
    import random

    seed = torch.initial_seed() % (2**32)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.set_num_threads(1)
