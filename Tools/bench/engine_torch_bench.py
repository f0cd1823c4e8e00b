#!/usr/bin/env python3
"""PyTorch side of Tools/bench-engine.sh: the reference U-Net of method.md §2
(Tools/engine/reference_models.py) on CPU, measured exactly as `evdistill bench train-step` and
`evdistill bench conv` measure ours. Prints one JSON object on stdout.

  train-step  batch × channels × size × size random input, random labels, cross-entropy, Adam
              (lr 1e-3): median of --steps training steps after --warmup; forward_ms = median
              eval-mode forward under torch.no_grad(); peak_rss_mb = the process's peak RSS.
  conv        each 3×3 convolution of the U-Net: F.conv2d forward, then backward to the weight
              (and to the input except for the first layer), medians of --repeat runs after a
              warm-up; torch.mm 1024³ GFLOP/s in the same run.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine"))
from reference_models import UNet, init_weights  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss is in KiB on Linux


def layers(args):
    w, c, s = args.widths, args.channels, args.size
    blocks = [("enc0", c, w[0], s), ("enc1", w[0], w[1], s // 2), ("enc2", w[1], w[2], s // 4), ("enc3", w[2], w[3], s // 8),
              ("dec2", w[3] + w[2], w[2], s // 4), ("dec1", w[2] + w[1], w[1], s // 2), ("dec0", w[1] + w[0], w[0], s)]
    for name, cin, cout, size in blocks:
        yield f"{name}.conv1", cin, cout, size
        yield f"{name}.conv2", cout, cout, size


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def train_step(args):
    torch.manual_seed(1)
    model = init_weights(UNet(args.channels, args.classes, tuple(args.widths)))
    x = torch.randn(args.batch, args.channels, args.size, args.size)
    labels = torch.randint(0, args.classes, (args.batch, args.size, args.size))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    model.eval()
    eval_times = []
    with torch.no_grad():
        for run in range(args.steps + 1):
            t = timed(lambda: model(x))
            if run > 0:
                eval_times.append(t)
    model.train()
    phases, cpu = [], []
    for step in range(args.warmup + args.steps):
        cpu_start = time.process_time()
        optimizer.zero_grad(set_to_none=True)
        holder = {}
        f = timed(lambda: holder.update(loss=F.cross_entropy(model(x)[0], labels)))
        b = timed(lambda: holder["loss"].backward())
        o = timed(optimizer.step)
        del holder
        if step >= args.warmup:
            phases.append((f, b, o))
            cpu.append(time.process_time() - cpu_start)
    return {
        "benchmark": "train-step", "impl": "torch", "batch": args.batch, "channels": args.channels, "size": args.size,
        "classes": args.classes, "widths": args.widths, "parameters": sum(p.numel() for p in model.parameters()),
        "ms_per_step": statistics.median(f + b + o for f, b, o in phases) * 1e3,
        "forward_ms": statistics.median(eval_times) * 1e3,
        "train_forward_ms": statistics.median(p[0] for p in phases) * 1e3,
        "backward_ms": statistics.median(p[1] for p in phases) * 1e3,
        "optimizer_ms": statistics.median(p[2] for p in phases) * 1e3,
        "cpu_ms_per_step": statistics.median(cpu) * 1e3,
        "cores_used": statistics.median(cpu) / statistics.median(f + b + o for f, b, o in phases),
        "peak_rss_mb": peak_rss_mb(), "steps": len(phases), "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def conv(args):
    torch.manual_seed(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    mm = statistics.median(timed(lambda: torch.mm(a, b)) for _ in range(max(args.repeat, 5)))
    result, total_flop, total_s, total_cpu = {}, 0.0, 0.0, 0.0
    for name, cin, cout, size in layers(args):
        first = name == "enc0.conv1"
        x = torch.randn(args.batch, cin, size, size, requires_grad=not first)
        w = torch.randn(cout, cin, 3, 3, requires_grad=True)
        g = torch.randn(args.batch, cout, size, size)
        fs, bs, cpus = [], [], []
        for run in range(args.repeat + 1):
            x.grad, w.grad = None, None
            holder = {}
            cpu_start = time.process_time()
            f = timed(lambda: holder.update(y=F.conv2d(x, w, padding=1)))
            b = timed(lambda: holder["y"].backward(g))
            if run > 0:
                fs.append(f)
                bs.append(b)
                cpus.append(time.process_time() - cpu_start)
        product = 2.0 * args.batch * cout * cin * 9 * size * size
        flop = product * (2 if first else 3)
        f, b = statistics.median(fs), statistics.median(bs)
        total_flop += flop
        total_s += f + b
        total_cpu += statistics.median(cpus)
        result[name] = {"in_channels": cin, "out_channels": cout, "size": size, "gflop": flop / 1e9,
                        "forward_ms": f * 1e3, "backward_ms": b * 1e3, "gflops": flop / (f + b) / 1e9}
    return {"benchmark": "conv", "impl": "torch", "batch": args.batch, "total_gflop": total_flop / 1e9,
            "total_ms": total_s * 1e3, "gflops": total_flop / total_s / 1e9, "mm_gflops": 2 * 1024 ** 3 / mm / 1e9,
            "cpu_ms": total_cpu * 1e3, "cores_used": total_cpu / total_s,
            "threads": torch.get_num_threads(), "torch": torch.__version__, "layers": result}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("benchmark", choices=["train-step", "conv"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--widths", default="16,32,64,128")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    args.widths = [int(v) for v in args.widths.split(",")]
    torch.set_num_threads(args.threads)
    print(json.dumps(train_step(args) if args.benchmark == "train-step" else conv(args)))


if __name__ == "__main__":
    main()
