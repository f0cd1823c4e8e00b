import ParallelLoops

/// Batch normalisation over the channels of an NCHW tensor, with PyTorch `F.batch_norm`
/// semantics, optionally followed by a ReLU in the same pass (`relu: true` gives exactly
/// `relu(batchNorm2d(...))` without storing the normalised tensor).
///
/// Shapes: `x` [N, C, H, W]; `weight` (γ) and `bias` (β) [C], each optional (1 and 0 when
/// absent); `runningMean`, `runningVar` [C], updated in place when `training`.
///
/// Training: per channel, over the M = N·H·W values, μ = mean and σ² = biased variance
/// normalise: `y = γ·(x − μ)/√(σ² + eps) + β`. The running statistics move by `momentum`
/// towards μ and the *unbiased* variance σ²·M/(M − 1) (PyTorch's rule; M must exceed 1).
/// Evaluation: the running statistics replace μ and σ², and nothing is updated.
/// Statistics: two passes (mean, then squared deviations), each summed per (image, channel)
/// plane in Double (`BlockedSum`) and the planes added in image order, so the result does not
/// depend on the thread count; or, in training, `batchMoments` of x when the op that produced
/// x gathered them (e.g. `conv2dWithMoments`), which spares both passes.
///
/// Saved for backward: the input value (no copy), and μ and 1/√(σ² + eps) per channel; x̂ and,
/// with `relu`, the mask y > 0 are recomputed from x rather than stored. Backward with
/// G = ∂L/∂y (times the mask y > 0 with `relu`), x̂ = (x − μ)/√(σ² + eps):
/// - ∂β += Σ G, ∂γ += Σ G·x̂;
/// - training: ∂x += γ/√(σ² + eps) · (G − ΣG/M − x̂·Σ(G·x̂)/M) (μ and σ² depend on x);
/// - evaluation: ∂x += γ/√(σ² + eps) · G.
public func batchNorm2d(
    _ x: Variable, weight: Variable?, bias: Variable?, runningMean: inout Tensor, runningVar: inout Tensor,
    training: Bool, momentum: Float = 0.1, eps: Float = 1e-5, relu: Bool = false, batchMoments: ChannelMoments? = nil
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
        var biasedVariance: [Double]
        if let batchMoments {
            enginePrecondition(batchMoments.channels == c && batchMoments.count.allSatisfy { $0 == Double(m) },
                               "batchNorm2d: batch moments of \(batchMoments.channels) channels × \(batchMoments.count.first ?? 0) values for input \(x.shape)")
            for ch in 0..<c { mean[ch] = Float(batchMoments.mean[ch]) }
            biasedVariance = batchMoments.biasedVariance
        } else {
            let sums = perPlaneSums(n * c) { job in xv.withUnsafeBufferPointer { BlockedSum.sum($0.baseAddress! + job * plane, count: plane) } }
            for ch in 0..<c { mean[ch] = Float(channelTotal(sums, channel: ch, channels: c, images: n) / Double(m)) }
            // Two-pass variance: no cancellation when |μ| ≫ σ.
            let squares = perPlaneSums(n * c) { job in
                xv.withUnsafeBufferPointer {
                    BlockedSum.squaredDeviations($0.baseAddress! + job * plane, count: plane, from: mean[job % c])
                }
            }
            biasedVariance = (0..<c).map { channelTotal(squares, channel: $0, channels: c, images: n) / Double(m) }
        }
        let unbiasedScale = Double(m) / Double(m - 1)
        for ch in 0..<c {
            let biased = biasedVariance[ch]
            invStd[ch] = Float(1 / (biased + Double(eps)).squareRoot())
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean[ch]
            runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * Float(biased * unbiasedScale)
        }
    } else {
        for ch in 0..<c {
            mean[ch] = runningMean[ch]
            invStd[ch] = Float(1 / (Double(runningVar[ch]) + Double(eps)).squareRoot())
        }
    }

    let gamma = weight?.value.scalars ?? [Float](repeating: 1, count: c)
    let beta = bias?.value.scalars ?? [Float](repeating: 0, count: c)
    // y = x·scale + shift per channel; the backward pass recomputes the ReLU mask with the same
    // expression, so it agrees with the forward bit for bit.
    let scale = (0..<c).map { gamma[$0] * invStd[$0] }
    let shift = (0..<c).map { beta[$0] - mean[$0] * scale[$0] }
    let out = Tensor(shape: x.shape) { po in
        xv.withUnsafeBufferPointer { px in
            parallelFor(n * c) { job in
                let (a, b) = (scale[job % c], shift[job % c])
                let base = job * plane
                if relu {
                    for i in base..<(base + plane) {
                        let y = px[i] * a + b
                        po[i] = y > 0 ? y : 0
                    }
                } else {
                    for i in base..<(base + plane) { po[i] = px[i] * a + b }
                }
            }
        }
    }

    let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
    return Variable.result(out, op: relu ? "batchNorm2dReLU" : "batchNorm2d", inputs: inputs) { g in
        // Per-plane ΣG and Σ G·(x − μ) (G masked by y > 0 with relu), in Double.
        var sumG = [Double](repeating: 0, count: n * c), sumGX = [Double](repeating: 0, count: n * c)
        g.withUnsafeBufferPointer { pg in
            xv.withUnsafeBufferPointer { px in
                sumG.withUnsafeMutableBufferPointer { psg in
                    sumGX.withUnsafeMutableBufferPointer { psx in
                        guard let pg = pg.baseAddress, let px = px.baseAddress else { return }
                        parallelFor(n * c) { job in
                            let ch = job % c
                            (psg[job], psx[job]) = gradientSums(
                                pg + job * plane, px + job * plane, count: plane, mean: mean[ch],
                                reluScale: relu ? scale[ch] : nil, reluShift: shift[ch])
                        }
                    }
                }
            }
        }
        let channelSumG = (0..<c).map { channelTotal(sumG, channel: $0, channels: c, images: n) }
        // Σ G·x̂ = Σ G·(x − μ) / √(σ² + eps)
        let channelSumGXHat = (0..<c).map { channelTotal(sumGX, channel: $0, channels: c, images: n) * Double(invStd[$0]) }
        if let bias, bias.requiresGrad {
            bias.accumulateGrad(Tensor(shape: [c], scalars: channelSumG.map { Float($0) }))
        }
        if let weight, weight.requiresGrad {
            weight.accumulateGrad(Tensor(shape: [c], scalars: channelSumGXHat.map { Float($0) }))
        }
        guard x.requiresGrad else { return }
        g.withUnsafeBufferPointer { pg in
            xv.withUnsafeBufferPointer { px in
                x.withGradBuffer(accumulatingOrOverwriting: { gx, accumulate in
                    guard let pg = pg.baseAddress, let px = px.baseAddress, let gx = gx.baseAddress else { return }
                    parallelFor(n * c) { job in
                        let ch = job % c
                        // training: ∂x = a·(G − mean G − x̂·mean(G·x̂)); evaluation: ∂x = a·G
                        let meanG = training ? Float(channelSumG[ch] / Double(m)) : 0
                        let meanGXHat = training ? Float(channelSumGXHat[ch] / Double(m)) : 0
                        inputGradient(pg + job * plane, px + job * plane, into: gx + job * plane, count: plane, accumulate: accumulate,
                                      mean: mean[ch], invStd: invStd[ch], scale: scale[ch], reluShift: relu ? shift[ch] : nil,
                                      meanG: meanG, meanGXHat: meanGXHat)
                    }
                })
            }
        }
    }
}

/// ∂x (+)= scale·(G − meanG − (x − mean)·invStd·meanGXHat) over one plane, G zeroed where
/// x·scale + reluShift ≤ 0 when `reluShift` is given (the forward ReLU's mask, recomputed with
/// the forward's expression). Eight lanes at a time; the branches are decided once per plane.
private func inputGradient(
    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, into gx: UnsafeMutablePointer<Float>, count: Int, accumulate: Bool,
    mean: Float, invStd: Float, scale: Float, reluShift: Float?, meanG: Float, meanGXHat: Float
) {
    @inline(__always) func run(relu: Bool, accumulate: Bool) {
        let (a8, b8, mu8) = (SIMD8<Float>(repeating: scale), SIMD8<Float>(repeating: reluShift ?? 0), SIMD8<Float>(repeating: mean))
        let (inv8, mg8, mgx8) = (SIMD8<Float>(repeating: invStd), SIMD8<Float>(repeating: meanG), SIMD8<Float>(repeating: meanGXHat))
        let zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let x8 = BlockedSum.load(x + i)
            var g8 = BlockedSum.load(g + i)
            if relu { g8.replace(with: zero, where: .!(x8 * a8 + b8 .> zero)) }
            var dx = a8 * (g8 - mg8 - (x8 - mu8) * inv8 * mgx8)
            if accumulate { dx += UnsafeRawPointer(gx + i).loadUnaligned(as: SIMD8<Float>.self) }
            UnsafeMutableRawPointer(gx + i).storeBytes(of: dx, as: SIMD8<Float>.self)
            i += 8
        }
        let shift = reluShift ?? 0
        while i < count {
            let gi = relu && !(x[i] * scale + shift > 0) ? 0 : g[i]
            let dx = scale * (gi - meanG - (x[i] - mean) * invStd * meanGXHat)
            gx[i] = accumulate ? gx[i] + dx : dx
            i += 1
        }
    }
    switch (reluShift != nil, accumulate) {
    case (true, true): run(relu: true, accumulate: true)
    case (true, false): run(relu: true, accumulate: false)
    case (false, true): run(relu: false, accumulate: true)
    case (false, false): run(relu: false, accumulate: false)
    }
}

/// (Σ G, Σ G·(x − mean)) over one plane, in one pass; with `reluScale`, G is zeroed where
/// x·reluScale + reluShift ≤ 0 (the forward ReLU's mask).
private func gradientSums(
    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int, mean: Float, reluScale: Float?, reluShift: Float
) -> (Double, Double) {
    let mu8 = SIMD8<Float>(repeating: mean)
    guard let a = reluScale else {
        return BlockedSum.reducePair(count, { (g[$0], g[$0] * (x[$0] - mean)) }) { i in
            let g8 = BlockedSum.load(g + i)
            return (g8, g8 * (BlockedSum.load(x + i) - mu8))
        }
    }
    let a8 = SIMD8<Float>(repeating: a), b8 = SIMD8<Float>(repeating: reluShift), zero = SIMD8<Float>()
    return BlockedSum.reducePair(count, { i in
        let gi: Float = x[i] * a + reluShift > 0 ? g[i] : 0
        return (gi, gi * (x[i] - mean))
    }) { i in
        let x8 = BlockedSum.load(x + i)
        let g8 = BlockedSum.load(g + i).replacing(with: zero, where: .!(x8 * a8 + b8 .> zero))
        return (g8, g8 * (x8 - mu8))
    }
}
