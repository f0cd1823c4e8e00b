import ParallelLoops

/// Average pooling over k×k windows with stride s (default s = k), no padding, floor mode
/// (PyTorch `F.avg_pool2d(x, k, s)`).
///
/// Shapes: `x` [N, C, H, W] → [N, C, ⌊(H − k)/s⌋ + 1, ⌊(W − k)/s⌋ + 1].
/// Saved for backward: only the shapes; ∂x gets G/k² at every position of each window.
public func avgPool2d(_ x: Variable, kernelSize k: Int, stride: Int? = nil) -> Variable {
    let s = stride ?? k
    enginePrecondition(x.rank == 4, "avgPool2d: input must be [N, C, H, W], got \(x.shape)")
    enginePrecondition(k >= 1 && s >= 1, "avgPool2d: kernel \(k) and stride \(s) must be ≥ 1")
    let (h, w) = (x.shape[2], x.shape[3])
    enginePrecondition(h >= k && w >= k, "avgPool2d: input \(h)×\(w) is smaller than the \(k)×\(k) window")
    let oh = (h - k) / s + 1, ow = (w - k) / s + 1
    let rows = (0..<oh).map { ($0 * s)..<($0 * s + k) }
    let cols = (0..<ow).map { ($0 * s)..<($0 * s + k) }
    return pooledAverage(x, rows: rows, cols: cols, op: "avgPool2d")
}

/// Adaptive average pooling to `outputHeight`×`outputWidth` (PyTorch
/// `F.adaptive_avg_pool2d`): output cell i averages input rows ⌊i·H/oh⌋ ..< ⌈(i+1)·H/oh⌉
/// (and likewise for columns), so windows may differ in size and overlap.
///
/// Shapes: `x` [N, C, H, W] → [N, C, outputHeight, outputWidth].
/// Saved for backward: only the shapes; each window spreads G/|window| over its inputs.
public func adaptiveAvgPool2d(_ x: Variable, outputHeight: Int, outputWidth: Int) -> Variable {
    enginePrecondition(x.rank == 4, "adaptiveAvgPool2d: input must be [N, C, H, W], got \(x.shape)")
    enginePrecondition(outputHeight >= 1 && outputWidth >= 1, "adaptiveAvgPool2d: output size must be ≥ 1")
    let (h, w) = (x.shape[2], x.shape[3])
    func windows(_ inSize: Int, _ outSize: Int) -> [Range<Int>] {
        (0..<outSize).map { i in (i * inSize / outSize)..<(((i + 1) * inSize + outSize - 1) / outSize) }
    }
    return pooledAverage(x, rows: windows(h, outputHeight), cols: windows(w, outputWidth), op: "adaptiveAvgPool2d")
}

/// Global average pooling: the mean of each channel plane. [N, C, H, W] → [N, C, 1, 1].
public func globalAvgPool2d(_ x: Variable) -> Variable {
    enginePrecondition(x.rank == 4, "globalAvgPool2d: input must be [N, C, H, W], got \(x.shape)")
    return pooledAverage(x, rows: [0..<x.shape[2]], cols: [0..<x.shape[3]], op: "globalAvgPool2d")
}

/// Shared kernel: output (i, j) of each plane is the mean of input rows `rows[i]` × columns
/// `cols[j]`. Parallel over planes, each plane written by one task.
private func pooledAverage(_ x: Variable, rows: [Range<Int>], cols: [Range<Int>], op: String) -> Variable {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = rows.count, ow = cols.count
    let planes = n * c
    let out = Tensor(shape: [n, c, oh, ow]) { po in
        x.value.withUnsafeBufferPointer { px in
            parallelFor(planes) { plane in
                let src = plane * h * w, dst = plane * oh * ow
                for i in 0..<oh {
                    for j in 0..<ow {
                        var sum: Float = 0
                        for r in rows[i] {
                            for q in cols[j] { sum += px[src + r * w + q] }
                        }
                        po[dst + i * ow + j] = sum / Float(rows[i].count * cols[j].count)
                    }
                }
            }
        }
    }
    return Variable.result(out, op: op, inputs: [x]) { g in
        g.withUnsafeBufferPointer { pg in
            x.withGradBuffer { gx in
                parallelFor(planes) { plane in
                    let src = plane * h * w, dst = plane * oh * ow
                    for i in 0..<oh {
                        for j in 0..<ow {
                            let share = pg[dst + i * ow + j] / Float(rows[i].count * cols[j].count)
                            for r in rows[i] {
                                for q in cols[j] { gx[src + r * w + q] += share }
                            }
                        }
                    }
                }
            }
        }
    }
}
