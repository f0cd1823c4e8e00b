import CResampleKernels
import ParallelLoops

/// Bilinear resampling with `align_corners=False`, exactly as PyTorch's
/// `F.interpolate(x, size=(H', W'), mode="bilinear", align_corners=False)`.
///
/// Shapes: `x` [N, C, H, W] → [N, C, outputHeight, outputWidth].
/// For output row i: src = max(0, (i + 0.5)·H/H' − 0.5), i₀ = ⌊src⌋, i₁ = min(i₀ + 1, H − 1),
/// weights (1 − λ, λ) with λ = src − i₀; likewise for columns. With an integer scale factor,
/// H/H' = 1/scale exactly, which is what PyTorch uses for `scale_factor=`.
/// Computed separably per plane: each input row is resampled along the width once (into a
/// scratch of H × W' floats), then output rows blend two of those rows — the same products and
/// sums as the 2-D formula `a₀(b₀x₀₀ + b₁x₀₁) + a₁(b₀x₁₀ + b₁x₁₁)`, with half the gathers and a
/// vectorisable second pass.
/// Saved for backward: only the (index, weight) tables; backward applies the two adjoint passes
/// (rows, then columns), one plane per task because neighbouring outputs share inputs.
public func upsampleBilinear(_ x: Variable, outputHeight: Int, outputWidth: Int) -> Variable {
    enginePrecondition(x.rank == 4, "upsampleBilinear: input must be [N, C, H, W], got \(x.shape)")
    enginePrecondition(outputHeight >= 1 && outputWidth >= 1, "upsampleBilinear: output size must be ≥ 1")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let resampler = BilinearResampler(height: h, width: w, outputHeight: outputHeight, outputWidth: outputWidth)
    let (oh, ow) = (outputHeight, outputWidth)
    let out = Tensor(shape: [n, c, oh, ow]) { po in
        x.value.withUnsafeBufferPointer { px in
            guard let px = px.baseAddress, let po = po.baseAddress else { return }
            resampler.forward(planes: n * c, source: { px + $0 * h * w }, destination: { po + $0 * oh * ow })
        }
    }
    return Variable.result(out, op: "upsampleBilinear", inputs: [x]) { g in
        g.withUnsafeBufferPointer { pg in
            x.withGradBuffer { gx in
                guard let pg = pg.baseAddress, let gx = gx.baseAddress else { return }
                resampler.backward(planes: n * c, gradient: { pg + $0 * oh * ow }, inputGradient: { gx + $0 * h * w })
            }
        }
    }
}

/// `concat([upsampleBilinear(x, scaleFactor:), skip], axis: 1)`, the U-Net decoder's input,
/// without the upsampled tensor: the resampling writes straight into the first channels of the
/// result and its backward reads them straight from G (concat would copy both ways).
///
/// Shapes: `x` [N, Cx, H, W], `skip` [N, Cs, H·scale, W·scale] → [N, Cx + Cs, H·scale, W·scale].
public func upsampleConcat(_ x: Variable, _ skip: Variable, scaleFactor: Int = 2) -> Variable {
    enginePrecondition(x.rank == 4 && skip.rank == 4, "upsampleConcat: inputs must be [N, C, H, W], got \(x.shape) and \(skip.shape)")
    let (n, cx, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cs, oh, ow) = (skip.shape[1], skip.shape[2], skip.shape[3])
    enginePrecondition(scaleFactor >= 1 && skip.shape[0] == n && oh == h * scaleFactor && ow == w * scaleFactor,
                       "upsampleConcat: skip \(skip.shape) must be [\(n), C, \(h * scaleFactor), \(w * scaleFactor)] for x \(x.shape) ×\(scaleFactor)")
    let resampler = BilinearResampler(height: h, width: w, outputHeight: oh, outputWidth: ow)
    let plane = oh * ow, channels = cx + cs
    // Plane p of x (image p / cx, channel p % cx) is plane (p / cx)·(Cx + Cs) + p % cx of the result.
    let joined = { (p: Int) in ((p / cx) * channels + p % cx) * plane }
    let out = Tensor(shape: [n, channels, oh, ow]) { po in
        x.value.withUnsafeBufferPointer { px in
            skip.value.withUnsafeBufferPointer { ps in
                guard let px = px.baseAddress, let ps = ps.baseAddress, let po = po.baseAddress else { return }
                resampler.forward(planes: n * cx, source: { px + $0 * h * w }, destination: { po + joined($0) })
                parallelFor(n) { image in (po + (image * channels + cx) * plane).update(from: ps + image * cs * plane, count: cs * plane) }
            }
        }
    }
    return Variable.result(out, op: "upsampleConcat", inputs: [x, skip]) { g in
        if skip.requiresGrad { skip.accumulateGrad(g.sliced(along: 1, cx..<channels)) }
        guard x.requiresGrad else { return }
        g.withUnsafeBufferPointer { pg in
            x.withGradBuffer { gx in
                guard let pg = pg.baseAddress, let gx = gx.baseAddress else { return }
                resampler.backward(planes: n * cx, gradient: { pg + joined($0) }, inputGradient: { gx + $0 * h * w })
            }
        }
    }
}

/// The separable bilinear kernels of `upsampleBilinear`, over planes found by address, so that
/// `upsampleConcat` can read and write planes inside a larger tensor.
struct BilinearResampler {
    let h: Int, w: Int, oh: Int, ow: Int
    let rows: BilinearTaps, cols: BilinearTaps
    /// Whether the width doubles with the column taps of the closed form `rs_widen_x2` computes
    /// (checked on the tables, so both paths compute the same products and sums): then the width
    /// pass and its adjoint run there, vectorised, except at the two edge columns.
    let widthDoubles: Bool

    init(height: Int, width: Int, outputHeight: Int, outputWidth: Int) {
        (h, w, oh, ow) = (height, width, outputHeight, outputWidth)
        rows = BilinearTaps(inputSize: height, outputSize: outputHeight)
        cols = BilinearTaps(inputSize: width, outputSize: outputWidth)
        widthDoubles = width >= 2 && outputWidth == 2 * width && cols.matchesDoubling(width)
    }

    /// Resamples planes `0 ..< planes` (each [h, w] at `source(p)`) into [oh, ow] at `destination(p)`.
    func forward(planes: Int, source: (Int) -> UnsafePointer<Float>, destination: (Int) -> UnsafeMutablePointer<Float>) {
        parallelFor(planes) { plane in
            BufferPool.shared.withScratch(count: h * ow) { wide in
                let src = source(plane), dst = destination(plane)
                cols.withTables { lower, upper, lowerWeight, upperWeight in
                    @inline(__always) func widen(_ columns: Range<Int>) {
                        for r in 0..<h {
                            let row = src + r * w, out = wide + r * ow
                            for j in columns { out[j] = lowerWeight[j] * row[lower[j]] + upperWeight[j] * row[upper[j]] }
                        }
                    }
                    if widthDoubles {
                        widen(0..<1)
                        rs_widen_x2(src, h, Int32(w), wide)
                        widen((ow - 1)..<ow)
                    } else {
                        widen(0..<ow)
                    }
                }
                for i in 0..<oh {
                    let r0 = wide + rows.lower[i] * ow, r1 = wide + rows.upper[i] * ow, out = dst + i * ow
                    let a0 = rows.lowerWeight[i], a1 = rows.upperWeight[i]
                    for j in 0..<ow { out[j] = a0 * r0[j] + a1 * r1[j] }
                }
            }
        }
    }

    /// Adds the adjoint of `forward` for G at `gradient(p)` into `inputGradient(p)`; one plane per
    /// task because neighbouring outputs share inputs.
    func backward(planes: Int, gradient: (Int) -> UnsafePointer<Float>, inputGradient: (Int) -> UnsafeMutablePointer<Float>) {
        parallelFor(planes) { plane in
            BufferPool.shared.withScratch(count: h * ow) { wide in
                wide.update(repeating: 0, count: h * ow)
                let src = gradient(plane), dst = inputGradient(plane)
                // Adjoint of the row blend: each output row adds into its two resampled rows.
                for i in 0..<oh {
                    let r0 = wide + rows.lower[i] * ow, r1 = wide + rows.upper[i] * ow, gi = src + i * ow
                    let a0 = rows.lowerWeight[i], a1 = rows.upperWeight[i]
                    for j in 0..<ow { r0[j] += a0 * gi[j] }
                    for j in 0..<ow { r1[j] += a1 * gi[j] }
                }
                // Adjoint of the width resampling.
                cols.withTables { lower, upper, lowerWeight, upperWeight in
                    @inline(__always) func addAdjoint(_ columns: Range<Int>) {
                        for r in 0..<h {
                            let row = dst + r * w, gw = wide + r * ow
                            for j in columns {
                                row[lower[j]] += lowerWeight[j] * gw[j]
                                row[upper[j]] += upperWeight[j] * gw[j]
                            }
                        }
                    }
                    if widthDoubles {
                        // Column 0, the interior, column ow − 1: each input's terms in the table loop's order.
                        addAdjoint(0..<1)
                        rs_widen_x2_adjoint(wide, h, Int32(w), dst)
                        addAdjoint((ow - 1)..<ow)
                    } else {
                        addAdjoint(0..<ow)
                    }
                }
            }
        }
    }
}

/// Bilinear ×`scaleFactor` (integer) upsampling, align_corners=False; the U-Net decoder's ×2.
public func upsampleBilinear(_ x: Variable, scaleFactor: Int = 2) -> Variable {
    enginePrecondition(x.rank == 4, "upsampleBilinear: input must be [N, C, H, W], got \(x.shape)")
    enginePrecondition(scaleFactor >= 1, "upsampleBilinear: scale factor must be ≥ 1, got \(scaleFactor)")
    return upsampleBilinear(x, outputHeight: x.shape[2] * scaleFactor, outputWidth: x.shape[3] * scaleFactor)
}

/// The two source taps and their weights for each output position along one axis.
struct BilinearTaps {
    var lower: [Int] = [], upper: [Int] = []
    var lowerWeight: [Float] = [], upperWeight: [Float] = []

    init(inputSize: Int, outputSize: Int) {
        // Float arithmetic, as PyTorch's CPU kernel (opmath_t = float for float tensors).
        let scale = Float(inputSize) / Float(outputSize)
        for i in 0..<outputSize {
            let source = Swift.max(0, scale * (Float(i) + 0.5) - 0.5)
            let i0 = Swift.min(Int(source), inputSize - 1)
            let lambda = source - Float(i0)
            lower.append(i0)
            upper.append(i0 < inputSize - 1 ? i0 + 1 : i0)
            lowerWeight.append(1 - lambda)
            upperWeight.append(lambda)
        }
    }

    /// Whether, for `width` inputs and 2·`width` outputs, output 2k + 1 reads (k, k + 1) with
    /// weights (0.75, 0.25) and output 2k + 2 reads (k, k + 1) with (0.25, 0.75), k < width − 1.
    func matchesDoubling(_ width: Int) -> Bool {
        guard lower.count == 2 * width else { return false }
        for k in 0..<(width - 1) {
            let (odd, even) = (2 * k + 1, 2 * k + 2)
            guard lower[odd] == k, upper[odd] == k + 1, lowerWeight[odd] == 0.75, upperWeight[odd] == 0.25 else { return false }
            guard lower[even] == k, upper[even] == k + 1, lowerWeight[even] == 0.25, upperWeight[even] == 0.75 else { return false }
        }
        return true
    }

    /// The four tables as raw pointers, for inner loops (array subscripts check bounds on every
    /// read: half the time of the width pass).
    func withTables<R>(_ body: (UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        lower.withUnsafeBufferPointer { l in
            upper.withUnsafeBufferPointer { u in
                lowerWeight.withUnsafeBufferPointer { lw in
                    upperWeight.withUnsafeBufferPointer { uw in body(l.baseAddress!, u.baseAddress!, lw.baseAddress!, uw.baseAddress!) }
                }
            }
        }
    }
}
