"""One typed, validated configuration object, loaded from YAML.

``configs/default.yaml`` holds every default; it is the only place they live.
A user's file (``--config``) and ``--set key=value`` overrides are laid over it::

    cfg = load_config("configs/slides.yaml", overrides=["tiling.max_tiles=32"])
    cfg.tiling.tile_px        # 224

Each stage receives only its own section (``cfg.tiling``, ``cfg.vote`` ...).
An unknown key, a missing key or a value of the wrong type raises
:class:`~rayrot.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = [
    "RunConfig",
    "SourceConfig",
    "TilingConfig",
    "ModelConfig",
    "ScorerConfig",
    "VoteConfig",
    "SkewConfig",
    "OutputConfig",
    "RayConfig",
    "load_config",
    "build_config",
    "default_config_path",
    "CONFIG_DIR",
]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def default_config_path() -> Path:
    return CONFIG_DIR / "default.yaml"


@dataclass(frozen=True)
class SourceConfig:
    openslide_suffixes: tuple[str, ...]
    max_pixels: int  # level-0 pixels; larger headers are refused before decoding
    ordinary_max_pixels: int  # non-pyramidal images up to this size get the adaptive resize
    vips_concurrency: int  # libvips threads per process
    folder_suffixes: tuple[str, ...]  # files picked up when a folder is given as input
    loaders: tuple[str, ...]  # libvips loaders (nicknames) allowed to open an input
    fail_on: str  # libvips' fail_on: what damage in a file is an error
    max_decoded_pixels: int  # level-0 pixels a format without random access may decode whole
    untiled_preview_px: int  # long side of the level made for a big image without random access

    def __post_init__(self):
        _positive(self, "max_pixels", "ordinary_max_pixels", "vips_concurrency",
                  "max_decoded_pixels", "untiled_preview_px")
        if self.fail_on not in ("none", "truncated", "error", "warning"):
            raise ConfigError(f"source.fail_on must be none, truncated, error or warning, "
                              f"got {self.fail_on!r}")
        bad = [n for n in self.loaders if not n.endswith("load")]
        if bad:
            raise ConfigError(f"source.loaders: {bad} are not libvips loader names "
                              "(jpegload, pngload, ...)")


@dataclass(frozen=True)
class TilingConfig:
    tile_px: int  # tile side at the scale it is scored at
    overlap_px: int
    min_edge_share: float  # 0..1
    target_long_px: int  # long side of the scale gigapixel images are scored at
    ordinary_keep_below_px: int
    ordinary_mid_limit_px: int
    ordinary_mid_px: int
    ordinary_large_px: int
    thumbnail_px: int
    background_white_level: int  # 0..255
    background_black_level: int  # 0..255
    background_max_saturation: int  # 0..255
    min_content_share: float  # 0..1
    max_tiles: int
    global_view: bool
    global_view_read_px: int  # long side of the thumbnail the whole-image view is made from
    context_crops: bool  # also score five square crops of context_share of the short side
    context_share: float  # 0..1
    ordinary_grid: bool  # ordinary images also score grid tiles
    # ... only when the whole view and context crops leave the vote undetermined or below
    # this confidence (None: always)
    ordinary_grid_below_confidence: float | None
    refine_steps: int  # finer looks at a gigapixel image whose vote is undetermined or weak
    refine_factor: float  # each finer look is this many times finer (> 1)
    refine_below_confidence: float  # a determined vote below this confidence also looks closer

    def __post_init__(self):
        if self.refine_steps < 0:
            raise ConfigError(f"tiling.refine_steps must be >= 0, got {self.refine_steps}")
        if not self.refine_factor > 1:
            raise ConfigError(f"tiling.refine_factor must be > 1, got {self.refine_factor}")
        _positive(self, "tile_px", "target_long_px", "thumbnail_px", "max_tiles",
                  "global_view_read_px", "ordinary_keep_below_px", "ordinary_mid_limit_px", "ordinary_mid_px",
                  "ordinary_large_px")
        if not 0 <= self.overlap_px < self.tile_px:
            raise ConfigError(f"tiling.overlap_px must be in [0, tile_px={self.tile_px}), "
                              f"got {self.overlap_px}")
        _unit(self, "min_edge_share", "min_content_share", "refine_below_confidence")
        if self.ordinary_grid_below_confidence is not None:
            _unit(self, "ordinary_grid_below_confidence")
        if not 0 < self.context_share <= 1:
            raise ConfigError(f"tiling.context_share must be in (0, 1], got {self.context_share}")
        for key in ("background_white_level", "background_black_level", "background_max_saturation"):
            if not 0 <= getattr(self, key) <= 255:
                raise ConfigError(f"tiling.{key} must be in [0, 255], got {getattr(self, key)}")


@dataclass(frozen=True)
class ModelConfig:
    name: str  # registered model name or path to a .safetensors file
    rotation_tta: bool
    cpu_backend: str  # "onnxruntime" (the graph beside the weights, when usable) or "torch"

    def __post_init__(self):
        if self.cpu_backend not in ("onnxruntime", "torch"):
            raise ConfigError(f"model.cpu_backend must be onnxruntime or torch, got "
                              f"{self.cpu_backend!r}")


@dataclass(frozen=True)
class ScorerConfig:
    batch_size: int
    first_batch_size: int  # tiles in an image's first model call, before the early stop is checked
    num_actors: int  # 0 = automatic
    num_gpus_per_actor: float
    num_cpus_per_actor: float
    cpu_threads: int  # threads of each actor's CPU inference (torch's, onnxruntime's)
    fp16_on_cuda: bool
    max_restarts: int
    max_task_retries: int
    dataset_batch_size: int  # image paths per call of detect_dataset's Ray Data scorer
    # 0..1, or None = off: an ordinary image whose whole-image view alone (no rotation TTA)
    # reaches this calibrated top probability is decided from that view
    cascade_stop_confidence: float | None
    image_time_limit_s: float | None  # seconds one image may take to detect; None = no limit
    idle_release_s: float  # detect()'s actors stop once idle this long (0: when it returns)

    def __post_init__(self):
        if self.image_time_limit_s is not None and self.image_time_limit_s <= 0:
            raise ConfigError(f"scorer.image_time_limit_s must be > 0 (null = no limit), "
                              f"got {self.image_time_limit_s}")
        _positive(self, "batch_size", "first_batch_size", "cpu_threads", "dataset_batch_size")
        if self.idle_release_s < 0:
            raise ConfigError(f"scorer.idle_release_s must be >= 0, got {self.idle_release_s}")
        stop = self.cascade_stop_confidence
        if stop is not None and not 0 <= stop <= 1:
            raise ConfigError(f"scorer.cascade_stop_confidence must be in [0, 1] (0, null or false "
                              f"= off), got {stop}")
        if self.num_actors < 0:
            raise ConfigError(f"scorer.num_actors must be >= 0 (0 = automatic), got {self.num_actors}")
        if not 0 < self.num_gpus_per_actor <= 1:
            raise ConfigError(f"scorer.num_gpus_per_actor must be in (0, 1], got {self.num_gpus_per_actor}")


@dataclass(frozen=True)
class VoteConfig:
    center_sigma: float  # in units of the image's half diagonal
    confidence_floor: float  # 0..1
    undetermined_threshold: float  # 0..1, the winner's share of the vote mass
    min_margin: float  # 0..1, the winner's share minus the runner-up's
    min_tiles: int
    global_weight: float
    context_weight: float  # each context crop's weight
    early_stop: bool

    def __post_init__(self):
        _positive(self, "center_sigma")
        _unit(self, "confidence_floor", "undetermined_threshold", "min_margin")
        for key in ("global_weight", "context_weight"):
            if getattr(self, key) < 0:
                raise ConfigError(f"vote.{key} must be >= 0, got {getattr(self, key)}")


@dataclass(frozen=True)
class SkewConfig:
    enabled: bool
    max_angle_deg: float  # the estimator searches [-max_angle_deg, max_angle_deg]
    min_confidence: float  # below this the image's skew is reported as 0.0
    max_tiles: int  # tiles measured for skew
    tile_px: int  # tile side used for skew, at the skew level
    target_long_px: int  # long side of the scale skew is measured at
    refine_steps: int  # finer looks at a gigapixel image whose skew estimate would be declined
    refine_factor: float  # each finer look is this many times finer (> 1)
    deskew_tiles_above_deg: float  # tiles are de-skewed before scoring above this skew
    min_correction_deg: float  # smaller skews are reported as 0.0 and not corrected
    tile_overlap_px: int  # overlap of neighbouring skew tiles, in pixels at the skew scale
    min_edge_share: float  # 0..1, an edge tile narrower or shorter than this share is dropped
    whole_image_px: int  # long side of the thumbnail the whole-image skew tile is made from
    whole_image_weight: float  # vote weight of the whole-image tile (a tile's is sqrt(content share))
    after_first_look: bool  # measure an ordinary image a first look decided (correct() always does)

    def __post_init__(self):
        _positive(self, "max_angle_deg", "max_tiles", "tile_px", "target_long_px", "whole_image_px")
        _unit(self, "min_confidence", "min_edge_share")
        if not 0 <= self.tile_overlap_px < self.tile_px:
            raise ConfigError(f"skew.tile_overlap_px must be in [0, tile_px={self.tile_px}), "
                              f"got {self.tile_overlap_px}")
        if self.whole_image_weight < 0:
            raise ConfigError(f"skew.whole_image_weight must be >= 0, got {self.whole_image_weight}")
        if self.refine_steps < 0:
            raise ConfigError(f"skew.refine_steps must be >= 0, got {self.refine_steps}")
        if not self.refine_factor > 1:
            raise ConfigError(f"skew.refine_factor must be > 1, got {self.refine_factor}")


@dataclass(frozen=True)
class OutputConfig:
    formats: tuple[str, ...]
    zarr_chunk_px: int
    ngff_version: str
    zarr_max_levels: int
    zarr_block_levels: int  # a write job makes 2**k x 2**k chunks and the k levels below them
    zarr_codec: str  # chunk compression: "lz4" (Blosc-LZ4) or "zstd"
    zarr_codec_levels: dict[str, int]  # codec -> its compression level
    overlay_thumbnail_px: int  # the overlay's thumbnail, long side in pixels
    overlay_inches: float  # the overlay figure's side
    overlay_dpi: int
    image_max_pixels: int
    jpeg_quality: int
    fill: str
    skew_crop: bool  # crop a fine-skew correction back to the input's size instead of expanding
    write_task_cpus: float  # CPUs Ray reserves for each OME-Zarr block-writing task
    write_task_retries: int  # Ray retries of a block-writing task that failed
    ome_tiff_tile_px: int  # tile side of the OME-TIFF output, pixels
    ome_tiff_compression: str  # libvips tiffsave compression of the OME-TIFF tiles
    flush_images: int  # a batch's Parquet rows are written every this many finished images
    flush_seconds: float  # ... or this long after the first one not yet written

    def __post_init__(self):
        known = {"parquet", "zarr", "image", "overlay", "ome-tiff"}
        bad = [f for f in self.formats if f not in known]
        if bad:
            raise ConfigError(f"output.formats: unknown format(s) {bad}; choose from {sorted(known)}")
        if self.ngff_version not in ("0.4", "0.5"):
            raise ConfigError(f"output.ngff_version must be '0.4' or '0.5', got {self.ngff_version!r}")
        if self.fill not in ("white", "black", "transparent"):
            raise ConfigError(f"output.fill must be white, black or transparent, got {self.fill!r}")
        _positive(self, "zarr_chunk_px", "image_max_pixels", "flush_images", "flush_seconds",
                  "overlay_thumbnail_px", "overlay_inches", "overlay_dpi")
        if not isinstance(self.zarr_codec_levels.get(self.zarr_codec), int):
            raise ConfigError(f"output.zarr_codec_levels has no level for {self.zarr_codec!r}")
        if not 0 <= self.zarr_block_levels <= 4:
            raise ConfigError(f"output.zarr_block_levels must be in [0, 4], "
                              f"got {self.zarr_block_levels}")
        if self.zarr_codec not in ("lz4", "zstd"):
            raise ConfigError(f"output.zarr_codec must be 'lz4' or 'zstd', got {self.zarr_codec!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"output.jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        if self.ome_tiff_tile_px <= 0 or self.ome_tiff_tile_px % 16:
            raise ConfigError(f"output.ome_tiff_tile_px must be a positive multiple of 16 (TIFF "
                              f"tiles), got {self.ome_tiff_tile_px}")
        if self.ome_tiff_compression not in ("none", "deflate", "lzw", "zstd", "jpeg", "webp"):
            raise ConfigError(f"output.ome_tiff_compression must be one of none, deflate, lzw, "
                              f"zstd, jpeg, webp; got {self.ome_tiff_compression!r}")


@dataclass(frozen=True)
class RayConfig:
    address: str | None
    num_cpus: int | None


@dataclass(frozen=True)
class RunConfig:
    source: SourceConfig
    tiling: TilingConfig
    model: ModelConfig
    scorer: ScorerConfig
    vote: VoteConfig
    skew: SkewConfig
    output: OutputConfig
    ray: RayConfig

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **sections: dict[str, Any]) -> "RunConfig":
        """A copy with some keys changed: ``cfg.replace(vote={"min_tiles": 3})``."""
        merged = _deep_merge(self.to_dict(), sections)
        return _build(RunConfig, merged, "<replace>", "")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load ``configs/default.yaml``, overlay ``path`` and then ``overrides``.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file with any subset of the sections and keys of ``default.yaml``.
        A bare name such as ``"slides"`` is looked up in ``configs/``.
    overrides : list of str, optional
        ``"section.key=value"`` strings; the value is parsed as YAML (``"tiling.max_tiles=32"``,
        ``"output.formats=[parquet]"``).

    Returns
    -------
    cfg : RunConfig
    """
    data = _read_yaml(default_config_path())
    source = str(default_config_path())
    if path is not None:
        p = Path(path)
        if not p.exists() and not p.suffix and (CONFIG_DIR / f"{p}.yaml").exists():
            p = CONFIG_DIR / f"{p}.yaml"
        user = _read_yaml(p)
        _check_keys(user, data, str(p), "")
        data = _deep_merge(data, user)
        source = str(p)
    for item in overrides or []:
        patch = parse_overrides([item])
        _check_keys(patch, data, f"--set {item}", "")
        data = _deep_merge(data, patch)
        source = f"--set {item}"
    return _build(RunConfig, data, source, "")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``--set`` strings -> one nested mapping, to lay over a config's YAML data.

    Each item is ``"section.key=value"`` (any depth); the value is parsed as YAML. Shared by
    the run command line, the training and fine-tuning jobs and the benchmarks.

    >>> parse_overrides(["tiling.max_tiles=32", "output.formats=[parquet, zarr]", "ray.address=null"])
    {'tiling': {'max_tiles': 32}, 'output': {'formats': ['parquet', 'zarr']}, 'ray': {'address': None}}

    Raises :class:`~rayrot.errors.ConfigError` naming the item when it is not ``key=value``
    or its value is not YAML.
    """
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        dotted, raw = item.split("=", 1)
        keys = [k for k in dotted.strip().split(".")]
        if not all(keys):
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: value is not valid YAML: {exc}") from exc
        patch: Any = value
        for k in reversed(keys):
            patch = {k: patch}
        out = _deep_merge(out, patch)
    return out


# ----------------------------------------------------------------------------- helpers


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of sections, got {type(data).__name__}")
    return data


def _check_keys(user: dict, ref: dict, source: str, prefix: str) -> None:
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if key not in ref:
            raise ConfigError(f"{source}: unknown key {dotted!r}")
        if isinstance(ref[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {dotted!r} must be a mapping")
            _check_keys(value, ref[key], source, dotted + ".")


def _deep_merge(base: dict, patch: dict) -> dict:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls, data: dict, source: str, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = set(data) - set(names)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {sorted(prefix + k for k in unknown)}")
    missing = [n for n in names if n not in data]
    if missing:
        raise ConfigError(f"{source}: missing key(s) {[prefix + m for m in missing]}")
    kwargs = {}
    for name in names:
        kwargs[name] = _coerce(hints[name], data[name], source, prefix + name)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def build_config(cls, data: dict, source: str):
    """A tree of frozen dataclasses ``cls`` from a YAML mapping, with every key checked.

    Shared by :func:`load_config` and the training configs; ``source`` names the file in
    messages.
    """
    return _build(cls, data, source, "")


def _coerce(tp, value, source: str, dotted: str):
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, source, dotted + ".")
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {dotted!r} must be a mapping, got {value!r}")
        return {str(k): _coerce(args[1], v, source, f"{dotted}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        # an optional setting: null (or false, for one that is not a bool) turns it off
        if type(None) in args and (value is None or (value is False and bool not in args)):
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, source, dotted)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {dotted!r} must be a list, got {value!r}")
        return tuple(_coerce(args[0], v, source, dotted) for v in value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {dotted!r} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"{source}: {dotted!r} must be an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {dotted!r} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{source}: {dotted!r} must be a string, got {value!r}")
        return str(value)
    return value


def _positive(obj, *keys: str) -> None:
    section = type(obj).__name__.replace("Config", "").lower()
    for key in keys:
        if getattr(obj, key) <= 0:
            raise ConfigError(f"{section}.{key} must be positive, got {getattr(obj, key)}")


def _unit(obj, *keys: str) -> None:
    section = type(obj).__name__.replace("Config", "").lower()
    for key in keys:
        if not 0 <= getattr(obj, key) <= 1:
            raise ConfigError(f"{section}.{key} must be in [0, 1], got {getattr(obj, key)}")
