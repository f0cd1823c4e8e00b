import Autograd
import Tensor

/// Affinity-graph distillation (EvDistill): nodes are the positions of a feature map pooled to
/// at most `nodes` (default 16×16); edges a_ij = cos(f_i, f_j). Per sample,
/// L = (1/(hw)²) Σ_ij (a^S_ij − a^T_ij)², averaged over the batch.
///
/// Student and teacher may have different channel counts (only the graphs are compared) but
/// must pool to the same node grid. The teacher is constant.
public func affinityKD(student: Variable, teacher: Variable, nodes: (height: Int, width: Int) = (16, 16)) -> Variable {
    precondition(student.shape[0] == teacher.shape[0], "affinityKD: batch sizes differ (\(student.shape) vs \(teacher.shape))")
    let studentNodes = pooledNodes(student, height: nodes.height, width: nodes.width)
    let teacherNodes = withNoGrad { pooledNodes(Variable(teacher.value), height: nodes.height, width: nodes.width) }
    precondition(Array(studentNodes.shape[2...]) == Array(teacherNodes.shape[2...]),
                 "affinityKD: node grids differ: student \(studentNodes.shape), teacher \(teacherNodes.shape)")
    let batch = student.shape[0]
    var total: Variable?
    for sample in 0..<batch {
        let s = affinityMatrix(slice(studentNodes, axis: 0, sample..<(sample + 1)))
        let t = withNoGrad { affinityMatrix(slice(Variable(teacherNodes.value), axis: 0, sample..<(sample + 1))) }
        let term = mseLoss(s, Variable(t.value), reduction: .mean)  // mean over (hw)² edges
        total = total.map { $0 + term } ?? term
    }
    return total! / Float(batch)
}

/// Cosine-similarity matrix `[hw, hw]` of one sample's nodes `[1, C, h, w]`.
func affinityMatrix(_ nodes: Variable) -> Variable {
    let rows = l2Normalize(nodeRows(nodes), axis: 1, eps: 1e-8)  // [hw, C], unit rows
    return matmul(rows, rows, transposeB: true)
}
