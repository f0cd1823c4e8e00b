#!/usr/bin/env python3
"""Write PyTorch goldens for every autograd op of the engine (Sources/Autograd/Ops/).

Output: <out>/ops.safetensors and <out>/README.md. For each case `NAME` the file holds
  NAME.in.<k>     inputs (float32; integer labels as int64 under NAME.targets)
  NAME.const.<k>  non-differentiable float inputs (class weights, running stats before the call)
  NAME.out        forward output (float32)
  NAME.gout       the upstream gradient fed to backward (float32, random normal)
  NAME.grad.<k>   d(sum(out * gout)) / d(input k) (float32)
  NAME.after.<k>  state after the call (BatchNorm running statistics)
Op parameters (stride, axis, ...) are written in the safetensors metadata as JSON per case and
mirrored by hand in Tests/AutogradTests/TorchGoldenTests.swift.

Also writes <out>/nn.safetensors (layers, optimizers, schedules; seed SEED + 1) and
<out>/models.safetensors (the U-Net and classifier of method.md §2; seed SEED + 2).

Run through Tools/engine/make_goldens.sh (creates .venv-torch). CPU, float32, 1 thread,
deterministic; seed SEED below.
"""
import argparse
import json
import os
import platform
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file

from reference_models import Classifier, UNet, init_weights


def save_file(arrays, path, metadata):
    """Write safetensors with a sorted header, so re-runs are byte-identical (the safetensors
    package orders the metadata map differently from run to run). Verified by reading the file
    back with the safetensors package."""
    dtypes = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    header, blobs, offset = {"__metadata__": dict(sorted(metadata.items()))}, [], 0
    for name in sorted(arrays):
        a = arrays[name].copy(order="C")  # (np.ascontiguousarray would turn rank 0 into rank 1)
        blob = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtypes[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    back = load_file(path)
    bad = [k for k in arrays if k not in back or back[k].shape != arrays[k].shape or not np.array_equal(back[k], arrays[k])]
    assert not bad and len(back) == len(arrays), f"{path}: read back differs for {bad[:5]}"

SEED = 20261128


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    # kl_div "mean" is tested on purpose (it is PyTorch's default); silence its deprecation note.
    warnings.filterwarnings("ignore", message="reduction: 'mean' divides the total loss")

    tensors, params = {}, {}

    def randn(*shape, scale=1.0, offset=0.0):
        return torch.randn(*shape, dtype=torch.float32) * scale + offset

    def case(name, fn, inputs, consts=None, targets=None, param=None, grad_inputs=None):
        """inputs: dict k -> tensor (all differentiable unless grad_inputs says otherwise)."""
        grad_inputs = set(inputs) if grad_inputs is None else set(grad_inputs)
        leaves = {k: v.clone().requires_grad_(k in grad_inputs) for k, v in inputs.items()}
        consts = consts or {}
        before = {k: v.clone() for k, v in consts.items()}
        out = fn(**leaves, **consts) if targets is None else fn(**leaves, **consts, targets=targets)
        gout = torch.randn(out.shape, dtype=torch.float32)
        (out * gout).sum().backward()
        for k, v in inputs.items():
            tensors[f"{name}.in.{k}"] = v
            if k in grad_inputs:
                tensors[f"{name}.grad.{k}"] = leaves[k].grad
        for k, v in before.items():
            tensors[f"{name}.const.{k}"] = v
            if not torch.equal(v, consts[k]):
                tensors[f"{name}.after.{k}"] = consts[k]
        if targets is not None:
            tensors[f"{name}.targets"] = targets
        tensors[f"{name}.out"] = out.detach()
        tensors[f"{name}.gout"] = gout
        params[name] = param or {}

    # --- broadcasting arithmetic -------------------------------------------------------------
    case("add", lambda a, b: a + b, {"a": randn(2, 3, 4, 5), "b": randn(3, 1, 5)})
    case("sub", lambda a, b: a - b, {"a": randn(2, 3, 4, 5), "b": randn(1, 3, 1, 1)})
    case("mul", lambda a, b: a * b, {"a": randn(2, 3, 4, 5), "b": randn(4, 5)})
    case("div", lambda a, b: a / b, {"a": randn(2, 3, 4, 5), "b": torch.rand(2, 1, 4, 1) + 0.5})
    case("scalar_ops", lambda a: (2.5 - a) * 3.0 + a / 4.0 - 1.0, {"a": randn(3, 4)})

    # --- matmul --------------------------------------------------------------------------------
    case("matmul", lambda a, b: a @ b, {"a": randn(5, 7), "b": randn(7, 4)})
    case("matmul_ta", lambda a, b: a.t() @ b, {"a": randn(7, 5), "b": randn(7, 4)}, param={"transposeA": True})
    case("matmul_tb", lambda a, b: a @ b.t(), {"a": randn(5, 7), "b": randn(4, 7)}, param={"transposeB": True})
    case("matmul_tab", lambda a, b: a.t() @ b.t(), {"a": randn(7, 5), "b": randn(4, 7)},
         param={"transposeA": True, "transposeB": True})

    # --- conv2d --------------------------------------------------------------------------------
    case("conv3x3", lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1),
         {"x": randn(2, 3, 9, 8), "w": randn(4, 3, 3, 3, scale=0.3), "b": randn(4)},
         param={"stride": 1, "padding": 1, "dilation": 1})
    case("conv_s2_d2", lambda x, w: F.conv2d(x, w, None, stride=2, padding=2, dilation=2),
         {"x": randn(2, 3, 11, 10), "w": randn(5, 3, 3, 3, scale=0.3)},
         param={"stride": 2, "padding": 2, "dilation": 2})
    case("conv1x1", lambda x, w, b: F.conv2d(x, w, b),
         {"x": randn(2, 6, 5, 4), "w": randn(3, 6, 1, 1, scale=0.3), "b": randn(3)},
         param={"stride": 1, "padding": 0, "dilation": 1})
    case("conv5x3_s2", lambda x, w: F.conv2d(x, w, None, stride=2, padding=1),
         {"x": randn(1, 2, 10, 9), "w": randn(3, 2, 5, 3, scale=0.3)},
         param={"stride": 2, "padding": 1, "dilation": 1})

    # --- batch norm (PyTorch train / eval) -----------------------------------------------------
    def bn(training):
        return lambda x, w, b, running_mean, running_var: F.batch_norm(
            x, running_mean, running_var, w, b, training=training, momentum=0.1, eps=1e-5)
    case("batchnorm_train", bn(True),
         {"x": randn(4, 3, 5, 6, scale=2.0, offset=1.5), "w": randn(3), "b": randn(3)},
         consts={"running_mean": randn(3), "running_var": torch.rand(3) + 0.5},
         param={"training": True, "momentum": 0.1, "eps": 1e-5})
    case("batchnorm_eval", bn(False),
         {"x": randn(2, 3, 4, 5), "w": randn(3), "b": randn(3)},
         consts={"running_mean": randn(3), "running_var": torch.rand(3) + 0.5},
         param={"training": False, "momentum": 0.1, "eps": 1e-5})

    # --- activations ---------------------------------------------------------------------------
    case("relu", F.relu, {"input": randn(2, 3, 4, 5)})
    case("leaky_relu", lambda x: F.leaky_relu(x, 0.1), {"x": randn(2, 3, 4, 5)}, param={"negativeSlope": 0.1})
    case("sigmoid", torch.sigmoid, {"input": randn(2, 3, 4, 5, scale=3.0)})
    case("tanh", torch.tanh, {"input": randn(2, 3, 4, 5, scale=2.0)})

    # --- pooling and resampling ----------------------------------------------------------------
    case("maxpool2", lambda x: F.max_pool2d(x, 2), {"x": randn(2, 3, 8, 6)}, param={"kernel": 2})
    case("maxpool2_odd", lambda x: F.max_pool2d(x, 2), {"x": randn(2, 2, 7, 5)}, param={"kernel": 2})
    case("avgpool3_s2", lambda x: F.avg_pool2d(x, 3, 2), {"x": randn(2, 3, 9, 8)}, param={"kernel": 3, "stride": 2})
    case("global_avgpool", lambda x: F.adaptive_avg_pool2d(x, 1), {"x": randn(2, 3, 5, 7)})
    case("adaptive_avgpool", lambda x: F.adaptive_avg_pool2d(x, (3, 4)), {"x": randn(2, 3, 8, 10)},
         param={"output": [3, 4]})
    case("upsample2x", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
         {"x": randn(2, 3, 5, 4)}, param={"scale": 2})
    case("upsample_size", lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False),
         {"x": randn(1, 2, 4, 5)}, param={"size": [7, 9]})

    # --- layout --------------------------------------------------------------------------------
    case("concat", lambda a, b, c: torch.cat([a, b, c], 1),
         {"a": randn(2, 3, 4, 5), "b": randn(2, 2, 4, 5), "c": randn(2, 1, 4, 5)}, param={"axis": 1})
    case("slice", lambda x: x[:, 1:4], {"x": randn(2, 6, 4, 5)}, param={"axis": 1, "range": [1, 4]})
    case("reshape", lambda x: x.reshape(6, -1), {"x": randn(2, 3, 4, 5)}, param={"shape": [6, -1]})
    case("permute", lambda x: x.permute(0, 2, 3, 1), {"x": randn(2, 3, 4, 5)}, param={"permutation": [0, 2, 3, 1]})

    # --- reductions and elementwise math ------------------------------------------------------
    case("sum_axes", lambda x: x.sum(dim=(1, 3)), {"x": randn(2, 3, 4, 5)}, param={"axes": [1, 3]})
    case("mean_keepdim", lambda x: x.mean(dim=(0, 2), keepdim=True), {"x": randn(2, 3, 4, 5)},
         param={"axes": [0, 2], "keepDims": True})
    case("sum_all", lambda x: x.sum(), {"x": randn(2, 3, 4)})
    case("mean_all", lambda x: x.mean(), {"x": randn(2, 3, 4)})
    case("exp", torch.exp, {"input": randn(2, 3, 4)})
    case("log", torch.log, {"input": torch.rand(2, 3, 4) + 0.1})
    case("sqrt", torch.sqrt, {"input": torch.rand(2, 3, 4) + 0.1})
    case("pow3", lambda x: x.pow(3.0), {"x": randn(2, 3, 4)}, param={"exponent": 3.0})
    case("pow_half", lambda x: x.pow(0.5), {"x": torch.rand(2, 3, 4) + 0.1}, param={"exponent": 0.5})
    case("pow2", lambda x: x.pow(2.0), {"x": randn(2, 3, 4)}, param={"exponent": 2.0})

    # --- softmax family and losses -------------------------------------------------------------
    case("softmax", lambda x: F.softmax(x, 1), {"x": randn(2, 5, 3, 4, scale=2.0)}, param={"axis": 1})
    case("log_softmax", lambda x: F.log_softmax(x, 1), {"x": randn(2, 5, 3, 4, scale=2.0)}, param={"axis": 1})
    seg_targets = torch.randint(0, 5, (2, 4, 3))
    seg_targets[0, 0, 0] = 255
    seg_targets[1, 2, 1] = 255
    seg_targets[1, 3, 2] = 255
    case("cross_entropy", lambda x, targets: F.cross_entropy(x, targets, ignore_index=255),
         {"x": randn(2, 5, 4, 3, scale=2.0)}, targets=seg_targets, param={"ignoreIndex": 255})
    case("cross_entropy_weighted",
         lambda x, weight, targets: F.cross_entropy(x, targets, weight=weight, ignore_index=255),
         {"x": randn(2, 5, 4, 3, scale=2.0)}, consts={"weight": torch.rand(5) + 0.2},
         targets=seg_targets, param={"ignoreIndex": 255})
    case("cross_entropy_2d", lambda x, targets: F.cross_entropy(x, targets),
         {"x": randn(6, 4)}, targets=torch.tensor([0, 3, 1, 2, 2, 0]))
    case("cross_entropy_none",
         lambda x, targets: F.cross_entropy(x, targets, ignore_index=255, reduction="none"),
         {"x": randn(2, 5, 4, 3)}, targets=seg_targets, param={"reduction": "none"})
    teacher = F.softmax(randn(2, 4, 3, 3) * 2, 1)
    teacher[0, 1, 0, 0] = 0.0  # a zero probability: the term must vanish, not become NaN
    case("kl_div_batchmean", lambda logq, p: F.kl_div(logq, p, reduction="batchmean"),
         {"logq": F.log_softmax(randn(2, 4, 3, 3), 1), "p": teacher}, grad_inputs=["logq"],
         param={"reduction": "batchmean"})
    case("kl_div_mean", lambda logq, p: F.kl_div(logq, p, reduction="mean"),
         {"logq": F.log_softmax(randn(2, 4, 3, 3), 1), "p": F.softmax(randn(2, 4, 3, 3), 1)},
         param={"reduction": "mean"})
    case("mse", F.mse_loss, {"input": randn(2, 3, 4, 5), "target": randn(2, 3, 4, 5)})
    case("l1", F.l1_loss, {"input": randn(2, 3, 4, 5), "target": randn(2, 3, 4, 5)})
    case("cosine_similarity", lambda a, b: F.cosine_similarity(a, b, dim=1),
         {"a": randn(2, 8, 4, 5), "b": randn(2, 8, 4, 5)}, param={"axis": 1, "eps": 1e-8})
    case("normalize", lambda x: F.normalize(x, p=2.0, dim=1), {"x": randn(2, 8, 4, 5)},
         param={"axis": 1, "eps": 1e-12})

    # A small composite: conv → BN(train) → ReLU → maxpool → upsample → concat → 1×1 conv → CE,
    # the U-Net's building blocks chained, to catch errors that only show in composition.
    def composite(x, w1, g1, b1, w2, b2, running_mean, running_var, targets):
        h = F.relu(F.batch_norm(F.conv2d(x, w1, None, padding=1), running_mean, running_var, g1, b1,
                                training=True))
        u = F.interpolate(F.max_pool2d(h, 2), scale_factor=2, mode="bilinear", align_corners=False)
        logits = F.conv2d(torch.cat([u, h], 1), w2, b2)
        return F.cross_entropy(logits, targets, ignore_index=255)
    comp_targets = torch.randint(0, 3, (2, 6, 8))
    comp_targets[0, :2, :3] = 255
    case("composite", composite,
         {"x": randn(2, 2, 6, 8), "w1": randn(4, 2, 3, 3, scale=0.4), "g1": randn(4, scale=0.2, offset=1.0),
          "b1": randn(4, scale=0.1), "w2": randn(3, 8, 1, 1, scale=0.4), "b2": randn(3)},
         consts={"running_mean": torch.zeros(4), "running_var": torch.ones(4)}, targets=comp_targets)

    os.makedirs(args.out, exist_ok=True)
    arrays = {}
    for k, v in tensors.items():
        v = v.detach().contiguous()
        arrays[k] = v.numpy().astype(np.int64 if v.dtype == torch.int64 else np.float32)
    metadata = {"torch": torch.__version__, "seed": str(SEED), "params": json.dumps(params, sort_keys=True)}
    path = os.path.join(args.out, "ops.safetensors")
    save_file(arrays, path, metadata=metadata)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(f"""# Engine goldens (PyTorch)

Written by `Tools/engine/make_goldens.sh` (script `Tools/engine/make_torch_goldens.py`); do not
edit by hand. Read by `Tests/AutogradTests/TorchGoldenTests.swift`,
`Tests/NNTests/NNGoldenTests.swift` and `Tests/ModelsTests/UNetGoldenTests.swift`.

- `ops.safetensors`: {len(params)} cases, {len(arrays)} tensors, {os.path.getsize(path)} bytes.
  Per case NAME: `NAME.in.*` inputs, `NAME.const.*` non-differentiable inputs, `NAME.targets`
  (int64 labels), `NAME.out` forward output, `NAME.gout` upstream gradient, `NAME.grad.*`
  d(sum(out · gout))/d(input), `NAME.after.*` running statistics after the call. Op parameters
  are in the metadata key `params` (JSON).
- `nn.safetensors` (seed {SEED + 1}): `optim.*` parameters after each of 3 steps of SGD (plain,
  momentum + weight decay, Nesterov, dampening), Adam, Adam with L2 decay and AdamW from
  `optim.start` with gradients `optim.grad0..2`; `clip.*` for `clip_grad_norm_(max_norm=1)`;
  `schedule.poly` / `schedule.cosine` learning rates for steps 0..12 (base 0.05, 10 steps); `block.*`
  a ConvBlock + 1×1 head: its state dict (key order in metadata `block_state_keys`), train-mode
  output, parameter gradients, running statistics after, and eval-mode output.
- `models.safetensors` (seed {SEED + 2}), read by `Tests/ModelsTests/UNetGoldenTests.swift`: the
  U-Net of method.md §2 (`Tools/engine/reference_models.py`) at widths 4/8/16/32, 3 → 3 channels,
  input `unet.x` [2, 3, 32, 32], labels `unet.targets` (int64, about 10 % ignored as 255):
  `unet.state.*` its starting state (Kaiming-normal fan_out convs, BN affine parameters and
  running statistics randomised; key order in metadata `unet_state_keys`), train-mode
  `unet.logits`, `unet.bottleneck`, `unet.decoder`, `unet.loss` (cross-entropy, ignore 255),
  `unet.grad.*` every parameter's gradient, `unet.after_forward.*` running statistics after the
  forward, `unet.adam.*` the parameters after one Adam step (lr 1e-3), and `unet.eval_logits`
  (evaluation mode after the step). `classifier.*`: the same for the classifier (encoder +
  global average pooling + linear, 5 classes, labels `classifier.targets`) without the Adam step.
- torch {torch.__version__} (CPU, float32, 1 thread, deterministic algorithms), numpy
  {np.__version__}, Python {platform.python_version()}; seed `torch.manual_seed({SEED})`.
""")
    print(f"wrote {path}: {len(params)} cases, {len(arrays)} tensors, {os.path.getsize(path)} bytes")
    write_nn_goldens(args.out)
    write_model_goldens(args.out)


def write_nn_goldens(out_dir):
    """Layer, optimizer, clipping and schedule goldens for Tests/NNTests (nn.safetensors)."""
    torch.manual_seed(SEED + 1)
    t, meta = {}, {"torch": torch.__version__, "seed": str(SEED + 1)}

    # Optimizers: 3 steps from the same start with fixed gradients; parameters after each step.
    start = torch.randn(3, 4)
    grads = [torch.randn(3, 4) for _ in range(3)]
    t["optim.start"] = start
    for i, g in enumerate(grads):
        t[f"optim.grad{i}"] = g
    optimizers = {
        "sgd": lambda p: torch.optim.SGD([p], lr=0.1),
        "sgd_momentum": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-2),
        "sgd_nesterov": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True),
        "sgd_dampening": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.8, dampening=0.3),
        "adam": lambda p: torch.optim.Adam([p], lr=1e-2),
        "adam_l2": lambda p: torch.optim.Adam([p], lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        "adamw": lambda p: torch.optim.AdamW([p], lr=1e-2, weight_decay=0.1),
    }
    for name, make in optimizers.items():
        p = start.clone().requires_grad_(True)
        opt = make(p)
        for i, g in enumerate(grads):
            p.grad = g.clone()
            opt.step()
            t[f"optim.{name}.step{i}"] = p.detach().clone()

    # Gradient clipping over two parameters.
    a, b = torch.randn(3, 4, requires_grad=True), torch.randn(5, requires_grad=True)
    a.grad, b.grad = torch.randn(3, 4), torch.randn(5)
    t["clip.grad_a"], t["clip.grad_b"] = a.grad.clone(), b.grad.clone()
    norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    t["clip.norm"], t["clip.clipped_a"], t["clip.clipped_b"] = norm.reshape(()), a.grad.clone(), b.grad.clone()

    # Schedules: PolynomialLR(power 0.9) and CosineAnnealingLR, rates for steps 0..12.
    for name, make in {
        "poly": lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=10, power=0.9),
        "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-4),
    }.items():
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
        sched = make(opt)
        rates = []
        for _ in range(13):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        t[f"schedule.{name}"] = torch.tensor(rates, dtype=torch.float32)

    # A ConvBlock of method.md §2 with a 1×1 head: state-dict names, forward/backward in train
    # mode (running stats after), and forward in eval mode.
    class ConvBlock(torch.nn.Module):
        def __init__(s, cin, cout):
            super().__init__()
            s.conv1 = torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False); s.bn1 = torch.nn.BatchNorm2d(cout)
            s.conv2 = torch.nn.Conv2d(cout, cout, 3, padding=1, bias=False); s.bn2 = torch.nn.BatchNorm2d(cout)
        def forward(s, x):
            return F.relu(s.bn2(s.conv2(F.relu(s.bn1(s.conv1(x))))))

    class Tiny(torch.nn.Module):
        def __init__(s):
            super().__init__()
            s.enc0 = ConvBlock(3, 4)
            s.head = torch.nn.Conv2d(4, 2, 1)
        def forward(s, x):
            return s.head(s.enc0(x))

    model = Tiny()
    with torch.no_grad():
        for bn in (model.enc0.bn1, model.enc0.bn2):
            bn.weight.uniform_(0.5, 1.5); bn.bias.uniform_(-0.2, 0.2)
            bn.running_mean.uniform_(-0.5, 0.5); bn.running_var.uniform_(0.5, 1.5)
    for k, v in model.state_dict().items():
        t[f"block.state.{k}"] = v.clone().float()
    meta["block_state_keys"] = json.dumps(list(model.state_dict().keys()))
    x = torch.randn(2, 3, 6, 6)
    model.train()
    y = model(x)
    gout = torch.randn(y.shape)
    (y * gout).sum().backward()
    t["block.x"], t["block.train_out"], t["block.gout"] = x, y.detach(), gout
    for k, p in model.named_parameters():
        t[f"block.grad.{k}"] = p.grad.clone()
    for k, v in model.state_dict().items():
        if "running" in k:
            t[f"block.after.{k}"] = v.clone()
    model.eval()
    with torch.no_grad():
        t["block.eval_out"] = model(x)

    path = os.path.join(out_dir, "nn.safetensors")
    save_file({k: v.detach().contiguous().numpy().astype(np.float32) for k, v in t.items()}, path, metadata=meta)
    print(f"wrote {path}: {len(t)} tensors, {os.path.getsize(path)} bytes")


def write_model_goldens(out_dir):
    """The U-Net and classifier of method.md §2 at a small width: one training step (forward,
    cross-entropy with ignored pixels, backward, Adam) and an eval forward (models.safetensors)."""
    torch.manual_seed(SEED + 2)
    t, meta = {}, {"torch": torch.__version__, "seed": str(SEED + 2)}
    widths = (4, 8, 16, 32)

    def randomise_batch_norms(model):
        # Away from the defaults (1, 0, 0, 1), so the test sees every BN parameter and statistic act.
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.2, 0.2)
                    m.running_mean.uniform_(-0.5, 0.5); m.running_var.uniform_(0.5, 1.5)

    x = torch.randn(2, 3, 32, 32)
    targets = torch.randint(0, 3, (2, 32, 32))
    targets[torch.rand(2, 32, 32) < 0.1] = 255
    t["unet.x"], t["unet.targets"] = x, targets

    unet = init_weights(UNet(3, 3, widths))
    randomise_batch_norms(unet)
    meta["unet_state_keys"] = json.dumps(list(unet.state_dict().keys()))
    meta["unet_architecture"] = json.dumps({"model": "unet", "in_channels": 3, "out_channels": 3, "widths": list(widths)})
    for k, v in unet.state_dict().items():
        t[f"unet.state.{k}"] = v.clone().float()
    optimizer = torch.optim.Adam(unet.parameters(), lr=1e-3)
    unet.train()
    logits, features = unet(x)
    loss = F.cross_entropy(logits, targets, ignore_index=255)
    loss.backward()
    t["unet.logits"], t["unet.loss"] = logits.detach(), loss.detach().reshape(())
    t["unet.bottleneck"], t["unet.decoder"] = features["bottleneck"].detach(), features["decoder"].detach()
    for k, p in unet.named_parameters():
        t[f"unet.grad.{k}"] = p.grad.clone()
    for k, v in unet.state_dict().items():
        if "running" in k:
            t[f"unet.after_forward.{k}"] = v.clone()
    optimizer.step()
    for k, p in unet.named_parameters():
        t[f"unet.adam.{k}"] = p.detach().clone()
    unet.eval()
    with torch.no_grad():
        t["unet.eval_logits"] = unet(x)[0]

    classifier = init_weights(Classifier(3, 5, widths))
    randomise_batch_norms(classifier)
    meta["classifier_state_keys"] = json.dumps(list(classifier.state_dict().keys()))
    for k, v in classifier.state_dict().items():
        t[f"classifier.state.{k}"] = v.clone().float()
    labels = torch.tensor([1, 4])
    classifier.train()
    logits, features = classifier(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    t["classifier.targets"], t["classifier.logits"], t["classifier.loss"] = labels, logits.detach(), loss.detach().reshape(())
    for k, p in classifier.named_parameters():
        t[f"classifier.grad.{k}"] = p.grad.clone()

    path = os.path.join(out_dir, "models.safetensors")
    arrays = {k: v.detach().contiguous().numpy().astype(np.int64 if v.dtype == torch.int64 else np.float32)
              for k, v in t.items()}
    save_file(arrays, path, metadata=meta)
    print(f"wrote {path}: {len(t)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
