/// Mean squared error (PyTorch `F.mse_loss`): terms (a − b)², reduced by `reduction`.
///
/// Shapes: `prediction` and `target` equal, any. Saved for backward: the difference a − b;
/// ∂a += 2(a − b)·G/divisor, ∂b gets the negative.
public func mseLoss(_ prediction: Variable, _ target: Variable, reduction: Reduction = .mean) -> Variable {
    enginePrecondition(prediction.shape == target.shape,
                       "mseLoss: prediction \(prediction.shape) and target \(target.shape) must have the same shape")
    let difference = Tensor.zipMap(prediction.value, target.value) { $0 - $1 }
    let out = reduceTerms(difference.map { $0 * $0 }, reduction)
    return Variable.result(out, op: "mseLoss", inputs: [prediction, target]) { g in
        let upstream = expandReducedGradient(g, shape: difference.shape, reduction)
        let d = Tensor.zipMap(upstream, difference) { gi, di in 2 * di * gi }
        if prediction.requiresGrad { prediction.accumulateGrad(d) }
        if target.requiresGrad { target.accumulateGrad(-d) }
    }
}
