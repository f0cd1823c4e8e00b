"""Summarises Tools/experiments.sh: results.md (mean ± std test mIoU per configuration) and
loss_curves.png (total training loss per epoch of every run, each curve scaled by its first
epoch, so 1.0 is the top of the plot), with the standard library only."""
import json
import os
import statistics
import struct
import sys
import zlib

NAMES = {
    "teacher": "teacher on frames (upper bound)",
    "full_supervision": "student, all event labels (bound)",
    "a_scratch_10pct": "(a) student from scratch, 10 % labels",
    "b_kd": "(b) (a) + prediction KD, paired",
    "c_kd_affinity_ds": "(c) (b) + affinity + DS",
    "d_kd_affinity_ds_dm": "(d) (c) + distribution matching",
    "e_unpaired_bmr": "(e) unpaired, with BMR",
    "e_unpaired_no_bmr": "(e) unpaired, without BMR",
    "f_contrastive": "(f) 10 % labels + KD + contrastive",
    "f_mi": "(f) 10 % labels + KD + MI",
}


def png(path, width, height, pixels):
    raw = b"".join(b"\x00" + bytes(pixels[y * width * 3:(y + 1) * width * 3]) for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main(out):
    runs = [json.loads(line) for line in open(os.path.join(out, "results.jsonl")) if line.strip()]
    by_config = {}
    for run in runs:
        by_config.setdefault(run["config"], []).append(100 * run["test_miou"])
    lines = ["| configuration | test mIoU % (mean ± std) | seeds |", "| --- | ---: | ---: |"]
    for key in NAMES:
        if key in by_config:
            values = by_config[key]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            lines.append(f"| {NAMES[key]} | {statistics.mean(values):.2f} ± {std:.2f} | {len(values)} |")
    open(os.path.join(out, "results.md"), "w").write("\n".join(lines) + "\n")

    # Total training loss per epoch (scaled by its first epoch), one polyline per run, coloured by configuration.
    width, height, margin = 640, 360, 30
    pixels = [255] * (width * height * 3)
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
               (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
    curves = []
    for key in NAMES:
        for seed_dir in sorted(d for d in os.listdir(out) if d.startswith(key + "-") and os.path.isdir(os.path.join(out, d))):
            path = os.path.join(out, seed_dir, "metrics.jsonl")
            if os.path.exists(path):
                totals = [json.loads(l).get("terms", {}).get("total", 0) for l in open(path) if l.strip()]
                if totals and totals[0] > 0:
                    curves.append((list(NAMES).index(key), [min(1.0, t / totals[0]) for t in totals]))
    epochs = max((len(v) for _, v in curves), default=1)
    def plot(x, y, colour):
        if 0 <= x < width and 0 <= y < height:
            pixels[3 * (y * width + x):3 * (y * width + x) + 3] = colour
    for x in range(margin, width - margin):
        plot(x, height - margin, (0, 0, 0))
    for y in range(margin, height - margin):
        plot(margin, y, (0, 0, 0))
    for index, values in curves:
        points = [(margin + int((width - 2 * margin) * e / max(epochs - 1, 1)), height - margin - int((height - 2 * margin) * v))
                  for e, v in enumerate(values)]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for s in range(steps + 1):
                plot(x0 + (x1 - x0) * s // steps, y0 + (y1 - y0) * s // steps, colours[index % len(colours)])
    png(os.path.join(out, "loss_curves.png"), width, height, pixels)


if __name__ == "__main__":
    main(sys.argv[1])
