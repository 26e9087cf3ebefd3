"""The orientation network: OrientNet and its layers."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

__all__ = ["ConvBnAct", "DepthwiseSeparable", "OrientNet", "SqueezeExcite"]




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
