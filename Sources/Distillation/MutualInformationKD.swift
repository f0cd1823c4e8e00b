import Autograd
import NN
import Tensor

/// A small discriminator on (student, teacher) embedding pairs: Linear → ReLU → Linear to two
/// logits (mismatched, matched).
public final class PairDiscriminator: Module {
    public let hidden: Linear
    public let output: Linear
    public var isTraining = true

    public init(embedding: Int = 128, width: Int = 64, using generator: inout SeededGenerator) {
        hidden = Linear(2 * embedding, width, using: &generator)
        output = Linear(width, 2, using: &generator)
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [] }
    public var children: [(name: String, module: any Module)] { [("hidden", hidden), ("output", output)] }

    /// `student`, `teacher`: [M, D] → logits [M, 2].
    public func callAsFunction(_ student: Variable, _ teacher: Variable) -> Variable {
        output(relu(hidden(concat([student, teacher], axis: 1))))
    }
}

/// Mutual-information distillation with an auxiliary modality (Chen et al. 2023, our reading of
/// method.md §3): L = −I(T;S) − λ·I(T;A) + β·H(T|S).
///
/// Both MI terms use the InfoNCE bound (so −I is the InfoNCE loss) on projected node
/// embeddings; A is the auxiliary modality's features (e.g. the teacher's encoder on the E2I
/// reconstruction). H(T|S) is estimated adversarially: a discriminator learns to tell matched
/// (s_i, t_i) pairs from shuffled (s_i, t_{i+1}) ones (`discriminatorLoss`, on constant
/// embeddings), and the student is trained so that its true pairs are recognised
/// (`studentLoss` includes β·CE(D(s_i, t_i), matched) through the student only), i.e. so the
/// teacher's embedding becomes predictable from the student's.
public struct MutualInformationKD {
    public let studentLoss: Variable
    public let discriminatorLoss: Variable

    public init(student: Variable, teacher: Variable, auxiliary: Variable?,
                studentHead: ProjectionHead, teacherHead: ProjectionHead, auxiliaryHead: ProjectionHead?,
                discriminator: PairDiscriminator, lambda: Float = 0.5, beta: Float = 0.1,
                nodes: (height: Int, width: Int) = (4, 4), temperature: Float = 0.07) {
        let s = nodeRows(studentHead(pooledNodes(student, height: nodes.height, width: nodes.width)))
        let t = nodeRows(teacherHead(pooledNodes(teacher.detachedLeaf, height: nodes.height, width: nodes.width)))
        var loss = infoNCE(queries: s, keys: t, temperature: temperature)
        if let auxiliary, let auxiliaryHead {
            let a = nodeRows(auxiliaryHead(pooledNodes(auxiliary, height: nodes.height, width: nodes.width)))
            loss = loss + infoNCE(queries: a, keys: t.detachedLeaf, temperature: temperature) * lambda
        }
        let m = s.shape[0]
        let shuffled = (0..<m).map { ($0 + 1) % m }  // a derangement: every pair mismatched
        let tConstant = t.detachedLeaf
        let teacherRows = t.value.scalars  // a copy: read once, not once per row
        let tShuffled = Variable(Tensor(shape: t.shape, scalars: shuffled.flatMap { row in
            teacherRows[(row * t.shape[1])..<((row + 1) * t.shape[1])]
        }))
        // The student's adversarial term: the discriminator's parameters receive gradient here
        // too, so the caller zeroes the discriminator's gradients before its own step.
        loss = loss + crossEntropy(discriminator(s, tConstant), targets: Array(repeating: 1, count: m)) * beta
        studentLoss = loss
        let sConstant = s.detachedLeaf
        let matched = crossEntropy(discriminator(sConstant, tConstant), targets: Array(repeating: 1, count: m))
        let mismatched = crossEntropy(discriminator(sConstant, tShuffled), targets: Array(repeating: 0, count: m))
        discriminatorLoss = (matched + mismatched) * 0.5
    }
}
