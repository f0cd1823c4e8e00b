/// Rectified linear unit, `max(x, 0)`, elementwise; any shape.
/// Saved for backward: the output y (∂x += G where y > 0; the gradient at 0 is 0, as PyTorch).
public func relu(_ x: Variable) -> Variable {
    let y = x.value.map { $0 > 0 ? $0 : 0 }
    return Variable.result(y, op: "relu", inputs: [x]) { g in
        x.accumulateGrad(Tensor.zipMap(g, y) { gi, yi in yi > 0 ? gi : 0 })
    }
}
