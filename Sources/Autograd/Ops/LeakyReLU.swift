/// Leaky ReLU, `x > 0 ? x : slope·x`, elementwise; any shape (PyTorch default slope 0.01).
/// Saved for backward: the input x (∂x += G·(x > 0 ? 1 : slope)).
public func leakyRelu(_ x: Variable, negativeSlope: Float = 0.01) -> Variable {
    let xv = x.value
    let y = xv.map { $0 > 0 ? $0 : negativeSlope * $0 }
    return Variable.result(y, op: "leakyRelu", inputs: [x]) { g in
        x.accumulateGrad(Tensor.zipMap(g, xv) { gi, xi in xi > 0 ? gi : negativeSlope * gi })
    }
}
