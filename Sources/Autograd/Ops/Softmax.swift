#if canImport(Glibc)
import Glibc
#endif
import FastMath
import ParallelLoops

/// Softmax along `axis` (default 1, the channels of NCHW; PyTorch `F.softmax(x, dim)`).
///
/// Shapes: any; output as input. Subtracts the per-position maximum before `exp`, so large
/// logits do not overflow. Saved for backward: the output y; ∂x += y·(G − Σ_axis G·y).
public func softmax(_ x: Variable, axis: Int = 1) -> Variable {
    let a = shapeCheck { () throws(ShapeError) in try normalizedAxis(axis, rank: x.rank, op: "softmax") }
    let y = softmaxKernel(x.value, axis: a, logarithm: false)
    return Variable.result(y, op: "softmax", inputs: [x]) { g in
        x.accumulateGrad(alongAxis(g, y, axis: a) { gi, yi, dot in yi * (gi - dot) })
    }
}

/// Log-softmax along `axis` (default 1): `x − max − log Σ exp(x − max)` (PyTorch
/// `F.log_softmax`). Saved for backward: the output y; ∂x += G − exp(y)·Σ_axis G.
public func logSoftmax(_ x: Variable, axis: Int = 1) -> Variable {
    let a = shapeCheck { () throws(ShapeError) in try normalizedAxis(axis, rank: x.rank, op: "logSoftmax") }
    let y = softmaxKernel(x.value, axis: a, logarithm: true)
    return Variable.result(y, op: "logSoftmax", inputs: [x]) { g in
        x.accumulateGrad(alongAxis(g, y, axis: a, dotWithOnes: true) { gi, yi, sumG in gi - expf(yi) * sumG })
    }
}

/// Softmax or log-softmax of `x` along axis `a`. Works on [outer, extent, inner] blocks with
/// the running maximum and sum kept as `inner`-long rows, so every loop is contiguous.
/// Parallel over `outer`.
func softmaxKernel(_ x: Tensor, axis a: Int, logarithm: Bool) -> Tensor {
    let (outer, extent, inner) = x.blockSizes(around: a)
    return Tensor(shape: x.shape) { po in
        x.withUnsafeBufferPointer { px in
            guard let px = px.baseAddress, let po = po.baseAddress else { return }
            parallelFor(outer) { o in
                let base = o * extent * inner
                // Running maximum, sum and one row of e^(x − max) (kept only for the sum by
                // log-softmax); raw rows, so the loops vectorise.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * inner) { buffer in
                    let maximum = buffer.baseAddress!, total = maximum + inner, scratch = total + inner
                    maximum.update(repeating: -.infinity, count: inner)
                    total.update(repeating: 0, count: inner)
                    for c in 0..<extent {
                        let row = px + base + c * inner
                        for i in 0..<inner { maximum[i] = max(maximum[i], row[i]) }
                    }
                    for c in 0..<extent {
                        let row = px + base + c * inner
                        let e = logarithm ? scratch : po + base + c * inner
                        for i in 0..<inner { e[i] = row[i] - maximum[i] }
                        exponentials(e, e, count: inner)
                        for i in 0..<inner { total[i] += e[i] }
                    }
                    if logarithm {
                        for i in 0..<inner { total[i] = maximum[i] + logf(total[i]) }
                        for c in 0..<extent {
                            let row = px + base + c * inner, out = po + base + c * inner
                            for i in 0..<inner { out[i] = row[i] - total[i] }
                        }
                    } else {
                        for i in 0..<inner { total[i] = 1 / total[i] }
                        for c in 0..<extent {
                            let out = po + base + c * inner
                            for i in 0..<inner { out[i] *= total[i] }
                        }
                    }
                }
            }
        }
    }
}

/// For each position along the non-`a` axes, computes d = Σ_axis g·y (or Σ_axis g when
/// `dotWithOnes`) and returns `f(g, y, d)` elementwise. The shared shape of softmax-style
/// backward passes.
func alongAxis(
    _ g: Tensor, _ y: Tensor, axis a: Int, dotWithOnes: Bool = false, _ f: (Float, Float, Float) -> Float
) -> Tensor {
    let (outer, extent, inner) = y.blockSizes(around: a)
    return Tensor(shape: y.shape) { po in
        g.withUnsafeBufferPointer { pg in
            y.withUnsafeBufferPointer { py in
                parallelFor(outer) { o in
                    let base = o * extent * inner
                    var dot = [Float](repeating: 0, count: inner)
                    for c in 0..<extent {
                        for i in 0..<inner {
                            let k = base + c * inner + i
                            dot[i] += dotWithOnes ? pg[k] : pg[k] * py[k]
                        }
                    }
                    for c in 0..<extent {
                        for i in 0..<inner {
                            let k = base + c * inner + i
                            po[k] = f(pg[k], py[k], dot[i])
                        }
                    }
                }
            }
        }
    }
}
