/// Mean absolute error (PyTorch `F.l1_loss`): terms |a − b|, reduced by `reduction`.
///
/// Shapes: `prediction` and `target` equal, any. Saved for backward: the difference a − b;
/// ∂a += sign(a − b)·G/divisor (sign(0) = 0, as PyTorch), ∂b gets the negative.
public func l1Loss(_ prediction: Variable, _ target: Variable, reduction: Reduction = .mean) -> Variable {
    enginePrecondition(prediction.shape == target.shape,
                       "l1Loss: prediction \(prediction.shape) and target \(target.shape) must have the same shape")
    let difference = Tensor.zipMap(prediction.value, target.value) { $0 - $1 }
    let out = reduceTerms(difference.map { abs($0) }, reduction)
    return Variable.result(out, op: "l1Loss", inputs: [prediction, target]) { g in
        let upstream = expandReducedGradient(g, shape: difference.shape, reduction)
        let d = Tensor.zipMap(upstream, difference) { gi, di in di > 0 ? gi : (di < 0 ? -gi : 0) }
        if prediction.requiresGrad { prediction.accumulateGrad(d) }
        if target.requiresGrad { target.accumulateGrad(-d) }
    }
}
