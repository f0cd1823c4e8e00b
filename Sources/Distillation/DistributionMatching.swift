import Autograd
import Tensor

/// Distribution matching by moments (our reading of EvDistill's structural-similarity
/// adaptation, method.md §3/§6): per channel, the mean and standard deviation over N·H·W of
/// student and teacher features; L = mean_c (μ_S − μ_T)² + mean_c (σ_S − σ_T)². The teacher is
/// constant; channel counts must agree (compare layers of the same width).
public func momentMatching(student: Variable, teacher: Variable, eps: Float = 1e-5) -> Variable {
    precondition(student.shape[1] == teacher.shape[1], "momentMatching: channels differ (\(student.shape) vs \(teacher.shape))")
    func moments(_ features: Variable) -> (Variable, Variable) {
        let rows = nodeRows(features)
        let mu = mean(rows, axes: [0])
        let centred = rows - reshape(mu, [1, mu.shape[0]])
        return (mu, sqrt(mean(centred * centred, axes: [0]) + eps))
    }
    let (muS, sigmaS) = moments(student)
    let (muT, sigmaT) = withNoGrad { moments(Variable(teacher.value)) }
    return mseLoss(muS, Variable(muT.value)) + mseLoss(sigmaS, Variable(sigmaT.value))
}
