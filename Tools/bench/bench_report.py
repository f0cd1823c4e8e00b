#!/usr/bin/env python3
"""Glue for Tools/bench-convert.sh: collect results, print the summary. Standard library only.

  bench_report.py ingest --benchmark NAME [--layout L] [--file F] [--impl I]  < stdout-of-evdistill
      Finds the JSON object that `evdistill bench ... --json` printed (the last stdout line that
      parses as an object with events and seconds), tags it and prints it as one JSON line.
      `benchmark` is set to NAME (what the script asked for) so that the summary can match it;
      a different name the binary reported is kept as benchmark_reported. Exit 1 if none found.

  bench_report.py rss --time-file F --events N --layout L --file PATH --exit-code RC [--extra k=v ...]
      Turns `/usr/bin/time -v` output into one JSON line: benchmark "convert", seconds (wall),
      events_per_second (null when convert failed or wrote no output), max_rss_mb (MiB,
      2**20 bytes) and max_rss_kb.

  bench_report.py summary --out PATH  RESULTS.jsonl ...
      Reads JSON lines, writes them as one JSON array to PATH, prints a table and the ratios
      ours / numpy-bincount and ours / tonic (voxelize), ours / h5py per layout (read),
      ours / numpy (histogram).
"""
import argparse
import json
import re
import sys

OURS = "evdistill"


def parse_json_objects(text):
    objs = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if isinstance(o, dict):
            objs.append(o)
    if not objs:
        # maybe pretty-printed over several lines
        s, e = text.find("{"), text.rfind("}")
        if s >= 0 and e > s:
            try:
                o = json.loads(text[s:e + 1])
                if isinstance(o, dict):
                    objs.append(o)
            except ValueError:
                pass
    return objs


def cmd_ingest(a):
    text = sys.stdin.read()
    objs = [o for o in parse_json_objects(text) if "seconds" in o or "events_per_second" in o]
    if not objs:
        print(f"bench_report: no JSON result in the output:\n{text[:2000]}", file=sys.stderr)
        return 1
    o = objs[-1]
    reported = o.get("benchmark")
    if reported is not None and reported != a.benchmark:
        o["benchmark_reported"] = reported
    o["benchmark"] = a.benchmark
    o.setdefault("impl", a.impl)
    if o["impl"] != a.impl:
        o["impl_reported"] = o["impl"]
        o["impl"] = a.impl
    if a.layout:
        o["layout"] = a.layout
    if a.file:
        o["file"] = a.file
    if "events_per_second" not in o and o.get("seconds") and o.get("events"):
        o["events_per_second"] = o["events"] / o["seconds"]
    print(json.dumps(o))
    return 0


def parse_wall(s):
    parts = [float(x) for x in s.strip().split(":")]
    sec = 0.0
    for p in parts:
        sec = sec * 60 + p
    return sec


def cmd_rss(a):
    text = open(a.time_file, errors="replace").read()
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
    w = re.search(r"Elapsed \(wall clock\) time.*?\):\s*([\d:.]+)", text)
    if not m:
        print(f"bench_report: no 'Maximum resident set size' in {a.time_file}:\n{text[-2000:]}", file=sys.stderr)
        return 1
    kb = int(m.group(1))
    wall = parse_wall(w.group(1)) if w else None
    o = {
        "benchmark": "convert",
        "impl": OURS,
        "events": a.events,
        "seconds": wall,
        "events_per_second": (a.events / wall) if wall else None,
        "max_rss_kb": kb,
        "max_rss_mb": round(kb / 1024, 1),
        "layout": a.layout,
        "file": a.file,
        "exit_code": a.exit_code,
    }
    for kv in a.extra or []:
        k, _, v = kv.partition("=")
        try:
            o[k] = int(v)
        except ValueError:
            o[k] = v
    if a.exit_code != 0 or o.get("output_written") == 0:
        o["events_per_second"] = None  # the time is not that of a conversion
    print(json.dumps(o))
    return 0


def fmt_rate(v):
    if v is None:
        return "-"
    return f"{v / 1e6:,.1f} M/s"


def fmt_ratio(a, b):
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def cmd_summary(a):
    recs = []
    for path in a.inputs:
        try:
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith("{"):
                        try:
                            recs.append(json.loads(line))
                        except ValueError:
                            print(f"bench_report: skipped a bad line in {path}: {line[:200]}", file=sys.stderr)
        except FileNotFoundError:
            pass
    with open(a.out, "w") as f:
        json.dump(recs, f, indent=1)
        f.write("\n")

    def eps(bench, impl, layout=None):
        for r in recs:
            if r.get("benchmark") == bench and r.get("impl") == impl and (layout is None or r.get("layout") == layout):
                return r.get("events_per_second")
        return None

    print()
    print(f"{'benchmark':<10} {'impl':<18} {'layout':<6} {'events':>12} {'seconds':>9} {'events/s':>14} {'thr':>4}  extra")
    print("-" * 100)
    for r in recs:
        extra = ""
        if "max_rss_mb" in r:
            extra = f"peak RSS {r['max_rss_mb']:,.1f} MB, exit {r.get('exit_code')}"
            if r.get("output_written") == 0:
                extra += ", NO OUTPUT"
        elif r.get("impl") == OURS:
            keep = {k: v for k, v in r.items() if k not in ("benchmark", "impl", "events", "seconds", "events_per_second", "threads", "layout", "file")}
            extra = json.dumps(keep)[:60] if keep else ""
        sec = r.get("seconds")
        print(f"{r.get('benchmark', '?'):<10} {r.get('impl', '?'):<18} {str(r.get('layout', '')):<6} "
              f"{r.get('events', 0):>12,} {(f'{sec:.4f}' if isinstance(sec, (int, float)) else '-'):>9} "
              f"{fmt_rate(r.get('events_per_second')):>14} {str(r.get('threads', '')):>4}  {extra}")

    print()
    print("ratios (events/s, higher = ours faster; same run, same machine):")
    ours_v = eps("voxelize", OURS)
    print(f"  voxelize   ours / numpy-bincount : {fmt_ratio(ours_v, eps('voxelize', 'numpy-bincount'))}")
    print(f"  voxelize   ours / tonic          : {fmt_ratio(ours_v, eps('voxelize', 'tonic'))}")
    layouts = []
    for r in recs:
        if r.get("benchmark") == "read" and r.get("layout") not in layouts:
            layouts.append(r.get("layout"))
    for L in layouts:
        print(f"  read {L:<5} ours / h5py           : {fmt_ratio(eps('read', OURS, L), eps('read', 'h5py+hdf5plugin', L))}")
    print(f"  histogram  ours / numpy-bincount : {fmt_ratio(eps('histogram', OURS), eps('histogram', 'numpy-bincount'))}")
    for r in recs:
        if r.get("benchmark") == "convert":
            print(f"  convert {r.get('layout')} {r.get('events', 0):,} events: peak RSS {r.get('max_rss_mb')} MB, "
                  f"{r.get('seconds')} s wall, exit {r.get('exit_code')}")
    print()
    print(f"results: {a.out}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--impl", default=OURS)
    p.add_argument("--layout")
    p.add_argument("--file")
    p = sub.add_parser("rss")
    p.add_argument("--time-file", required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--layout", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--exit-code", type=int, required=True)
    p.add_argument("--extra", action="append")
    p = sub.add_parser("summary")
    p.add_argument("--out", required=True)
    p.add_argument("inputs", nargs="+")
    a = ap.parse_args()
    return {"ingest": cmd_ingest, "rss": cmd_rss, "summary": cmd_summary}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
