/// Square root elementwise; any shape.
/// Saved for backward: the output y (∂x += G / (2y); infinite at 0, as PyTorch).
public func sqrt(_ x: Variable) -> Variable {
    let y = x.value.map { $0.squareRoot() }
    return Variable.result(y, op: "sqrt", inputs: [x]) { g in
        x.accumulateGrad(Tensor.zipMap(g, y) { gi, yi in gi / (2 * yi) })
    }
}
