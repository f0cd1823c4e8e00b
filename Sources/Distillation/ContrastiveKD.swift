import Autograd
import NN
import Tensor

/// A projection head (CMCD): 1×1 conv → ReLU → 1×1 conv to `dimension` channels, applied to
/// pooled node vectors before the contrastive loss.
public final class ProjectionHead: Module {
    public let first: Conv2d
    public let second: Conv2d
    public var isTraining = true

    public init(inputChannels: Int, hidden: Int = 128, dimension: Int = 128, using generator: inout SeededGenerator) {
        first = Conv2d(inputChannels, hidden, kernelSize: 1, bias: true, using: &generator)
        second = Conv2d(hidden, dimension, kernelSize: 1, bias: true, using: &generator)
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [] }
    public var children: [(name: String, module: any Module)] { [("0", first), ("2", second)] }

    public func callAsFunction(_ x: Variable) -> Variable { second(relu(first(x))) }
}

/// InfoNCE between two sets of embeddings whose rows correspond: `queries` [M, D] and `keys`
/// [M, D] (both L2-normalised inside); row i of each is the positive pair, every other row of
/// the other set a negative. L = CE(q·kᵀ/τ, diagonal), averaged over rows; `symmetric` adds
/// the keys→queries direction and halves.
public func infoNCE(queries: Variable, keys: Variable, temperature: Float = 0.07, symmetric: Bool = true) -> Variable {
    precondition(queries.shape == keys.shape && queries.rank == 2, "infoNCE: need equal [M, D] inputs, got \(queries.shape) and \(keys.shape)")
    let q = l2Normalize(queries, axis: 1, eps: 1e-8), k = l2Normalize(keys, axis: 1, eps: 1e-8)
    let logits = matmul(q, k, transposeB: true) / temperature
    let targets = Array(0..<queries.shape[0])
    let forward = crossEntropy(logits, targets: targets)
    guard symmetric else { return forward }
    let backward = crossEntropy(matmul(k, q, transposeB: true) / temperature, targets: targets)
    return (forward + backward) * 0.5
}

/// Contrastive cross-modal distillation (CMCD, our reading): student and teacher features are
/// pooled to `nodes`, projected by their heads, and every (sample, node) of the student is pulled
/// to the same (sample, node) of the teacher and pushed from all others in the batch (InfoNCE,
/// τ = 0.07, symmetric). The teacher's backbone is constant; its head trains.
public func contrastiveKD(student: Variable, teacher: Variable, studentHead: ProjectionHead, teacherHead: ProjectionHead,
                          nodes: (height: Int, width: Int) = (4, 4), temperature: Float = 0.07) -> Variable {
    let s = studentHead(pooledNodes(student, height: nodes.height, width: nodes.width))
    let t = teacherHead(withNoGrad { pooledNodes(Variable(teacher.value), height: nodes.height, width: nodes.width) }.detachedLeaf)
    precondition(s.shape == t.shape, "contrastiveKD: projected nodes differ: \(s.shape) vs \(t.shape)")
    return infoNCE(queries: nodeRows(s), keys: nodeRows(t), temperature: temperature)
}

extension Variable {
    /// The same value as a new leaf without gradient: where a graph must stop.
    var detachedLeaf: Variable { Variable(value) }
}
