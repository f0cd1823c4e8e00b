import Autograd
import Tensor

/// Node vectors of a feature map: average-pooled to at most `height × width` positions, as
/// `[N, C, h, w]` → per sample `[C, h·w]` columns. Graph-based losses compare these nodes.
func pooledNodes(_ features: Variable, height: Int, width: Int) -> Variable {
    precondition(features.rank == 4, "features must be [N, C, H, W], got \(features.shape)")
    let h = min(height, features.shape[2]), w = min(width, features.shape[3])
    return features.shape[2] == h && features.shape[3] == w ? features : adaptiveAvgPool2d(features, outputHeight: h, outputWidth: w)
}

/// `[N, C, h, w]` → `[N·h·w, C]`: one row per node.
func nodeRows(_ nodes: Variable) -> Variable {
    let (n, c, h, w) = (nodes.shape[0], nodes.shape[1], nodes.shape[2], nodes.shape[3])
    return reshape(permute(nodes, [0, 2, 3, 1]), [n * h * w, c])
}
