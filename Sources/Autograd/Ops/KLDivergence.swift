#if canImport(Glibc)
import Glibc
#endif

/// Kullback–Leibler divergence with PyTorch `F.kl_div(input, target, reduction)` semantics
/// (`log_target=False`): `input` holds log-probabilities log q, `target` probabilities p, and
/// each term is p·(log p − log q), taken as 0 where p = 0.
///
/// Shapes: `input` and `target` equal, any; output rank 0, or the input shape for `.none`.
/// PyTorch's default reduction `.mean` averages over *all* elements; `.batchMean` (sum / N)
/// is the true KL per sample, which Hinton distillation uses.
/// Saved for backward: both values. ∂input += −p·G/divisor; ∂target += (log p + 1 − log q)·G/divisor
/// where p > 0 (PyTorch gives NaN at p = 0; we give 0).
public func klDivergence(_ input: Variable, target: Variable, reduction: Reduction = .mean) -> Variable {
    enginePrecondition(input.shape == target.shape,
                       "klDivergence: input \(input.shape) and target \(target.shape) must have the same shape")
    let q = input.value, p = target.value
    let terms = Tensor.zipMap(q, p) { logQ, pi in pi > 0 ? pi * (logf(pi) - logQ) : 0 }
    let out = reduceTerms(terms, reduction)
    return Variable.result(out, op: "klDivergence", inputs: [input, target]) { g in
        let upstream = expandReducedGradient(g, shape: q.shape, reduction)
        if input.requiresGrad {
            input.accumulateGrad(Tensor.zipMap(upstream, p) { gi, pi in -pi * gi })
        }
        if target.requiresGrad {
            target.accumulateGrad(Tensor.zipMap(upstream, p, q) { gi, pi, logQ in
                pi > 0 ? gi * (logf(pi) + 1 - logQ) : 0
            })
        }
    }
}
