"""Map renderer: every kind draws from the tiny shipped extract (and from the fetched data
when present), text is upright, north is up, hillshade is lit from the north-west, and the
cache command writes readable shards."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from rayrot.training.maps import draw as D
from rayrot.training.maps import raster as R
from rayrot.training.maps.geo import load_layers, read_gmt_segments, ring_area
from rayrot.training.maps.project import Projection, View
from rayrot.training.maps.render import KINDS, MapAssets, render_map, render_map_kind
from rayrot.training.maps.style import Fonts, font

TINY = Path(__file__).parent / "data" / "maps_geo"
FETCHED = Path(os.environ.get("RAYROT_MAPDATA", Path(__file__).parents[1] / ".data" / "mapdata"))


@pytest.fixture(scope="module")
def tiny():
    return MapAssets.load(TINY, None)


def _check_map(img):
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert 300 <= max(img.shape[:2]) <= 1300
    assert img.reshape(-1, 3).std(0).max() > 5          # not a blank page


def test_every_kind_draws_from_tiny_extract(tiny):
    kinds = tiny.kinds()
    assert {"political", "labelled", "choropleth", "relief", "raster_legend", "street",
            "coast"} <= set(kinds)
    for i, k in enumerate(kinds):
        for s in range(2):
            img, kind = render_map_kind(np.random.default_rng(10 * i + s), tiny, k)
            assert kind == k
            _check_map(img)
    _check_map(render_map(np.random.default_rng(5), tiny))


@pytest.mark.skipif(not (FETCHED / "geo.npz").exists(), reason="fetched map data not present "
                    "(python -m rayrot.training.maps.fetch --out .data/mapdata)")
def test_every_kind_draws_from_fetched_sources():
    assets = MapAssets.load(FETCHED, None)
    assert set(assets.kinds()) == set(KINDS)
    for name in ("countries", "states", "coast", "rivers", "borders", "uscounties", "nc",
                 "osm_roads", "cities"):
        assert len(assets.layers[name]) > 0, name
    for i, k in enumerate(assets.kinds()):
        img, _ = render_map_kind(np.random.default_rng(100 + i), assets, k)
        _check_map(img)


def _ink_rows(a: np.ndarray) -> np.ndarray:
    ink = 255.0 - a.astype(float)
    rows = ink.sum(1)
    return rows[rows > rows.max() * 0.05] if rows.max() > 0 else rows


def _top_heavy(a: np.ndarray) -> float:
    """>0 when a line of 'T's has its ink (the crossbars) in its upper half."""
    ink = 255.0 - a.astype(float)
    ys = np.nonzero(ink.sum(1) > 0)[0]
    y0, y1 = ys.min(), ys.max()
    mid = (y0 + y1) / 2
    r = ink.sum(1)
    return float(r[: int(mid)].sum() - r[int(mid) + 1:].sum())


@pytest.mark.parametrize("direction", [0, 180, 170, -170, 10, -10, 60, 120, -120, 250])
def test_text_along_a_line_is_never_upside_down(direction):
    fnt = font(Fonts(None).pick(np.random.default_rng(0), 1.0), 22)
    img = Image.new("RGB", (400, 400), "white")
    t = np.radians(direction)
    c = np.array([200.0, 200.0])
    u = np.array([np.cos(t), -np.sin(t)])       # image axes: y down
    xy = np.stack([c - 150 * u, c + 150 * u])
    assert D.text_along(img, xy, "TTTTTTT", fnt, (0, 0, 0), max_angle=90)
    ang = D.upright_angle(*(xy[1] - xy[0]))
    assert -90 < ang <= 90
    # undo the rotation and check the crossbars of the T's are on top
    back = img.convert("L").rotate(-ang, resample=Image.BICUBIC, fillcolor=255)
    a = np.asarray(back)
    assert _top_heavy(a) > 0
    # and it matches PIL's own upright rendering better than the upside-down one
    ref = Image.new("L", (400, 400), 255)
    ImageDraw.Draw(ref).text((200, 200), "TTTTTTT", font=fnt, fill=0, anchor="mm")
    ra = np.asarray(ref)
    assert _top_heavy(ra) > 0
    prof = _ink_rows(a)
    rprof = _ink_rows(ra)
    n = min(len(prof), len(rprof))
    if n > 4:
        p, q = prof[:n], rprof[:n]
        assert np.corrcoef(p, q)[0, 1] > np.corrcoef(p[::-1], q)[0, 1]


def test_horizontal_labels_are_upright(tiny):
    img = Image.new("RGB", (300, 100), "white")
    d = ImageDraw.Draw(img)
    fnt = font(tiny.fonts.pick(np.random.default_rng(1)), 30)
    assert D.text(d, (150, 50), "TTTT", fnt, (0, 0, 0))
    assert _top_heavy(np.asarray(img.convert("L"))) > 0


@pytest.mark.parametrize("kind", ["platecarree", "equirect", "mercator", "lcc", "albers",
                                  "stere_n", "ortho"])
def test_north_is_up_and_east_is_right(tiny, kind):
    C = tiny.layers["countries"]
    name = "Norway" if kind == "stere_n" else "Chile"
    i = C.names.index(name)
    ring = max(C.parts[i], key=lambda p: abs(ring_area(p)))
    lon0, lat0 = ring.mean(0)
    proj = Projection(kind, float(lon0), float(lat0), float(lat0) - 5, float(lat0) + 5)
    x, y = proj.forward(ring[:, 0], ring[:, 1])
    view = View.fit(np.nanmin(x), np.nanmin(y), np.nanmax(x), np.nanmax(y), (0, 0, 800, 600))
    px = view.to_px(x, y)
    north, south = np.argmax(ring[:, 1]), np.argmin(ring[:, 1])
    assert px[north, 1] < px[south, 1]                 # northernmost point nearer the top
    assert px[:, 1].min() >= -1 and px[:, 1].max() <= 601
    # a meridian through the centre runs straight up the image towards the north
    lat = np.linspace(lat0 - 3, lat0 + 3, 5)
    mx, my = proj.forward(np.full(5, lon0), lat)
    mp = view.to_px(mx, my)
    assert np.all(np.diff(mp[:, 1]) < 0) and np.allclose(mp[:, 0], mp[0, 0], atol=1e-6)
    ex, ey = proj.forward(np.array([lon0 - 1, lon0 + 1]), np.array([lat0, lat0]))
    ep = view.to_px(ex, ey)
    assert ep[1, 0] > ep[0, 0]                         # east to the right


def test_hillshade_lit_from_north_west():
    yy, xx = np.mgrid[0:101, 0:101]
    z = np.exp(-((xx - 50) ** 2 + (yy - 50) ** 2) / 400.0)
    hs = R.hillshade(z)
    assert hs[35, 35] > hs[65, 65] + 0.2               # NW flank (top-left) bright, SE dark


def test_gmt_segments_and_tiny_layers():
    segs = read_gmt_segments("> a\n1 2\n3 4\n> b\n5 6\n7 8\n9 10\n")
    assert [h for h, _ in segs] == ["a", "b"] and segs[1][1].shape == (3, 2)
    L = load_layers(TINY / "geo.npz")
    assert len(L["countries"]) >= 30 and len(L["cities"]) > 100


def test_cache_writes_readable_shards(tmp_path):
    from rayrot.training.maps import cache
    cache.main(["--out", str(tmp_path), "--n", "5", "--seed", "3", "--shard-size", "3",
                "--mapdata", str(TINY), "--fonts", str(tmp_path / "nofonts"), "--max-side", "320"])
    shards = sorted(tmp_path.glob("shard_*.npz"))
    assert [p.name for p in shards] == ["shard_0000.npz", "shard_0001.npz"]
    assert not list(tmp_path.glob("*.tmp*"))
    n = 0
    for p in shards:
        z = np.load(p)                                   # no pickle needed
        keys = sorted(k for k in z.files if k.startswith("img_"))
        kinds = z["kinds"]
        assert len(keys) == len(kinds) == len(z["seeds"])
        for k in keys:
            im = z[k]
            assert im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3
            assert max(im.shape[:2]) <= 320
        assert all(str(k) in KINDS for k in kinds)
        n += len(keys)
    assert n == 5
    # resuming skips finished shards
    cache.main(["--out", str(tmp_path), "--n", "5", "--seed", "3", "--shard-size", "3",
                "--mapdata", str(TINY), "--max-side", "320"])


def _write_shapefile(base: Path, rings, names):
    """A minimal polygon shapefile + dBASE table (one ring per record)."""
    import struct
    recs = b""
    for i, r in enumerate(rings, 1):
        r = np.asarray(r, "<f8")
        body = struct.pack("<i", 5) + struct.pack("<4d", *r.min(0), *r.max(0))
        body += struct.pack("<ii", 1, len(r)) + struct.pack("<i", 0) + r.tobytes()
        recs += struct.pack(">ii", i, len(body) // 2) + body
    head = struct.pack(">i", 9994) + b"\0" * 20 + struct.pack(">i", (100 + len(recs)) // 2)
    head += struct.pack("<ii", 1000, 5) + b"\0" * 64
    base.with_suffix(".shp").write_bytes(head + recs)
    flen = 12
    dbf = struct.pack("<BBBBIHH", 3, 124, 1, 1, len(names), 32 + 32 + 1, 1 + flen) + b"\0" * 20
    dbf += b"NAME".ljust(11, b"\0") + b"C" + b"\0" * 4 + bytes([flen]) + b"\0" * 15 + b"\r"
    for n in names:
        dbf += b" " + n.encode().ljust(flen)
    base.with_suffix(".dbf").write_bytes(dbf + b"\x1a")


def test_shapefile_reader(tmp_path):
    from rayrot.training.maps.geo import read_dbf, read_shp
    sq = [(0, 0), (0, 2), (3, 2), (3, 0), (0, 0)]
    tri = [(10, 10), (11, 12), (12, 10), (10, 10)]
    _write_shapefile(tmp_path / "t", [sq, tri], ["Square", "Triangle"])
    g = read_shp(tmp_path / "t.shp")
    assert len(g) == 2 and g[0][0].shape == (5, 2) and g[1][0][1].tolist() == [11, 12]
    assert [r["NAME"] for r in read_dbf(tmp_path / "t.dbf")] == ["Square", "Triangle"]
    assert ring_area(g[0][0]) < 0                      # shapefile outer rings are clockwise
