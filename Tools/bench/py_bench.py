#!/usr/bin/env python3
"""Python reference measurements for the EventDistill benchmark comparison.

Prints one JSON object per line on stdout, each with the keys
  benchmark, impl, events, seconds, events_per_second
(plus layout / file / runs / threads where they apply). `seconds` is the median of --runs timed
runs (at least 5) after one untimed warm-up. Progress and checks go to stderr.

Measured:
  read       h5py + hdf5plugin: open the file, read /events/{x,y,t,p} fully into numpy, close;
             one record per file given with --file LAYOUT=PATH (warm page cache: the warm-up
             run reads the file once first).
  voxelize   numpy-bincount: the fastest numpy E2VID voxel grid we could write (below), on the
             events of the first file, already in memory (x, y, t, p as read: uint16, uint16,
             uint32, uint8).
             tonic: tonic.functional.to_voxel_grid_numpy on the same events as a structured
             array (x int16, y int16, t int64, p int8; tonic's own events_struct has a bool p,
             for which its 0 -> -1 remap silently gives +1: int8 keeps the polarity). tonic
             scales time by B, not E2VID's B - 1, and drops what lands in bin B, so its grid is
             not ours; it is timed for the work it does. It remaps p in place, so each run gets
             a fresh copy made outside the timed region.
  histogram  numpy-bincount: 2-channel (ON, OFF) count histogram with one np.bincount.

Before any timing, the bincount voxel grid is checked against a straightforward float64
np.add.at implementation of method.md §1 on a 100k-event subset (and on edge cases); a
mismatch aborts with exit code 1.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


# ---------------------------------------------------------------------------------------------
# Voxel grid (E2VID, method.md §1)

def voxel_grid_reference(x, y, t, p, width, height, bins):
    """Straightforward float64 implementation of the formula with np.add.at."""
    V = np.zeros((bins, height, width), np.float64)
    n = len(t)
    if n == 0:
        return V
    t = t.astype(np.float64)
    denom = t[-1] - t[0]
    if denom == 0:
        denom = 1.0
    ts = (bins - 1) * (t - t[0]) / denom
    i = np.floor(ts).astype(np.int64)
    d = ts - i
    pol = np.where(p > 0, 1.0, -1.0)
    xi = x.astype(np.int64)
    yi = y.astype(np.int64)
    np.add.at(V, (i, yi, xi), pol * (1.0 - d))
    ok = i + 1 < bins
    np.add.at(V, (i[ok] + 1, yi[ok], xi[ok]), (pol * d)[ok])
    return V


def voxel_grid_bincount(x, y, t, p, width, height, bins):
    """Fastest numpy E2VID voxel grid we could write; float32 (B, H, W).

    Two np.bincount calls over ONE index array that folds in the polarity
    (idx = i * 2HW + p * HW + y * W + x):
      c = unweighted counts, r = counts weighted with d (the fractional part of t*).
    With C = c_on - c_off and R = r_on - r_off (both per (bin, pixel)):
      V[i]   += p (1 - d)  ->  C - R
      V[i+1] += p d        ->  R shifted by one bin; what would land in bin B is dropped.
    So no per-event weight p*(1-d) / p*d is ever built. Time arithmetic is float32 when
    t_last - t_first < 2**24 (every integer difference exact in float32), float64 otherwise.
    """
    n = len(t)
    HW = width * height
    if n == 0:
        return np.zeros((bins, height, width), np.float32)
    t0 = int(t[0])
    t1 = int(t[-1])
    span = t1 - t0
    denom = span if span != 0 else 1
    ftype = np.float32 if span < 2**24 else np.float64
    dt = np.subtract(t, t.dtype.type(t0))                       # exact, integer
    ts = np.multiply(dt, ftype((bins - 1) / denom), dtype=ftype, casting="unsafe")
    idx = ts.astype(np.intp)                                     # floor (ts >= 0)
    d = ts
    d -= idx                                                     # fractional part, in place
    s = p.astype(np.int32)
    s *= height
    s += y
    s *= width
    s += x                                                       # p*HW + y*W + x
    idx *= 2 * HW
    idx += s
    m = 2 * (bins + 1) * HW
    c = np.bincount(idx, minlength=m).reshape(bins + 1, 2, HW)
    r = np.bincount(idx, weights=d, minlength=m).reshape(bins + 1, 2, HW)
    C = c[:, 1] - c[:, 0]
    R = r[:, 1] - r[:, 0]
    V = C - R                                                    # float64
    V[1:] += R[:-1]
    return V[:bins].astype(np.float32).reshape(bins, height, width)


def tonic_like_reference(x, y, t, p, width, height, bins):
    """What tonic's to_voxel_grid_numpy computes (B scaling, bin B dropped), float64 add.at."""
    V = np.zeros((bins, height, width), np.float64)
    t = t.astype(np.float64)
    ts = bins * (t - t[0]) / (t[-1] - t[0])
    i = ts.astype(np.int64)
    d = ts - i
    pol = np.where(p > 0, 1.0, -1.0)
    xi, yi = x.astype(np.int64), y.astype(np.int64)
    ok = i < bins
    np.add.at(V, (i[ok], yi[ok], xi[ok]), (pol * (1 - d))[ok])
    ok = i + 1 < bins
    np.add.at(V, (i[ok] + 1, yi[ok], xi[ok]), (pol * d)[ok])
    return V


def histogram_bincount(x, y, p, width, height):
    """2-channel count histogram, (2, H, W) int64, channel 0 = ON (p = 1), 1 = OFF (p = 0)."""
    HW = width * height
    s = p.astype(np.int32)
    s *= height
    s += y
    s *= width
    s += x
    return np.bincount(s, minlength=2 * HW).reshape(2, height, width)[::-1]


# ---------------------------------------------------------------------------------------------
# Checks

def check_close(name, got, ref, rtol=1e-5):
    got = np.asarray(got, np.float64)
    scale = max(1.0, float(np.abs(ref).max()))
    err = np.abs(got - ref)
    bad = err > rtol * np.abs(ref) + rtol * scale
    if got.shape != ref.shape or bad.any():
        print(f"CHECK FAILED {name}: shape {got.shape} vs {ref.shape}, "
              f"{int(bad.sum())} entries off, max abs err {err.max():.3g}", file=sys.stderr)
        return False
    print(f"check ok: {name} (max abs err {err.max():.2g})", file=sys.stderr)
    return True


def run_checks(x, y, t, p, width, height, bins):
    ok = True
    n = min(100_000, len(t))
    sx, sy, st, sp = x[:n], y[:n], t[:n], p[:n]
    ref = voxel_grid_reference(sx, sy, st, sp, width, height, bins)
    ok &= check_close(f"voxel bincount vs np.add.at, {n} events", voxel_grid_bincount(sx, sy, st, sp, width, height, bins), ref)
    # a subset from the middle (t_first != 0)
    m = len(t) // 2
    sl = slice(m, m + n)
    ref = voxel_grid_reference(x[sl], y[sl], t[sl], p[sl], width, height, bins)
    ok &= check_close("voxel bincount vs np.add.at, middle subset", voxel_grid_bincount(x[sl], y[sl], t[sl], p[sl], width, height, bins), ref)
    # edge cases: all events at one timestamp; one event; large timestamps (float64 path)
    rng = np.random.default_rng(1)
    k = 1000
    ex = rng.integers(0, width, k).astype(np.uint16)
    ey = rng.integers(0, height, k).astype(np.uint16)
    ep = rng.integers(0, 2, k).astype(np.uint8)
    et = np.full(k, 123456, np.uint32)
    ok &= check_close("voxel, t_last == t_first", voxel_grid_bincount(ex, ey, et, ep, width, height, bins), voxel_grid_reference(ex, ey, et, ep, width, height, bins))
    ok &= check_close("voxel, one event", voxel_grid_bincount(ex[:1], ey[:1], et[:1], ep[:1], width, height, bins), voxel_grid_reference(ex[:1], ey[:1], et[:1], ep[:1], width, height, bins))
    et = np.sort(rng.integers(0, 3_000_000_000, k)).astype(np.uint32)
    ok &= check_close("voxel, span >= 2**24 (float64 path)", voxel_grid_bincount(ex, ey, et, ep, width, height, bins), voxel_grid_reference(ex, ey, et, ep, width, height, bins))
    # histogram
    h = histogram_bincount(sx, sy, sp, width, height)
    href = np.zeros((2, height, width), np.int64)
    np.add.at(href, ((1 - sp).astype(np.int64), sy.astype(np.int64), sx.astype(np.int64)), 1)
    ok &= check_close("histogram bincount vs np.add.at", h, href.astype(np.float64))
    return ok


# ---------------------------------------------------------------------------------------------
# Timing

def timed(fn, runs, setup=None):
    """One untimed warm-up, then `runs` timed runs; returns (median seconds, all seconds)."""
    arg = setup() if setup else None
    fn(arg) if setup else fn()
    times = []
    for _ in range(runs):
        arg = setup() if setup else None
        t0 = time.perf_counter()
        fn(arg) if setup else fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def emit(benchmark, impl, events, seconds, times, **extra):
    rec = {
        "benchmark": benchmark,
        "impl": impl,
        "events": int(events),
        "seconds": round(seconds, 6),
        "events_per_second": round(events / seconds, 1) if seconds > 0 else None,
        "runs": len(times),
        "threads": 1,
    }
    rec.update(extra)
    print(json.dumps(rec), flush=True)
    return rec


def read_events(path):
    import h5py
    import hdf5plugin  # noqa: F401  (registers the Blosc filter)
    with h5py.File(path, "r") as f:
        g = f["events"]
        return g["x"][:], g["y"][:], g["t"][:], g["p"][:]


def describe_env():
    info = {"numpy": np.__version__}
    try:
        import h5py
        import hdf5plugin
        info.update(h5py=h5py.__version__, hdf5=h5py.version.hdf5_version, hdf5plugin=hdf5plugin.version)
    except Exception as e:  # pragma: no cover
        info["h5py"] = f"unavailable: {e}"
    try:
        import tonic
        info["tonic"] = tonic.__version__
    except Exception as e:
        info["tonic"] = f"unavailable: {e}"
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")} for d in threadpool_info()]
    except Exception:
        pass
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE")
    info["OPENBLAS_L2_SIZE"] = os.environ.get("OPENBLAS_L2_SIZE")
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", action="append", default=[], metavar="LAYOUT=PATH",
                    help="a DSEC-layout file to read (repeatable); the first one's events feed the compute benchmarks")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per measurement (at least 5)")
    ap.add_argument("--width", type=int, default=346)
    ap.add_argument("--height", type=int, default=260)
    ap.add_argument("--bins", type=int, default=5)
    ap.add_argument("--only", default="read,voxelize,tonic,histogram",
                    help="comma list out of read, voxelize, tonic, histogram")
    args = ap.parse_args()
    runs = max(5, args.runs)
    only = set(args.only.split(","))
    W, H, B = args.width, args.height, args.bins
    if not args.file:
        ap.error("give at least one --file LAYOUT=PATH")
    files = []
    for spec in args.file:
        layout, _, path = spec.partition("=")
        if not path:
            layout, path = os.path.basename(spec), spec
        files.append((layout, path))

    print("environment: " + json.dumps(describe_env()), file=sys.stderr)

    # (a) reads
    if "read" in only:
        for layout, path in files:
            x, y, t, p = read_events(path)  # warm-up: page cache
            n = len(t)
            med, times = timed(lambda: read_events(path), runs)
            emit("read", "h5py+hdf5plugin", n, med, times, layout=layout, file=path,
                 bytes_uncompressed=int(x.nbytes + y.nbytes + t.nbytes + p.nbytes),
                 bytes_file=os.path.getsize(path))

    x, y, t, p = read_events(files[0][1])
    n = len(t)
    if n and (x.max() >= W or y.max() >= H):
        sys.exit(f"events exceed the {W}x{H} sensor")

    if only & {"voxelize", "tonic", "histogram"}:
        if not run_checks(x, y, t, p, W, H, B):
            sys.exit(1)

    # (b) numpy voxel grid
    if "voxelize" in only:
        med, times = timed(lambda: voxel_grid_bincount(x, y, t, p, W, H, B), runs)
        emit("voxelize", "numpy-bincount", n, med, times, width=W, height=H, bins=B, formula="e2vid")

    # (c) tonic
    if "tonic" in only:
        try:
            import tonic
            from tonic.functional import to_voxel_grid_numpy
        except Exception as e:
            print(f"tonic unavailable, skipped: {e}", file=sys.stderr)
        else:
            dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
            ev = np.empty(n, dtype)
            ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
            sub = ev[:100_000].copy()
            got = to_voxel_grid_numpy(sub, sensor_size=(W, H, 2), n_time_bins=B)
            k = len(sub)
            check_close("tonic == B-scaled formula (sanity, not E2VID)",
                        got.reshape(B, H, W),
                        tonic_like_reference(x[:k], y[:k], t[:k], p[:k], W, H, B))
            med, times = timed(lambda e: to_voxel_grid_numpy(e, sensor_size=(W, H, 2), n_time_bins=B),
                               runs, setup=lambda: ev.copy())
            emit("voxelize", "tonic", n, med, times, width=W, height=H, bins=B,
                 formula="tonic (B scaling)", version=tonic.__version__)

    # (d) histogram
    if "histogram" in only:
        med, times = timed(lambda: histogram_bincount(x, y, p, W, H), runs)
        emit("histogram", "numpy-bincount", n, med, times, width=W, height=H, channels=2)


if __name__ == "__main__":
    main()
