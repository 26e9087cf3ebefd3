"""The orientation model: a compact CNN, a registry of named variants, and safe weights I/O.

This is the only module in rayrot that defines ``nn.Module`` classes. A model maps an RGB
tile to four logits, one per class of :data:`rayrot.preprocess.ANGLES`: class ``k`` is the
clockwise rotation by ``90 * k`` degrees that makes the tile upright.

Public surface::

    create_model(name) -> nn.Module               # a registered architecture, random weights
    list_models(pattern="*") -> list[str]
    load_model(spec, device="cpu") -> (nn.Module, ModelCard)   # name or path to .safetensors
    save_model(module, card, path) -> ModelCard   # .safetensors + .json card, atomically
    predict_proba(module, card, batch_uint8, rotation_tta, device, fp16) -> (B, 4) float32

Weights are stored as safetensors only; nothing is ever unpickled. Each weights file has a
JSON :class:`ModelCard` beside it (``<stem>.json``) with the preprocessing the weights expect
(input size, mean, std, class order), the calibration temperature, the training recipe and
the sha256 of the weights file.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn

from .errors import ModelError
from .preprocess import ANGLES

__all__ = [
    "ModelCard",
    "OrientNet",
    "register_model",
    "list_models",
    "create_model",
    "default_card",
    "load_model",
    "save_model",
    "predict_proba",
    "logits_to_proba",
    "WEIGHTS_DIR",
]

LOGGER = logging.getLogger(__name__)

# Weights shipped inside the package: <WEIGHTS_DIR>/<name>.safetensors + <name>.json
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

CARD_FORMAT = 1


# ----------------------------------------------------------------------------- model card


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to use a set of weights, saved as JSON beside the ``.safetensors``."""

    name: str  # registered architecture name, e.g. "orient_cnn_small"
    version: str  # version of these weights, e.g. "1.0.0"
    arch: str  # architecture name passed to create_model (usually == name)
    input_px: int  # side of the square RGB input the weights were trained at
    mean: tuple[float, float, float]  # per-channel mean of inputs scaled to [0, 1], RGB order
    std: tuple[float, float, float]  # per-channel std of inputs scaled to [0, 1], RGB order
    classes: tuple[int, ...] = ANGLES  # clockwise degrees that make the input upright, logit order
    temperature: float = 1.0  # calibration: probabilities are softmax(logits / temperature)
    recipe: dict[str, Any] = field(default_factory=dict)  # training config and run facts
    data_sources: tuple[str, ...] = ()  # where the training images came from
    metrics: dict[str, Any] = field(default_factory=dict)  # validation / dev metrics
    sha256: str = ""  # hex digest of the .safetensors file these describe
    n_params: int = 0  # number of parameters
    format: int = CARD_FORMAT  # version of this JSON layout

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: str = "<dict>") -> "ModelCard":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ModelError(f"model card {path}: unknown key(s) {sorted(unknown)}")
        try:
            kw = dict(data)
            for key in ("mean", "std", "classes", "data_sources"):
                if key in kw:
                    kw[key] = tuple(kw[key])
            card = cls(**kw)
        except TypeError as exc:
            raise ModelError(f"model card {path} is malformed: {exc}") from exc
        if len(card.mean) != 3 or len(card.std) != 3:
            raise ModelError(f"model card {path}: mean and std need 3 values each")
        if tuple(card.classes) != ANGLES:
            raise ModelError(f"model card {path}: classes {card.classes} differ from {ANGLES}")
        if not card.temperature > 0:
            raise ModelError(f"model card {path}: temperature must be > 0, got {card.temperature}")
        return card

    def replace(self, **changes: Any) -> "ModelCard":
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------- layers


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBnAct(nn.Module):
    """Conv2d -> BatchNorm -> activation (hard-swish by default)."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, act_layer: Callable[..., nn.Module] | None = None):
        super().__init__()
        act_layer = act_layer or nn.Hardswish
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_chs)
        self.act = act_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse_bn(self) -> None:
        """Fold the (eval-mode) BatchNorm into the conv: same outputs, ~10% faster on a CPU."""
        if not isinstance(self.bn, nn.BatchNorm2d):
            return
        bn, conv = self.bn, self.conv
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                          conv.padding, groups=conv.groups, bias=True).to(conv.weight)
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        self.conv, self.bn = fused, nn.Identity()


class SqueezeExcite(nn.Module):
    """Channel attention: global mean -> 1x1 reduce -> ReLU -> 1x1 expand -> hard-sigmoid gate.

    Bounded gate (hard-sigmoid) and a mean over the map keep it safe in float16.
    """

    def __init__(self, chs: int, rd_ratio: float = 0.25):
        super().__init__()
        rd = _make_divisible(chs * rd_ratio)
        self.reduce = nn.Conv2d(chs, rd, 1)
        self.act = nn.ReLU(inplace=True)
        self.expand = nn.Conv2d(rd, chs, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.expand(self.act(self.reduce(s))))


class DepthwiseSeparable(nn.Module):
    """PP-LCNet block: depthwise kxk (stride s) -> optional SE -> pointwise 1x1."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, stride: int, se: bool):
        super().__init__()
        self.dw = ConvBnAct(in_chs, in_chs, kernel_size, stride, groups=in_chs)
        self.se = SqueezeExcite(in_chs) if se else nn.Identity()
        self.pw = ConvBnAct(in_chs, out_chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.se(self.dw(x)))


# (kernel, out_chs at scale 1.0, stride, se) per block, grouped into stages (PP-LCNet x1.0).
# Spatial sizes are for a 224x224 input; global pooling makes any size work.
_LCNET_STAGES: tuple[tuple[tuple[int, int, int, bool], ...], ...] = (
    # stage 0, 112x112 in (after the stem) -> 112x112
    ((3, 32, 1, False),),
    # stage 1, 112x112 in -> 56x56
    ((3, 64, 2, False), (3, 64, 1, False)),
    # stage 2, 56x56 in -> 28x28
    ((3, 128, 2, False), (3, 128, 1, False)),
    # stage 3, 28x28 in -> 14x14
    ((3, 256, 2, False), (5, 256, 1, False), (5, 256, 1, False), (5, 256, 1, False),
     (5, 256, 1, False), (5, 256, 1, False)),
    # stage 4, 14x14 in -> 7x7
    ((5, 512, 2, True), (5, 512, 1, True)),
)


def _scale_stages(stages, widths: tuple[float, ...]):
    """Multiply each stage's channels by its own factor (cheap late stages can be wider)."""
    return tuple(tuple((k, int(c * w), s, se) for k, c, s, se in stage)
                 for stage, w in zip(stages, widths))


class OrientNet(nn.Module):
    """A PP-LCNet-style depthwise-separable CNN with a 4-way orientation head.

    Parameters
    ----------
    stages : tuple of tuple of (kernel, out_chs, stride, se)
        Block table; channels are multiplied by ``width``.
    width : float
        Channel multiplier.
    stem_chs : int
        Channels of the 3x3 stride-2 stem (at ``width`` 1.0).
    head_chs : int
        Width of the 1x1 conv after global pooling (0: none).
    num_classes : int
        4 for the orientation classes.
    drop_rate : float
        Dropout before the classifier.
    """

    def __init__(self, stages=_LCNET_STAGES, width: float = 1.0, stem_chs: int = 16,
                 head_chs: int = 1280, num_classes: int = 4, drop_rate: float = 0.1,
                 in_chans: int = 3, act_layer: Callable[..., nn.Module] | None = None):
        super().__init__()
        act_layer = act_layer or nn.Hardswish
        self.num_classes = num_classes
        chs = _make_divisible(stem_chs * width)
        # stem, 224x224 in -> 112x112
        self.stem = ConvBnAct(in_chans, chs, 3, 2, act_layer=act_layer)
        blocks = []
        for stage in stages:
            layers = []
            for k, out, s, se in stage:
                out_chs = _make_divisible(out * width)
                layers.append(DepthwiseSeparable(chs, out_chs, k, s, se))
                chs = out_chs
            blocks.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*blocks)
        self.num_features = chs
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        if head_chs:
            self.conv_head = nn.Conv2d(chs, head_chs, 1, bias=True)
            self.act_head = act_layer()
            self.head_hidden_size = head_chs
        else:
            self.conv_head = nn.Identity()
            self.act_head = nn.Identity()
            self.head_hidden_size = chs
        self.drop = nn.Dropout(drop_rate)
        self.classifier = nn.Linear(self.head_hidden_size, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised float -> ``(B, C, H/32, W/32)`` feature map."""
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature map -> ``(B, num_classes)`` logits (or the pooled features if ``pre_logits``)."""
        x = self.global_pool(x)
        x = self.act_head(self.conv_head(x))
        x = torch.flatten(x, 1)
        if pre_logits:
            return x
        return self.classifier(self.drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def fuse_bn(self) -> "OrientNet":
        """Fold every BatchNorm into its conv, for inference only (puts the model in eval mode)."""
        self.eval()
        for m in self.modules():
            if isinstance(m, ConvBnAct):
                m.fuse_bn()
        return self

    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.head_hidden_size, num_classes)

    def backbone_parameters(self):
        """Everything except the head (pooling conv and classifier): what fine-tuning freezes first."""
        return [p for n, p in self.named_parameters()
                if not n.startswith(("conv_head.", "classifier."))]


# ----------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_DEFAULT_CFGS: dict[str, dict[str, Any]] = {}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register a factory under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def _cfg(**kw: Any) -> dict[str, Any]:
    base = dict(input_px=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, classes=ANGLES)
    base.update(kw)
    return base


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered architectures matching a shell-style wildcard."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered architecture with random weights."""
    if name not in _REGISTRY:
        raise ModelError(f"unknown model {name!r}; registered: {list_models()}")
    return _REGISTRY[name](**kwargs)


def default_card(name: str, **changes: Any) -> ModelCard:
    """The card of an untrained ``name``: its preprocessing, temperature 1."""
    if name not in _DEFAULT_CFGS:
        raise ModelError(f"unknown model {name!r}; registered: {list_models()}")
    cfg = _DEFAULT_CFGS[name]
    card = ModelCard(name=name, version="0.0.0", arch=name, input_px=cfg["input_px"],
                     mean=tuple(cfg["mean"]), std=tuple(cfg["std"]), classes=tuple(cfg["classes"]))
    return card.replace(**changes) if changes else card


@register_model
def orient_cnn_small(**kwargs: Any) -> OrientNet:
    """The shipped model: PP-LCNet x0.5 in the 112..28 px stages, x0.75 in the 14 and 7 px ones.

    ~0.77 M params, ~72 M multiply-adds at 224 px, ~2.6 ms a tile on one CPU core (BN fused).
    """
    stages = _scale_stages(_LCNET_STAGES, (0.5, 0.5, 0.5, 0.75, 0.75))
    return OrientNet(stages=stages, width=1.0, stem_chs=8, head_chs=512, **kwargs)


@register_model
def orient_cnn_tiny(**kwargs: Any) -> OrientNet:
    """PP-LCNet x0.35-like (~0.18 M params), for tests and very cheap scoring."""
    return OrientNet(width=0.35, stem_chs=16, head_chs=256, **kwargs)


@register_model
def orient_cnn_base(**kwargs: Any) -> OrientNet:
    """PP-LCNet x1.0-like, ~1.6 M params, ~155 M multiply-adds: more capacity, ~3x the cost."""
    return OrientNet(width=1.0, stem_chs=16, head_chs=1024, **kwargs)


@register_model
def orient_lcnet_x1(**kwargs: Any) -> OrientNet:
    """PP-LCNet x1.0 exactly (1.68 M params, ~154 M multiply-adds at 224 px): the shape of
    PaddleOCR's orientation classifier, so its weights load one for one (tools/convert_pplcnet.py).
    """
    return OrientNet(width=1.0, stem_chs=16, head_chs=1280, **kwargs)


_DEFAULT_CFGS.update({n: _cfg() for n in _REGISTRY})


# ----------------------------------------------------------------------------- weights I/O


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _resolve(spec: str | os.PathLike) -> tuple[Path, Path]:
    spec_s = str(spec)
    if spec_s in _REGISTRY and not spec_s.endswith(".safetensors"):
        weights = WEIGHTS_DIR / f"{spec_s}.safetensors"
    else:
        weights = Path(spec_s)
        if weights.suffix != ".safetensors":
            raise ModelError(f"model {spec_s!r} is neither a registered name ({list_models()}) "
                             f"nor a path to a .safetensors file")
    return weights, weights.with_suffix(".json")


def read_card(path: str | os.PathLike) -> ModelCard:
    """Read a model card JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"model card {path} not found (it must sit beside the weights)") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"model card {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"model card {path} must be a JSON object")
    return ModelCard.from_dict(data, path=str(path))


def load_model(spec: str | os.PathLike, device: str | torch.device = "cpu",
               verify: bool = True, fuse: bool = False) -> tuple[nn.Module, ModelCard]:
    """Load weights by registered name or path; returns the module in eval mode and its card.

    Parameters
    ----------
    spec : str or path
        A registered name (weights from ``rayrot/weights/<name>.safetensors``) or a path to a
        ``.safetensors`` file with its card ``<stem>.json`` beside it.
    device : str or torch.device
    verify : bool
        Check the weights file's sha256 against the card.
    fuse : bool
        Fold BatchNorm into the convolutions (inference only: same outputs, faster on a CPU;
        the result can no longer be trained or saved with :func:`save_model`).

    Raises
    ------
    ModelError
        Missing or malformed file, sha256 mismatch, or weights of another architecture;
        the message names the path.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, card_path = _resolve(spec)
    if not weights.is_file():
        raise ModelError(f"model weights {weights} not found")
    card = read_card(card_path)
    if verify and card.sha256:
        digest = _sha256(weights)
        if digest != card.sha256:
            raise ModelError(f"model weights {weights}: sha256 {digest[:12]}... does not match "
                             f"the card's {card.sha256[:12]}... ({card_path})")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"model weights {weights} cannot be read: {exc}") from exc
    module = create_model(card.arch)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"model weights {weights} do not fit architecture {card.arch!r}: "
                         f"{str(exc).splitlines()[0]} ...") from exc
    module.eval()
    if fuse and hasattr(module, "fuse_bn"):
        module.fuse_bn()
    module.to(device)
    if torch.device(device).type == "cpu" or fuse:
        module.to(memory_format=torch.channels_last)
    return module, card


def save_model(module: nn.Module, card: ModelCard, path: str | os.PathLike) -> ModelCard:
    """Write ``path`` (.safetensors) and the card beside it, each under a temp name then renamed.

    The card's ``sha256`` and ``n_params`` are filled in; the updated card is returned.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ModelError(f"save_model: {path} must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(module, "module", module)  # unwrap DDP
    module = getattr(module, "_orig_mod", module)  # unwrap torch.compile
    state = {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous()
             for k, v in module.state_dict().items()}
    n_params = sum(p.numel() for p in module.parameters())
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"arch": card.arch, "name": card.name, "version": card.version})
        digest = _sha256(Path(tmp))
        card = card.replace(sha256=digest, n_params=int(n_params))
        card_path = path.with_suffix(".json")
        fd2, tmp2 = tempfile.mkstemp(prefix=f".{card_path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd2, "w") as fh:
            fh.write(card.to_json() + "\n")
        os.replace(tmp, path)
        os.replace(tmp2, card_path)
    except BaseException:
        for t in (tmp, locals().get("tmp2")):
            if t and os.path.exists(t):
                os.unlink(t)
        raise
    return card


# ----------------------------------------------------------------------------- inference


def logits_to_proba(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(logits / temperature)`` in float32."""
    return torch.softmax(logits.float() / float(temperature), dim=-1)


@torch.inference_mode()
def predict_proba(module: nn.Module, card: ModelCard, batch_uint8: np.ndarray,
                  rotation_tta: bool = True, device: str | torch.device = "cpu",
                  fp16: bool = False) -> np.ndarray:
    """Class probabilities for a batch of tiles.

    Parameters
    ----------
    module : nn.Module
        In eval mode, on ``device``.
    card : ModelCard
        Gives mean, std and temperature.
    batch_uint8 : (B, H, W, 3) uint8 ndarray
        RGB tiles, usually 224x224 (``card.input_px``).
    rotation_tta : bool
        Also score the tiles turned counter-clockwise by 90, 180 and 270 degrees and average
        the aligned probabilities, which makes the result exactly consistent under rotation:
        ``predict_proba(rot90(x, 1))[:, (k + 1) % 4] == predict_proba(x)[:, k]``.
    device : str or torch.device
    fp16 : bool
        Run the network in float16 (CUDA only; ignored on the CPU).

    Returns
    -------
    proba : (B, 4) float32 ndarray
        Probability of each class of :data:`rayrot.preprocess.ANGLES` (clockwise degrees
        that make the tile upright); rows sum to 1.
    """
    batch_uint8 = np.asarray(batch_uint8)
    if batch_uint8.ndim != 4 or batch_uint8.shape[-1] != 3 or batch_uint8.dtype != np.uint8:
        raise ValueError(f"predict_proba: batch_uint8 must be (B, H, W, 3) uint8, got "
                         f"{batch_uint8.shape} {batch_uint8.dtype}")
    device = torch.device(device)
    n = len(batch_uint8)
    if n == 0:
        return np.zeros((0, len(ANGLES)), np.float32)
    x = _normalize(torch.from_numpy(np.ascontiguousarray(batch_uint8)).to(device), card.mean, card.std)
    param_dtype = next(module.parameters()).dtype
    autocast = device.type == "cuda" and fp16 and param_dtype == torch.float32

    def run(view: torch.Tensor) -> torch.Tensor:
        view = view.contiguous(memory_format=torch.channels_last)
        if autocast:
            with torch.autocast("cuda", dtype=torch.float16):
                return logits_to_proba(module(view), card.temperature)
        return logits_to_proba(module(view.to(param_dtype)), card.temperature)

    if not rotation_tta:
        return run(x).cpu().numpy().astype(np.float32)
    # x turned counter-clockwise by r (as np.rot90) has label k + r: p_aligned[k] = q_r[(k + r) % 4].
    # One pass per turn: a 4x larger batch runs slower per tile on a CPU (cache).
    q = sum(torch.roll(run(torch.rot90(x, r, dims=(2, 3))), shifts=-r, dims=1) for r in range(4)) / 4
    return q.cpu().numpy().astype(np.float32)


def _normalize(batch: torch.Tensor, mean, std) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 -> ``(B, 3, H, W)`` float32: the arithmetic of
    :func:`rayrot.preprocess.to_model_input` (bit for bit), done by torch on the batch's device."""
    x = batch.permute(0, 3, 1, 2).to(torch.float32) / 255.0
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s
