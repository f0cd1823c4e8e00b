#!/usr/bin/env python3
"""Make synthetic DSEC-layout event files for the benchmark comparison.

Layout (as DSEC's events.h5 and as /work/shared/anchors.md measured it):
  /events/x   uint16   uniform random in [0, width)
  /events/y   uint16   uniform random in [0, height)
  /events/t   uint32   sorted, uniform over [0, duration_us) (microseconds, relative to t_offset)
  /events/p   uint8    0 / 1
  /ms_to_idx  uint64   ms_to_idx[m] = index of the first event with t >= m * 1000
  /t_offset   int64    scalar

Variants (same events in each, one file per variant):
  zstd  chunks of 65,536 events, Blosc zstd level 5, byte shuffle
  lz4   chunks of 65,536 events, Blosc lz4 level 5, byte shuffle
  raw   uncompressed, contiguous

Files are cached: a file whose attributes match the requested parameters is kept as it is.
They are written to a temporary name and renamed, so an interrupted run leaves no half file.

Usage: make_bench_file.py --out-dir DIR [--events N] [--variants zstd,lz4,raw]
Prints one line per file: "<variant> <path>".
"""
import argparse
import os
import sys
import time

import h5py
import hdf5plugin
import numpy as np

GENERATOR = "EventDistill Tools/bench/make_bench_file.py v1"
CHUNK = 65_536
T_OFFSET = 49_599_300_523  # a DSEC-like offset in microseconds


def file_name(events, variant):
    if events % 1_000_000 == 0:
        n = f"{events // 1_000_000}M"
    else:
        n = str(events)
    return f"dsec-{n}-{variant}.h5"


def dataset_options(variant):
    if variant == "zstd":
        return dict(chunks=(CHUNK,), **hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    if variant == "lz4":
        return dict(chunks=(CHUNK,), **hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    if variant == "raw":
        return {}  # no chunks, no filter: contiguous
    raise ValueError(f"unknown variant {variant!r}")


def wanted_attrs(args):
    return {
        "bench_generator": GENERATOR,
        "bench_events": args.events,
        "bench_seed": args.seed,
        "bench_width": args.width,
        "bench_height": args.height,
        "bench_duration_us": args.duration_us,
    }


def is_cached(path, attrs, variant):
    if not os.path.exists(path):
        return False
    try:
        with h5py.File(path, "r") as f:
            for k, v in attrs.items():
                got = f.attrs.get(k)
                if isinstance(got, bytes):
                    got = got.decode()
                if got is None or (got != v if isinstance(v, str) else int(got) != int(v)):
                    return False
            if f.attrs.get("bench_variant") not in (variant, variant.encode()):
                return False
            return f["events/t"].shape == (attrs["bench_events"],)
    except Exception:
        return False


def make_events(n, width, height, duration_us, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, width, n, dtype=np.uint16)
    y = rng.integers(0, height, n, dtype=np.uint16)
    t = rng.integers(0, duration_us, n, dtype=np.uint32)
    t.sort(kind="stable")
    p = rng.integers(0, 2, n, dtype=np.uint8)
    n_ms = int(t[-1]) // 1000 + 1 if n else 0
    ms_to_idx = np.searchsorted(t, np.arange(n_ms, dtype=np.uint64) * 1000, side="left").astype(np.uint64)
    return x, y, t, p, ms_to_idx


def write_file(path, variant, events, attrs):
    x, y, t, p, ms_to_idx = events
    tmp = f"{path}.tmp-{os.getpid()}"
    opts = dataset_options(variant)
    try:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("events")
            g.create_dataset("x", data=x, **opts)
            g.create_dataset("y", data=y, **opts)
            g.create_dataset("t", data=t, **opts)
            g.create_dataset("p", data=p, **opts)
            f.create_dataset("ms_to_idx", data=ms_to_idx)
            f.create_dataset("t_offset", data=np.int64(T_OFFSET))
            for k, v in attrs.items():
                f.attrs[k] = v
            f.attrs["bench_variant"] = variant
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--variants", default="zstd,lz4,raw")
    ap.add_argument("--width", type=int, default=346)
    ap.add_argument("--height", type=int, default=260)
    ap.add_argument("--duration-us", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args()

    os.makedirs(args.out_dir, exist_ok=True)
    attrs = wanted_attrs(args)
    variants = [v for v in args.variants.split(",") if v]
    todo = []
    for v in variants:
        dataset_options(v)  # validate name
        path = os.path.join(args.out_dir, file_name(args.events, v))
        if is_cached(path, attrs, v):
            print(f"make_bench_file: cached {path}", file=sys.stderr)
        else:
            todo.append((v, path))
    if todo:
        t0 = time.perf_counter()
        events = make_events(args.events, args.width, args.height, args.duration_us, args.seed)
        print(f"make_bench_file: generated {args.events:,} events in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        for v, path in todo:
            t0 = time.perf_counter()
            write_file(path, v, events, attrs)
            size = os.path.getsize(path) / 1e6
            print(f"make_bench_file: wrote {path} ({size:.1f} MB) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for v in variants:
        print(v, os.path.join(args.out_dir, file_name(args.events, v)))


if __name__ == "__main__":
    main()
