#if canImport(Glibc)
import Glibc
#endif
import FastMath
import ParallelLoops

/// Cross-entropy of class logits against integer labels (PyTorch `F.cross_entropy` with
/// `ignore_index` and optional class `weight`).
///
/// Shapes: `logits` [N, C] or [N, C, d₁, …] (e.g. NCHW segmentation logits); `targets` holds
/// N·d₁·… labels in row-major (n, d₁, …) order, each in 0..<C or `ignoreIndex`.
/// With p = log_softmax(logits) over axis 1 and w = `classWeights` (all 1 when nil), per
/// position ℓ = −w[t]·p[t]; ignored positions contribute 0.
/// `.mean` (the default) divides by Σ w[t] over non-ignored positions — PyTorch's weighted
/// mean; like PyTorch it is NaN (0/0) when every position is ignored. `.sum` adds; `.none`
/// returns [N, d₁, …]; `.batchMean` divides the sum by N.
/// Saved for backward: log-probabilities p (as many floats as logits) and the labels;
/// ∂logits[c] += G·w[t]/divisor·(exp(p[c]) − [c = t]).
public func crossEntropy(
    _ logits: Variable, targets: [Int], classWeights: Tensor? = nil, ignoreIndex: Int = 255,
    reduction: Reduction = .mean
) -> Variable {
    enginePrecondition(logits.rank >= 2, "crossEntropy: logits must be [N, C, …], got \(logits.shape)")
    let n = logits.shape[0], c = logits.shape[1]
    let inner = logits.shape[2...].reduce(1, *)
    enginePrecondition(targets.count == n * inner,
                       "crossEntropy: \(targets.count) targets for logits \(logits.shape) (need \(n * inner))")
    if let classWeights {
        enginePrecondition(classWeights.shape == [c], "crossEntropy: class weights must be [\(c)], got \(classWeights.shape)")
    }
    for t in targets where t != ignoreIndex && (t < 0 || t >= c) {
        engineFailure("crossEntropy: label \(t) is outside 0..<\(c) and is not the ignore index \(ignoreIndex)")
    }
    let weights = classWeights?.scalars ?? [Float](repeating: 1, count: c)
    let logProbabilities = softmaxKernel(logits.value, axis: 1, logarithm: true)

    // Per-position weighted loss and the weight total, in Double.
    var perPosition = [Float](repeating: 0, count: n * inner)
    var weightTotal = 0.0, lossTotal = 0.0
    logProbabilities.withUnsafeBufferPointer { lp in
        for image in 0..<n {
            for i in 0..<inner {
                let t = targets[image * inner + i]
                guard t != ignoreIndex else { continue }
                let term = -weights[t] * lp[(image * c + t) * inner + i]
                perPosition[image * inner + i] = term
                weightTotal += Double(weights[t])
                lossTotal += Double(term)
            }
        }
    }
    let divisor: Float
    let out: Tensor
    switch reduction {
    case .none:
        divisor = 1
        out = Tensor(shape: [n] + Array(logits.shape[2...]), scalars: perPosition)
    case .sum: divisor = 1; out = Tensor(Float(lossTotal))
    case .mean: divisor = Float(weightTotal); out = Tensor(Float(lossTotal / weightTotal))
    case .batchMean: divisor = Float(n); out = Tensor(Float(lossTotal / Double(n)))
    }

    return Variable.result(out, op: "crossEntropy", inputs: [logits]) { g in
        logProbabilities.withUnsafeBufferPointer { lp in
            g.withUnsafeBufferPointer { pg in
                logits.withGradBuffer { gx in
                    parallelFor(n) { image in
                        // Per position: its label and G·w[t]/divisor (0 where ignored); then
                        // ∂logits[k] += scale·(e^p[k] − [k = t]) one class row at a time, with
                        // e^p through the vectorised exponential.
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * inner) { buffer in
                            let probability = buffer.baseAddress!, scale = probability + inner
                            withUnsafeTemporaryAllocation(of: Int32.self, capacity: inner) { labels in
                                for i in 0..<inner {
                                    let t = targets[image * inner + i]
                                    guard t != ignoreIndex else {
                                        (labels[i], scale[i]) = (-1, 0)
                                        continue
                                    }
                                    let upstream = reduction == .none ? pg[image * inner + i] : pg[0]
                                    (labels[i], scale[i]) = (Int32(t), upstream * weights[t] / divisor)
                                }
                                for k in 0..<c {
                                    let row = gx.baseAddress! + (image * c + k) * inner
                                    exponentials(lp.baseAddress! + (image * c + k) * inner, probability, count: inner)
                                    let label = Int32(k)
                                    for i in 0..<inner {
                                        row[i] += scale[i] * (probability[i] - (labels[i] == label ? 1 : 0))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
