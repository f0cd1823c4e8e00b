import Autograd
import Tensor

/// Prediction distillation (Hinton et al. 2015), per pixel:
/// L = T² · mean over N·H·W of KL(softmax(z_T/T) ‖ softmax(z_S/T)).
///
/// `student`, `teacher`: logits [N, K, H, W] (or [N, K]). The teacher is treated as a constant:
/// no gradient reaches it. T² keeps the gradient scale independent of T (Hinton's argument).
public func predictionKD(student: Variable, teacher: Variable, temperature: Float = 2) -> Variable {
    precondition(student.shape == teacher.shape, "predictionKD: student \(student.shape) and teacher \(teacher.shape) logits differ")
    precondition(temperature > 0, "predictionKD: temperature must be positive")
    let target = withNoGrad { softmax(Variable(teacher.value) / temperature, axis: 1) }
    let logStudent = logSoftmax(student / temperature, axis: 1)
    let positions = student.value.count / student.shape[1]
    // kl_div(input = log q, target = p, sum) = Σ p (log p − log q); ÷ positions = per-pixel mean.
    return klDivergence(logStudent, target: Variable(target.value), reduction: .sum) * (temperature * temperature / Float(positions))
}
