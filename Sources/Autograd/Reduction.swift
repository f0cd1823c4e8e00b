import ParallelLoops

/// How a loss combines its per-element terms (PyTorch's `reduction=` argument).
public enum Reduction: Sendable {
    /// Per-element terms, same shape as the input.
    case none
    /// Sum of the terms.
    case sum
    /// Sum divided by the number of terms.
    case mean
    /// Sum divided by the batch size (extent of axis 0): `kl_div`'s `"batchmean"`, the
    /// mathematically correct KL divergence per sample.
    case batchMean

    /// The divisor applied to the summed terms for an input of `shape`.
    func divisor(for shape: [Int]) -> Float {
        switch self {
        case .none, .sum: return 1
        case .mean: return Float(shapeCount(shape))
        case .batchMean: return Float(shape.first ?? 1)
        }
    }
}

/// Applies `reduction` to per-element `terms` whose gradient with respect to the loss inputs
/// is `∂term/∂input`: returns the loss and, for backward, the factor to multiply each
/// per-element derivative by (the upstream gradient, broadcast and divided).
func reduceTerms(_ terms: Tensor, _ reduction: Reduction) -> Tensor {
    switch reduction {
    case .none: return terms
    case .sum, .mean, .batchMean: return Tensor(terms.sum() / reduction.divisor(for: terms.shape))
    }
}

/// The upstream gradient `g` of a reduced loss expanded back to per-element weights of
/// `shape`: `g` itself for `.none`, else `g / divisor` everywhere.
func expandReducedGradient(_ g: Tensor, shape: [Int], _ reduction: Reduction) -> Tensor {
    switch reduction {
    case .none: return g
    case .sum, .mean, .batchMean: return Tensor(repeating: g.scalar / reduction.divisor(for: shape), shape: shape)
    }
}

/// Runs `body` for each of `count` planes in parallel and returns the per-plane results (with
/// `channelTotal`: per-channel sums of NCHW planes that do not depend on the thread count; batch
/// norm's statistics and gradient sums, the conv bias gradient).
func perPlaneSums(_ count: Int, _ body: (Int) -> Double) -> [Double] {
    var sums = [Double](repeating: 0, count: count)
    sums.withUnsafeMutableBufferPointer { ps in
        parallelFor(count) { ps[$0] = body($0) }
    }
    return sums
}

/// Σ over images of the per-plane values of `channel`, in image order.
func channelTotal(_ planes: [Double], channel: Int, channels: Int, images: Int) -> Double {
    var total = 0.0
    for image in 0..<images { total += planes[image * channels + channel] }
    return total
}
