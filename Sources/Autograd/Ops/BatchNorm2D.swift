import ParallelLoops

/// Batch normalisation over the channels of an NCHW tensor, with PyTorch `F.batch_norm`
/// semantics.
///
/// Shapes: `x` [N, C, H, W]; `weight` (γ) and `bias` (β) [C], each optional (1 and 0 when
/// absent); `runningMean`, `runningVar` [C], updated in place when `training`.
///
/// Training: per channel, over the M = N·H·W values, μ = mean and σ² = biased variance
/// normalise: `y = γ·(x − μ)/√(σ² + eps) + β`. The running statistics move by `momentum`
/// towards μ and the *unbiased* variance σ²·M/(M − 1) (PyTorch's rule; M must exceed 1).
/// Evaluation: the running statistics replace μ and σ², and nothing is updated.
/// Statistics are accumulated in Double, one channel per task, so the result does not depend
/// on the thread count.
///
/// Saved for backward: the input value (no copy), and μ and 1/√(σ² + eps) per channel; x̂ is
/// recomputed rather than stored. Backward with G = ∂L/∂y, x̂ = (x − μ)/√(σ² + eps):
/// - ∂β += Σ G, ∂γ += Σ G·x̂;
/// - training: ∂x += γ/√(σ² + eps) · (G − ΣG/M − x̂·Σ(G·x̂)/M) (μ and σ² depend on x);
/// - evaluation: ∂x += γ/√(σ² + eps) · G.
public func batchNorm2d(
    _ x: Variable, weight: Variable?, bias: Variable?, runningMean: inout Tensor, runningVar: inout Tensor,
    training: Bool, momentum: Float = 0.1, eps: Float = 1e-5
) -> Variable {
    enginePrecondition(x.rank == 4, "batchNorm2d: input must be [N, C, H, W], got \(x.shape)")
    let (n, c) = (x.shape[0], x.shape[1])
    let plane = x.shape[2] * x.shape[3]
    let m = n * plane
    for (name, t) in [("weight", weight?.value), ("bias", bias?.value), ("runningMean", runningMean), ("runningVar", runningVar)] {
        if let t { enginePrecondition(t.shape == [c], "batchNorm2d: \(name) must be [\(c)] for input \(x.shape), got \(t.shape)") }
    }
    let xv = x.value
    var mean = [Float](repeating: 0, count: c)
    var invStd = [Float](repeating: 0, count: c)

    if training {
        enginePrecondition(m > 1, "batchNorm2d: training needs more than one value per channel, input \(x.shape)")
        var variance = [Double](repeating: 0, count: c)
        xv.withUnsafeBufferPointer { px in
            mean.withUnsafeMutableBufferPointer { pm in
                invStd.withUnsafeMutableBufferPointer { pi in
                    variance.withUnsafeMutableBufferPointer { pv in
                        parallelFor(c) { ch in
                            var sum = 0.0
                            for image in 0..<n {
                                let base = (image * c + ch) * plane
                                for i in 0..<plane { sum += Double(px[base + i]) }
                            }
                            let mu = sum / Double(m)
                            // Two-pass variance: no cancellation when |μ| ≫ σ.
                            var squares = 0.0
                            for image in 0..<n {
                                let base = (image * c + ch) * plane
                                for i in 0..<plane {
                                    let d = Double(px[base + i]) - mu
                                    squares += d * d
                                }
                            }
                            let biased = squares / Double(m)
                            pm[ch] = Float(mu)
                            pi[ch] = Float(1 / (biased + Double(eps)).squareRoot())
                            pv[ch] = biased
                        }
                    }
                }
            }
        }
        let unbiasedScale = Double(m) / Double(m - 1)
        for ch in 0..<c {
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean[ch]
            runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * Float(variance[ch] * unbiasedScale)
        }
    } else {
        for ch in 0..<c {
            mean[ch] = runningMean[ch]
            invStd[ch] = Float(1 / (Double(runningVar[ch]) + Double(eps)).squareRoot())
        }
    }

    let gamma = weight?.value.scalars ?? [Float](repeating: 1, count: c)
    let beta = bias?.value.scalars ?? [Float](repeating: 0, count: c)
    let out = Tensor(shape: x.shape) { po in
        xv.withUnsafeBufferPointer { px in
            parallelFor(n * c) { job in
                let ch = job % c
                let scale = gamma[ch] * invStd[ch]
                let shift = beta[ch] - mean[ch] * scale
                let base = job * plane
                for i in 0..<plane { po[base + i] = px[base + i] * scale + shift }
            }
        }
    }

    let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
    return Variable.result(out, op: "batchNorm2d", inputs: inputs) { g in
        // Per-channel sums ΣG and Σ G·x̂, in Double.
        var sumG = [Double](repeating: 0, count: c)
        var sumGXHat = [Double](repeating: 0, count: c)
        g.withUnsafeBufferPointer { pg in
            xv.withUnsafeBufferPointer { px in
                sumG.withUnsafeMutableBufferPointer { psg in
                    sumGXHat.withUnsafeMutableBufferPointer { psx in
                        parallelFor(c) { ch in
                            var s = 0.0, sx = 0.0
                            let mu = mean[ch], inv = invStd[ch]
                            for image in 0..<n {
                                let base = (image * c + ch) * plane
                                for i in 0..<plane {
                                    let gi = Double(pg[base + i])
                                    s += gi
                                    sx += gi * Double((px[base + i] - mu) * inv)
                                }
                            }
                            psg[ch] = s
                            psx[ch] = sx
                        }
                    }
                }
            }
        }
        if let bias, bias.requiresGrad {
            bias.accumulateGrad(Tensor(shape: [c], scalars: sumG.map { Float($0) }))
        }
        if let weight, weight.requiresGrad {
            weight.accumulateGrad(Tensor(shape: [c], scalars: sumGXHat.map { Float($0) }))
        }
        guard x.requiresGrad else { return }
        g.withUnsafeBufferPointer { pg in
            xv.withUnsafeBufferPointer { px in
                x.withGradBuffer { gx in
                    parallelFor(n * c) { job in
                        let ch = job % c
                        let mu = mean[ch], inv = invStd[ch]
                        let scale = gamma[ch] * inv
                        let base = job * plane
                        if training {
                            let meanG = Float(sumG[ch] / Double(m))
                            let meanGXHat = Float(sumGXHat[ch] / Double(m))
                            for i in 0..<plane {
                                let xHat = (px[base + i] - mu) * inv
                                gx[base + i] += scale * (pg[base + i] - meanG - xHat * meanGXHat)
                            }
                        } else {
                            for i in 0..<plane { gx[base + i] += scale * pg[base + i] }
                        }
                    }
                }
            }
        }
    }
}
