#!/usr/bin/env python3
"""Summary of Tools/bench-engine.sh: ours vs PyTorch, measured in the same run.

Reads JSON lines (from `evdistill bench train-step|conv --json` and engine_torch_bench.py, in the
order they ran; round k of ours pairs with round k of torch), prints a table of medians and the
ratios against the targets, and writes everything to --out.
Ratios are per round (both sides measured back to back) and the median over rounds is reported.
"""
import argparse
import json
import statistics
import sys

TARGETS = {  # ratio name: (comparison, bound)
    "train_step_ours_over_torch": ("<=", 0.4),
    "forward_ours_over_torch": ("<=", 0.4),
    "peak_rss_ours_over_torch": ("<=", 1.2),
    "conv_gflops_over_sgemm": (">=", 0.5),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    records = []
    for path in args.files:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip().startswith("{")]
    runs = {}
    for r in records:
        runs.setdefault((r["benchmark"], r.get("impl", "evdistill")), []).append(r)

    def series(benchmark, impl, key):
        return [r[key] for r in runs.get((benchmark, impl), []) if r.get(key) is not None]

    def med(values):
        return statistics.median(values) if values else None

    ratios = {}

    def ratio(name, ours, theirs):
        pairs = [a / b for a, b in zip(ours, theirs) if b]
        ratios[name] = med(pairs)

    ratio("train_step_ours_over_torch", series("train-step", "evdistill", "ms_per_step"), series("train-step", "torch", "ms_per_step"))
    ratio("forward_ours_over_torch", series("train-step", "evdistill", "forward_ms"), series("train-step", "torch", "forward_ms"))
    ratio("peak_rss_ours_over_torch", series("train-step", "evdistill", "peak_rss_mb"), series("train-step", "torch", "peak_rss_mb"))
    ratios["conv_gflops_over_sgemm"] = med(series("conv", "evdistill", "fraction_of_sgemm"))
    ratio("conv_time_ours_over_torch", series("conv", "evdistill", "total_ms"), series("conv", "torch", "total_ms"))

    rows = [
        ("train step (forward + backward + Adam), ms", "train-step", "ms_per_step", "ms_per_step"),
        ("  of which forward (training mode), ms", "train-step", "train_forward_ms", "train_forward_ms"),
        ("  of which backward, ms", "train-step", "backward_ms", "backward_ms"),
        ("  of which Adam, ms", "train-step", "optimizer_ms", "optimizer_ms"),
        ("forward, eval, no grad, ms", "train-step", "forward_ms", "forward_ms"),
        ("peak RSS, MB", "train-step", "peak_rss_mb", "peak_rss_mb"),
        ("cores kept busy during a train step", "train-step", "cores_used", "cores_used"),
        ("3×3 convs fwd + bwd, ms", "conv", "total_ms", "total_ms"),
        ("3×3 convs fwd + bwd, GFLOP/s (FLOP-weighted)", "conv", "gflops", "gflops"),
        ("matrix product 1024³, GFLOP/s (OpenBLAS / torch.mm)", "conv", "sgemm_gflops", "mm_gflops"),
    ]
    print(f"{'':55} {'ours':>10} {'torch':>10} {'ours/torch':>11}")
    table = {}
    for label, bench, ours_key, torch_key in rows:
        ours, theirs = med(series(bench, "evdistill", ours_key)), med(series(bench, "torch", torch_key))
        table[label] = {"ours": ours, "torch": theirs}
        fmt = lambda v: f"{v:10.1f}" if v is not None else f"{'—':>10}"
        r = f"{ours / theirs:11.2f}" if ours is not None and theirs else f"{'':11}"
        print(f"{label:55} {fmt(ours)} {fmt(theirs)} {r}")
    print()
    verdicts = {}
    for name, (op, bound) in TARGETS.items():
        value = ratios.get(name)
        ok = value is not None and (value <= bound if op == "<=" else value >= bound)
        verdicts[name] = ok
        shown = f"{value:.3f}" if value is not None else "—"
        print(f"{name:32} {shown:>7}   target {op} {bound}   {'met' if ok else 'NOT met'}")
    rounds = len(runs.get(("train-step", "evdistill"), []))
    print(f"\n(medians over {rounds} round(s); ratios are per round, ours and torch measured back to back)")
    # A shared machine: a side that kept clearly fewer cores busy than it had threads was
    # competing with another process, and PyTorch's OpenMP threads suffer far more from that.
    starved = [f"{r.get('impl', 'evdistill')} {r['benchmark']} ({r['cores_used']:.2f} of {r['threads']} cores)"
               for r in records if r.get("cores_used") is not None and r["cores_used"] < 0.85 * r["threads"]]
    if starved:
        print("WARNING: the machine was shared during this run, ratios are not reliable: " + "; ".join(starved))

    conv_ours = runs.get(("conv", "evdistill"), [])
    conv_torch = runs.get(("conv", "torch"), [])
    if conv_ours:
        print(f"\n{'conv layer':12} {'GFLOP':>6} {'ours ms':>9} {'GFLOP/s':>8} {'torch ms':>9} {'GFLOP/s':>8}")
        for name, layer in conv_ours[0]["layers"].items():
            ours_ms = med([r["layers"][name]["forward_ms"] + r["layers"][name]["backward_ms"] for r in conv_ours])
            torch_ms = med([r["layers"][name]["forward_ms"] + r["layers"][name]["backward_ms"] for r in conv_torch]) if conv_torch else None
            t = f"{torch_ms:9.1f} {layer['gflop'] / torch_ms * 1e3:8.1f}" if torch_ms else ""
            print(f"{name:12} {layer['gflop']:6.2f} {ours_ms:9.1f} {layer['gflop'] / ours_ms * 1e3:8.1f} {t}")

    with open(args.out, "w") as f:
        json.dump({"ratios": ratios, "targets_met": verdicts, "table": table, "records": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
