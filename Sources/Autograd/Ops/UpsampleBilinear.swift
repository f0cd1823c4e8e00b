import ParallelLoops

/// Bilinear resampling with `align_corners=False`, exactly as PyTorch's
/// `F.interpolate(x, size=(H', W'), mode="bilinear", align_corners=False)`.
///
/// Shapes: `x` [N, C, H, W] → [N, C, outputHeight, outputWidth].
/// For output row i: src = max(0, (i + 0.5)·H/H' − 0.5), i₀ = ⌊src⌋, i₁ = min(i₀ + 1, H − 1),
/// weights (1 − λ, λ) with λ = src − i₀; likewise for columns. With an integer scale factor,
/// H/H' = 1/scale exactly, which is what PyTorch uses for `scale_factor=`.
/// Saved for backward: only the (index, weight) tables; backward spreads G with the same
/// weights (the adjoint), one plane per task because neighbouring outputs share inputs.
public func upsampleBilinear(_ x: Variable, outputHeight: Int, outputWidth: Int) -> Variable {
    enginePrecondition(x.rank == 4, "upsampleBilinear: input must be [N, C, H, W], got \(x.shape)")
    enginePrecondition(outputHeight >= 1 && outputWidth >= 1, "upsampleBilinear: output size must be ≥ 1")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let rows = BilinearTaps(inputSize: h, outputSize: outputHeight)
    let cols = BilinearTaps(inputSize: w, outputSize: outputWidth)
    let oh = outputHeight, ow = outputWidth
    let planes = n * c
    let out = Tensor(shape: [n, c, oh, ow]) { po in
        x.value.withUnsafeBufferPointer { px in
            parallelFor(planes) { plane in
                let src = plane * h * w, dst = plane * oh * ow
                for i in 0..<oh {
                    let r0 = src + rows.lower[i] * w, r1 = src + rows.upper[i] * w
                    let a0 = rows.lowerWeight[i], a1 = rows.upperWeight[i]
                    for j in 0..<ow {
                        let q0 = cols.lower[j], q1 = cols.upper[j]
                        let b0 = cols.lowerWeight[j], b1 = cols.upperWeight[j]
                        po[dst + i * ow + j] = a0 * (b0 * px[r0 + q0] + b1 * px[r0 + q1])
                            + a1 * (b0 * px[r1 + q0] + b1 * px[r1 + q1])
                    }
                }
            }
        }
    }
    return Variable.result(out, op: "upsampleBilinear", inputs: [x]) { g in
        g.withUnsafeBufferPointer { pg in
            x.withGradBuffer { gx in
                parallelFor(planes) { plane in
                    let src = plane * h * w, dst = plane * oh * ow
                    for i in 0..<oh {
                        let r0 = src + rows.lower[i] * w, r1 = src + rows.upper[i] * w
                        let a0 = rows.lowerWeight[i], a1 = rows.upperWeight[i]
                        for j in 0..<ow {
                            let q0 = cols.lower[j], q1 = cols.upper[j]
                            let b0 = cols.lowerWeight[j], b1 = cols.upperWeight[j]
                            let gi = pg[dst + i * ow + j]
                            gx[r0 + q0] += a0 * b0 * gi
                            gx[r0 + q1] += a0 * b1 * gi
                            gx[r1 + q0] += a1 * b0 * gi
                            gx[r1 + q1] += a1 * b1 * gi
                        }
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
}
