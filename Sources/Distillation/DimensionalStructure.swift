import Autograd
import Tensor

/// DSKD channel-wise decorrelation (Si et al. 2023, our reading): standardise each channel of
/// `features` [N, C, H, W] over the batch and pixels (M = N·H·W rows), R = ZᵀZ / M, and penalise
/// the off-diagonal correlations: L = Σ_{i≠j} R_ij² / (C(C − 1)).
public func channelDecorrelation(_ features: Variable, eps: Float = 1e-5) -> Variable {
    let c = features.shape[1]
    precondition(c > 1, "channelDecorrelation needs at least two channels")
    let rows = nodeRows(features)                                 // [M, C]
    let m = rows.shape[0]
    let centred = rows - mean(rows, axes: [0], keepDims: true)
    let variance = mean(centred * centred, axes: [0], keepDims: true)
    let z = centred / sqrt(variance + eps)
    let correlation = matmul(z, z, transposeA: true) / Float(m)  // [C, C]
    let offDiagonal = Variable(Tensor(shape: [c, c], scalars: (0..<(c * c)).map { $0 % (c + 1) == 0 ? 0 : 1 }))
    let masked = correlation * offDiagonal
    return sum(masked * masked) / Float(c * (c - 1))
}

/// Uniformity of intermediate features (Wang & Isola 2020, t = 2): node vectors of `features`
/// pooled to at most `nodes`, normalised to unit length; L = log mean_{i≠j} exp(−2‖u_i − u_j‖²).
/// Lower is more uniform on the sphere; for unit vectors ‖u_i − u_j‖² = 2 − 2 u_i·u_j.
public func uniformity(_ features: Variable, nodes: (height: Int, width: Int) = (8, 8)) -> Variable {
    let u = l2Normalize(nodeRows(pooledNodes(features, height: nodes.height, width: nodes.width)), axis: 1, eps: 1e-8)
    let count = u.shape[0]
    precondition(count > 1, "uniformity needs at least two nodes")
    let gram = matmul(u, u, transposeB: true)                     // [M, M]
    let kernel = exp((gram - 1) * 4)                               // exp(−2 (2 − 2 g))
    // The diagonal is exp(0) = 1 for each node: remove it from the mean.
    return log((sum(kernel) - Float(count)) / Float(count * (count - 1)))
}
