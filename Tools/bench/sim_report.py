#!/usr/bin/env python3
"""Summary for Tools/bench-simulate.sh. Standard library only.

  sim_report.py --out PATH --ours OURS.out [--ours-render RENDER.out] --numpy NUMPY.jsonl [--meta k=v ...]

OURS.out: stdout of `evdistill bench simulate --load-frames F --json` (the last JSON object with
`seconds` is taken); RENDER.out: stdout of the run that rendered and saved F (its event count
must equal OURS.out's: same frames, same seed). NUMPY.jsonl: the JSON lines of sim_numpy.py
(one per variant). Prints a table with pixel-frames/s and events/s and the ratios ours / numpy
(against each variant and against the fastest one, the baseline), writes everything to PATH as
one JSON object. Exit code 1 when a side is missing or numpy's validation did not pass.
"""
import argparse
import json
import sys


def last_object(path):
    try:
        text = open(path).read()
    except FileNotFoundError:
        return None
    found = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if isinstance(o, dict) and "seconds" in o:
                found = o
    return found


def objects(path):
    out = []
    try:
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if isinstance(o, dict) and "seconds" in o:
                    out.append(o)
    except FileNotFoundError:
        pass
    return out


def rate(v):
    return "-" if not v else f"{v / 1e6:,.1f} M/s"


def ratio(a, b):
    return None if not a or not b else a / b


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--ours-render")
    ap.add_argument("--numpy", required=True)
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args()

    ours = last_object(a.ours)
    render = last_object(a.ours_render) if a.ours_render else None
    nps = objects(a.numpy)
    meta = {}
    for kv in a.meta:
        k, _, v = kv.partition("=")
        try:
            meta[k] = int(v)
        except ValueError:
            meta[k] = v
    problems = []
    if ours is None:
        problems.append("no result from evdistill")
    else:
        ours["impl"] = "evdistill"
    if render is not None:
        render["impl"] = "evdistill (rendering run)"
        if ours is not None and render.get("events") != ours.get("events"):
            problems.append(f"evdistill's event count differs between its rendered frames ({render.get('events')}) "
                            f"and the same frames loaded from the file ({ours.get('events')})")
    if not nps:
        problems.append("no result from sim_numpy.py")
    for o in nps:
        v = o.get("validation")
        if v is None:
            problems.append(f"{o.get('impl')}: validation skipped")
        elif not v.get("passed"):
            problems.append(f"{o.get('impl')}: validation failed")
    if ours is not None:
        for o in nps:
            for k in ("frames", "width", "height"):
                if o.get(k) != ours.get(k):
                    problems.append(f"{o.get('impl')}: {k} {o.get(k)} != ours {ours.get(k)}")

    rows = ([ours] if ours else []) + nps
    print()
    print(f"{'impl':<14} {'frames':>7} {'size':>9} {'events':>11} {'seconds':>9} {'pixel-frames/s':>16} {'events/s':>12} {'thr':>4}")
    print("-" * 90)
    for r in rows:
        size = f"{r.get('width')}x{r.get('height')}"
        thr = r.get("threads", meta.get("cores", ""))
        print(f"{r.get('impl', '?'):<14} {r.get('frames', 0):>7} {size:>9} {r.get('events', 0):>11,} "
              f"{r.get('seconds', 0):>9.4f} {rate(r.get('pixel_frames_per_second')):>16} "
              f"{rate(r.get('events_per_second')):>12} {str(thr):>4}")

    ratios = {}
    if ours and nps:
        best = max(nps, key=lambda o: o.get("pixel_frames_per_second") or 0)
        print()
        print("ratios ours / numpy (higher = ours faster; same frames, same run, same machine):")
        for name, o in [(o["impl"], o) for o in nps] + [("baseline", best)]:
            pf = ratio(ours.get("pixel_frames_per_second"), o.get("pixel_frames_per_second"))
            ev = ratio(ours.get("events_per_second"), o.get("events_per_second"))
            label = f"baseline (= {best['impl']}, the fastest)" if name == "baseline" else name
            print(f"  {label:<40} pixel-frames/s {fmt_ratio(pf):>7}   events/s {fmt_ratio(ev):>7}")
            ratios[name] = {"pixel_frames_per_second": pf, "events_per_second": ev}
        ratios["baseline_impl"] = best["impl"]
        ev_diff = (ours["events"] - best["events"]) / best["events"] if best.get("events") else None
        print(f"  event counts: ours {ours['events']:,}, numpy {best['events']:,}"
              + (f" ({100 * ev_diff:+.2f} %; per-pixel thresholds come from different generators)" if ev_diff is not None else ""))
    if nps and nps[0].get("validation"):
        print()
        for o in nps:
            v = (o.get("validation") or {}).get(o["impl"].replace("numpy-", ""), {})
            lc = v.get("loop_crop", {})
            ls = v.get("loop_synthetic", {})
            ch = v.get("log_change", {})
            print(f"  {o['impl']} validation: per-pixel counts == Python loop on {lc.get('frames')} crop "
                  f"({lc.get('events')} events) and {ls.get('frames')} synthetic ({ls.get('events')} events): "
                  f"{bool(lc.get('per_pixel_counts_equal') and ls.get('per_pixel_counts_equal'))}; "
                  f"Σ C·p within one threshold at all {ch.get('pixels')} pixels: {ch.get('residual_within_one_threshold')}")

    result = {"meta": meta, "ours": ours, "ours_render": render, "numpy": nps, "ratios": ratios, "problems": problems}
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print()
    for p in problems:
        print(f"PROBLEM: {p}")
    print(f"results: {a.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
