#!/usr/bin/env python3
"""Vectorised numpy baseline of the ESIM event simulator (method.md §7) for Tools/bench-simulate.sh.

Same model and output contract as Sources/Simulation/EventSimulator.swift with SimulatorConfig()
defaults (contrast 0.2 ON/OFF, per-pixel thresholds ~ N(C, 0.03²) clamped >= 0.01, ε = 1e-3, no
refractory period, no noise, no hot pixels):

  L = log(ε + max(I, 0))            per frame, float32 (like ours: Foundation.log on Float)
  first frame: reference = L
  each frame interval [t0, t1], for all pixels at once:
    d = L1 - ref; a pixel fires n = floor(d / C_on) ON events when d >= C_on and L1 > L0
    (n = floor(-d / C_off) OFF events when -d >= C_off and L1 < L0), event k = 1..n at
    ref_k = ref ± k·C, timestamp t0 + round((ref_k - L0) / (L1 - L0) · (t1 - t0)) (clamped to the
    interval, halves rounded up as Swift's .rounded()), then ref += ±n·C;
    the interval's events x, y (uint16), t (int64), p (int8 ±1) sorted by (t, pixel).

Thresholds come from numpy's own generator (seed --seed), so event counts differ slightly from
ours (different per-pixel thresholds); both counts are reported. The reference and the crossing
arithmetic are float64 (ours: Float32); that costs nothing measurable here (the per-pixel arrays
are cache-resident) and makes the count check against the per-pixel loop exact.

Speed (this is the baseline ours must beat, so it is the fastest numpy we could write):
  * logs of the frames in chunks of --chunk frames, in preallocated buffers (few numpy calls);
  * per interval only 4 full-frame passes (d, two compares, flatnonzero), all else on the
    firing pixels only;
  * events generated with np.repeat + a cumulative index (no Python loop over pixels or events);
  * the sort is ONE np.sort of an int64 key ((t - t0)·HW + pixel)·2 + [p > 0], decoded after
    the sort (equivalent to np.lexsort((pixel, t)) and several times faster; within one interval
    a pixel fires with one polarity only, so (t, pixel) is the full order of ours).
  Single-threaded, as numpy is.

Before timing it validates (exit 1 on a failure):
  1. on a crop of the frames (--check-frames x --check-width x --check-height), per-pixel ON and
     OFF counts equal those of a straightforward per-pixel Python loop (ESIM's `while` loop,
     the same thresholds) exactly; the events themselves (x, y, p, order) equal too, with
     timestamps within 1 µs;
  2. on the full run, for every pixel: L_last - (L_first + Σ C·p) lies in (-C_off, C_on), i.e.
     the summed events reproduce the log change to within one threshold.

Timing: one warm-up, then the median of --runs runs (>= 3), each from a fresh simulator
(thresholds drawn inside the timed region, as ours creates its simulator inside its timing),
frames already in memory (ours too). Prints one JSON object on stdout; progress on stderr.
"""
import argparse
import json
import statistics
import sys
import time

import h5py
import numpy as np


class Config:
    contrast_on = 0.2
    contrast_off = 0.2
    sigma = 0.03
    minimum = 0.01
    epsilon = np.float32(1e-3)


def draw_thresholds(n, seed, cfg=Config):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((2, n), dtype=np.float32)
    on = np.maximum(np.float32(cfg.minimum), np.float32(cfg.contrast_on) + np.float32(cfg.sigma) * z[0])
    off = np.maximum(np.float32(cfg.minimum), np.float32(cfg.contrast_off) + np.float32(cfg.sigma) * z[1])
    # float32 values like ours, float64 storage for the float64 arithmetic below
    return on.astype(np.float64), off.astype(np.float64)


def log_frames(frames, eps=Config.epsilon):
    """float32 log(ε + max(I, 0)) of a [T, H, W] array, the exact values both simulators use."""
    L = np.maximum(frames, np.float32(0))
    L += eps
    np.log(L, out=L)
    return L


def simulate(frames, times, seed=1, chunk=32, thresholds=None, sink=None, variant="bounds"):
    """ESIM on frames [T, H, W] float32 at times [T] µs. Returns the event count.

    variant "log":    L of every pixel of every frame (chunked np.log), then d = L1 - ref on all
                      pixels and the crossing test on all pixels.
    variant "bounds": the same model, with the crossing test moved to the intensity domain: a
                      pixel can only fire when I1 >= exp(ref + C_on) - ε or I1 <= exp(ref - C_off) - ε,
                      so each pixel keeps these two bounds (float32, widened by 1e-5 relative so
                      that they select a superset) and only the pixels past a bound get logs and
                      the exact test of the "log" variant. Bounds are recomputed for the pixels
                      that fired. Same events; no log over the full frame.
    `sink(x, y, t, p)` (optional) receives each interval's events, sorted by (t, pixel).
    """
    T, H, W = frames.shape
    N = H * W
    if thresholds is None:
        thresholds = draw_thresholds(N, seed)
    on, off = thresholds
    times = np.asarray(times, dtype=np.int64)
    if T and np.any(np.diff(times) <= 0):
        raise ValueError("frame timestamps must increase")
    flat = frames.reshape(T, N)
    if T < 2:
        return 0
    ref = np.empty(N, np.float64)
    emit = _Emitter(on, off, ref, H, W, sink)
    if variant == "log":
        _run_log(flat, times, on, off, ref, emit, chunk)
    elif variant == "bounds":
        _run_bounds(flat, times, on, off, ref, emit)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return emit.total


class _Emitter:
    """Events of one interval for the candidate pixels `idx` (a superset of the firing ones).

    Sort key per event: (t - t0) << (by + bx + 1) | y << (bx + 1) | x << 1 | [p > 0], so ONE
    np.sort of int64 orders by (t, y, x) = (t, pixel) (== np.lexsort((pixel, t))), and x, y, t, p
    are decoded with shifts and masks.
    """

    def __init__(self, on, off, ref, H, W, sink):
        self.on, self.neg_off, self.ref, self.sink = on, -off, ref, sink
        self.bx = max(1, (W - 1).bit_length())
        self.by = max(1, (H - 1).bit_length())
        pix = np.arange(H * W, dtype=np.int64)
        self.code = ((pix // W) << (self.bx + 1)) | ((pix % W) << 1)   # per-pixel y, x part of the key
        self.total = 0

    def __call__(self, idx, l0, l1, t0, t1):
        """l0, l1: float64 log intensities of the candidates; updates ref; returns the fired idx."""
        ref = self.ref
        r0 = ref[idx]
        dd = l1 - r0
        chg = l1 - l0
        pos = dd > 0
        step = np.where(pos, self.on[idx], self.neg_off[idx])   # signed threshold
        n = dd / step                          # >= 1 exactly when |d| >= C (IEEE division is monotone)
        # fires: at least one threshold past the reference (ours: nothing when L1 == L0, ON only
        # while rising, OFF only while falling)
        fire = n >= 1
        chg_same = chg * dd
        fire &= chg_same > 0
        if not fire.all():
            idx, l0, chg, pos, r0, step, n = idx[fire], l0[fire], chg[fire], pos[fire], r0[fire], step[fire], n[fire]
        if idx.size == 0:
            return idx
        np.floor(n, out=n)
        ref[idx] = r0 + n * step
        ni = n.astype(np.int64)
        ends = np.cumsum(ni)
        count = int(ends[-1])
        rep = np.repeat(np.arange(idx.size), ni)
        kk = np.arange(1, count + 1, dtype=np.float64)
        kk -= np.repeat((ends - ni).astype(np.float64), ni)   # k = 1..n within each pixel
        # fraction = (r0 + k·step - L0) / (L1 - L0) = A + k·B per pixel
        A = (r0 - l0) / chg
        B = step / chg
        frac = B[rep]
        frac *= kk
        frac += A[rep]
        np.minimum(frac, 1.0, out=frac)       # ours clamps the fraction to [0, 1]
        np.maximum(frac, 0.0, out=frac)
        frac *= float(t1 - t0)
        frac += 0.5
        np.floor(frac, out=frac)              # Swift .rounded(): halves away from zero (all >= 0)
        key = frac.astype(np.int64)
        key <<= self.by + self.bx + 1
        code = self.code[idx]
        code |= pos
        key |= code[rep]
        key.sort()                             # (t, pixel) order, like ours
        self.total += count
        # decode into the output contract (ours builds its packet too, then drops it)
        bx, by = self.bx, self.by
        x = ((key >> 1) & ((1 << bx) - 1)).astype(np.uint16)
        y = ((key >> (bx + 1)) & ((1 << by) - 1)).astype(np.uint16)
        t = key >> (bx + by + 1)
        t += t0
        p = (key & 1).astype(np.int8)
        p += p
        p -= 1
        if self.sink is not None:
            self.sink(x, y, t, p)
        return idx


def _run_log(flat, times, on, off, ref, emit, chunk):
    T, N = flat.shape
    eps = Config.epsilon
    neg_off = -off
    chunk = max(1, min(chunk, T))
    buf = np.empty((chunk, N), np.float32)    # log frames of the current chunk, float32
    buf64 = np.empty((chunk, N), np.float64)  # the same as float64
    d = np.empty(N, np.float64)
    m1 = np.empty(N, np.bool_)
    m2 = np.empty(N, np.bool_)
    prev = np.empty(N, np.float64)            # L of the last frame of the previous chunk
    for a in range(0, T, chunk):
        b = min(T, a + chunk)
        k = b - a
        Lc = buf[:k]
        np.maximum(flat[a:b], np.float32(0), out=Lc)
        Lc += eps
        np.log(Lc, out=Lc)
        L64 = buf64[:k]
        L64[...] = Lc
        for j in range(k):
            L1 = L64[j]
            if a + j == 0:
                ref[:] = L1
                continue
            L0 = L64[j - 1] if j > 0 else prev
            np.subtract(L1, ref, out=d)
            np.greater_equal(d, on, out=m1)
            np.less_equal(d, neg_off, out=m2)
            np.logical_or(m1, m2, out=m1)
            idx = np.flatnonzero(m1)
            if idx.size:
                emit(idx, L0[idx], L1[idx], int(times[a + j - 1]), int(times[a + j]))
        prev[:] = L64[k - 1]  # the chunk buffer is overwritten next


def _run_bounds(flat, times, on, off, ref, emit):
    T, N = flat.shape
    eps = Config.epsilon
    eps64 = float(eps)
    margin = 1e-5

    def logs(I):
        v = np.maximum(I, np.float32(0))
        v += eps
        np.log(v, out=v)
        return v.astype(np.float64)

    ref[:] = logs(flat[0])
    hi = (np.exp(ref + on) * (1 - margin) - eps64).astype(np.float32)
    lo = (np.exp(ref - off) * (1 + margin) - eps64).astype(np.float32)
    m1 = np.empty(N, np.bool_)
    m2 = np.empty(N, np.bool_)
    for j in range(1, T):
        I1 = flat[j]
        np.greater_equal(I1, hi, out=m1)
        np.less_equal(I1, lo, out=m2)
        np.logical_or(m1, m2, out=m1)
        idx = np.flatnonzero(m1)
        if idx.size:
            fired = emit(idx, logs(flat[j - 1][idx]), logs(I1[idx]), int(times[j - 1]), int(times[j]))
            if fired.size:
                r = ref[fired]
                hi[fired] = np.exp(r + on[fired]) * (1 - margin) - eps64
                lo[fired] = np.exp(r - off[fired]) * (1 + margin) - eps64


def simulate_loop(L, times, on, off):
    """Straightforward per-pixel ESIM loop (like the Swift loop, in float64) on log frames L [T, H, W].

    Returns (on_counts, off_counts, events as list of (t, pixel, p), final reference)."""
    T, H, W = L.shape
    N = H * W
    Lf = L.reshape(T, N).astype(np.float64).tolist()
    onl, offl = on.tolist(), off.tolist()
    ref = list(Lf[0])
    con = [0] * N
    coff = [0] * N
    events = []
    for j in range(1, T):
        t0, t1 = int(times[j - 1]), int(times[j])
        span = t1 - t0
        L0, L1 = Lf[j - 1], Lf[j]
        interval = []
        for pix in range(N):
            fr, to = L0[pix], L1[pix]
            change = to - fr
            if change == 0:
                continue
            r = ref[pix]
            if change > 0:
                C = onl[pix]
                while to - r >= C:
                    r += C
                    f = min(max((r - fr) / change, 0.0), 1.0)
                    interval.append((t0 + int(np.floor(span * f + 0.5)), pix, 1))
                    con[pix] += 1
            else:
                C = offl[pix]
                while r - to >= C:
                    r -= C
                    f = min(max((r - fr) / change, 0.0), 1.0)
                    interval.append((t0 + int(np.floor(span * f + 0.5)), pix, -1))
                    coff[pix] += 1
            ref[pix] = r
        interval.sort()
        events.extend(interval)
    return np.array(con), np.array(coff), events, np.array(ref)


class Collect:
    def __init__(self):
        self.parts = []

    def __call__(self, x, y, t, p):
        self.parts.append((x, y, t, p))

    def arrays(self):
        if not self.parts:
            return (np.zeros(0, np.uint16), np.zeros(0, np.uint16), np.zeros(0, np.int64), np.zeros(0, np.int8))
        return tuple(np.concatenate([part[i] for part in self.parts]) for i in range(4))


def fail(msg):
    print(f"sim_numpy: VALIDATION FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def synthetic_frames(T=40, H=24, W=32, seed=7):
    """Edge cases for check 1: big jumps (many crossings per interval), I = 0, I < 0, I > 1,
    constant pixels, alternating pixels, irregular timestamps."""
    rng = np.random.default_rng(seed)
    logI = np.cumsum(rng.normal(0, 0.35, (T, H, W)), axis=0) + np.log(0.3)
    I = np.exp(logI).astype(np.float32)
    I[:, :4, :] = I[0, :4, :]                      # constant rows: change == 0
    I[:, 4:6, :] = np.where(np.arange(T)[:, None, None] % 2 == 0, 0.05, 0.9)  # alternating
    I[rng.random((T, H, W)) < 0.03] = 0             # dark
    I[rng.random((T, H, W)) < 0.02] = -0.1          # negative (clamped to 0)
    I[:, -2:, :] *= 5                               # bright, > 1
    times = np.cumsum(rng.integers(1, 3000, T)).astype(np.int64)
    return I, times


def check_against_loop(frames, times, seed, variant, label):
    """Check 1: exact per-pixel counts (and the events) against the per-pixel Python loop."""
    T, fh, fw = frames.shape
    N = fh * fw
    on, off = draw_thresholds(N, seed + 12345)
    sink = Collect()
    total = simulate(frames, times, thresholds=(on, off), sink=sink, chunk=7, variant=variant)  # odd chunk: crosses chunk edges
    x, y, t, p = sink.arrays()
    pix = y.astype(np.int64) * fw + x
    np_on = np.bincount(pix[p > 0], minlength=N)
    np_off = np.bincount(pix[p < 0], minlength=N)
    t_loop = time.perf_counter()
    lon, loff, levents, lref = simulate_loop(log_frames(frames), times, on, off)
    t_loop = time.perf_counter() - t_loop
    bad = np.flatnonzero((np_on != lon) | (np_off != loff))
    if bad.size:
        fail(f"{variant}, {label}: per-pixel counts differ from the loop at {bad.size} of {N} pixels (first: {bad[:5].tolist()})")
    if total != len(levents) or total != len(t):
        fail(f"{variant}, {label}: event totals differ: numpy {total} (returned) / {len(t)} (collected), loop {len(levents)}")
    lt = np.array([e[0] for e in levents], np.int64)
    lpix = np.array([e[1] for e in levents], np.int64)
    lp = np.array([e[2] for e in levents], np.int8)
    # timestamps: numpy uses ref + k·C, the loop repeated += C (may round 1 µs apart)
    dt = np.abs(lt - t) if total else np.zeros(0, np.int64)
    same_t = int(np.count_nonzero(dt == 0))
    if total and dt.max() > 1:
        fail(f"{variant}, {label}: timestamps differ from the loop by up to {dt.max()} µs")
    same_order = bool(np.array_equal(lpix, pix) and np.array_equal(lp, p))
    if not same_order and not np.array_equal(np.sort(lpix * 2 + (lp > 0)), np.sort(pix * 2 + (p > 0))):
        fail(f"{variant}, {label}: events (pixel, polarity) differ from the loop")
    if total and np.any(np.diff(t) < 0):
        fail(f"{variant}, {label}: events are not sorted by t")
    return {
        "frames": [T, fh, fw],
        "events": int(total),
        "pixels": int(N),
        "pixels_with_events": int(np.count_nonzero(np_on + np_off)),
        "max_events_per_pixel": int((np_on + np_off).max()) if N else 0,
        "per_pixel_counts_equal": True,
        "same_events_same_order": same_order,
        "timestamps_equal": same_t,
        "timestamps_max_abs_diff_us": int(dt.max()) if total else 0,
        "loop_seconds": round(t_loop, 3),
    }


def check_log_change(frames, times, seed, variant):
    """Check 2: on the full run, L_last - (L_first + Σ C·p) in (-C_off, C_on) for every pixel.
    Returns the check's summary and the events (to compare the variants)."""
    T, H, W = frames.shape
    N = H * W
    on, off = draw_thresholds(N, seed)
    sink = Collect()
    total = simulate(frames, times, thresholds=(on, off), sink=sink, variant=variant)
    x, y, t, p = sink.arrays()
    if total and (np.any(np.diff(t) < 0) or t[0] < times[0] or t[-1] > times[-1]):
        fail(f"{variant}: full-run events are not sorted by t within the frame times")
    pix = y.astype(np.int64) * W + x
    n_on = np.bincount(pix[p > 0], minlength=N)
    n_off = np.bincount(pix[p < 0], minlength=N)
    L_first = log_frames(frames[0]).reshape(N).astype(np.float64)
    L_last = log_frames(frames[-1]).reshape(N).astype(np.float64)
    residual = L_last - (L_first + n_on * on - n_off * off)
    tol = 1e-9
    bad = np.flatnonzero((residual >= on + tol) | (residual <= -off - tol))
    if bad.size:
        fail(f"{variant}: summed C·p misses the log change by a threshold or more at {bad.size} pixels")
    return {
        "events": int(total),
        "on": int(n_on.sum()),
        "off": int(n_off.sum()),
        "pixels": int(N),
        "residual_within_one_threshold": True,
        "max_residual_over_threshold": float(np.max(np.where(residual >= 0, residual / on, -residual / off))),
    }, (x, y, t, p)


def validate(frames, times, seed, variants, ch, cw, cf):
    T, H, W = frames.shape
    ft, fh, fw = min(cf, T), min(ch, H), min(cw, W)
    y0, x0 = (H - fh) // 2, (W - fw) // 2
    crop = np.ascontiguousarray(frames[:ft, y0:y0 + fh, x0:x0 + fw])
    synth, stimes = synthetic_frames()
    result = {}
    full = {}
    for v in variants:
        r = {}
        for label, (F, ts) in (("crop", (crop, times[:ft])), ("synthetic", (synth, stimes))):
            c = check_against_loop(F, ts, seed, v, label)
            r[f"loop_{label}"] = c
            print(f"sim_numpy[{v}]: check 1 ok ({label} {c['frames']}): per-pixel ON/OFF counts equal the Python "
                  f"loop's at all {c['pixels']} pixels ({c['events']} events, up to {c['max_events_per_pixel']} "
                  f"per pixel; same events in the same order: {c['same_events_same_order']}; "
                  f"{c['timestamps_equal']}/{c['events']} timestamps identical, max diff "
                  f"{c['timestamps_max_abs_diff_us']} µs)", file=sys.stderr)
        c2, full[v] = check_log_change(frames, times, seed, v)
        r["log_change"] = c2
        print(f"sim_numpy[{v}]: check 2 ok: Σ C·p reproduces L_last - L_first within one threshold at all "
              f"{c2['pixels']} pixels ({c2['events']} events; max |residual|/C = "
              f"{c2['max_residual_over_threshold']:.9f})", file=sys.stderr)
        result[v] = r
    if len(full) > 1:
        ref_v, *others = list(full)
        for v in others:
            if not all(np.array_equal(a, b) for a, b in zip(full[ref_v], full[v])):
                fail(f"variants {ref_v} and {v} give different events on the full run")
        print(f"sim_numpy: variants {', '.join(full)} give identical events on the full run", file=sys.stderr)
        result["variants_identical"] = True
    result["passed"] = True
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames-file", required=True, help="HDF5 with /frames float32 [T,H,W] and /timestamps int64 [T] µs")
    ap.add_argument("--runs", type=int, default=5, help="timed runs after one warm-up (>= 3; median reported)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", default="bounds,log", help="comma-separated: bounds, log (one JSON line each)")
    ap.add_argument("--chunk", type=int, default=32, help="frames per log chunk (variant log)")
    ap.add_argument("--check-frames", type=int, default=60)
    ap.add_argument("--check-width", type=int, default=64)
    ap.add_argument("--check-height", type=int, default=48)
    ap.add_argument("--skip-checks", action="store_true")
    a = ap.parse_args()
    if a.runs < 3:
        ap.error("--runs must be >= 3")
    variants = [v for v in a.variants.split(",") if v]
    for v in variants:
        if v not in ("bounds", "log"):
            ap.error(f"unknown variant {v}")

    with h5py.File(a.frames_file, "r") as f:
        frames = np.ascontiguousarray(f["/frames"][...], dtype=np.float32)
        times = np.asarray(f["/timestamps"][...], dtype=np.int64)
    T, H, W = frames.shape
    if times.shape != (T,):
        print(f"sim_numpy: /timestamps has shape {times.shape}, expected ({T},)", file=sys.stderr)
        return 1
    print(f"sim_numpy: {T} frames {W}x{H} from {a.frames_file}, numpy {np.__version__}", file=sys.stderr)

    validation = None
    if not a.skip_checks:
        validation = validate(frames, times, a.seed, variants, a.check_height, a.check_width, a.check_frames)

    pixel_frames = W * H * max(T - 1, 0)
    for v in variants:
        events = simulate(frames, times, seed=a.seed, chunk=a.chunk, variant=v)  # warm-up
        runs = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            n = simulate(frames, times, seed=a.seed, chunk=a.chunk, variant=v)
            runs.append(time.perf_counter() - t0)
            if n != events:
                print(f"sim_numpy: event count changed between runs ({events} -> {n})", file=sys.stderr)
                return 1
        seconds = statistics.median(runs)
        out = {
            "benchmark": "simulate",
            "impl": f"numpy-{v}",
            "frames": T,
            "width": W,
            "height": H,
            "events": int(events),
            "seconds": seconds,
            "pixel_frames_per_second": pixel_frames / seconds,
            "events_per_second": events / seconds,
            "runs": a.runs,
            "run_seconds": runs,
            "threads": 1,
            "numpy": np.__version__,
            "validation": None if validation is None else {k: validation[k] for k in (v, "passed") if k in validation},
        }
        if v == "log":
            out["chunk"] = a.chunk
        print(f"sim_numpy[{v}]: median {seconds:.4f} s of {a.runs} runs", file=sys.stderr)
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
