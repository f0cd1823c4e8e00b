/// Broadcasting elementwise arithmetic: `+ − × ÷` between variables, and with scalars.
///
/// Shapes follow NumPy/PyTorch broadcasting; the output has the broadcast shape.
/// Backward sums each input's gradient back over the axes it was broadcast along
/// (`Tensor.sum(toShape:)`). Saved for backward: nothing for `+`/`−`; both inputs for `×`;
/// the divisor and the quotient for `÷`.

public func + (lhs: Variable, rhs: Variable) -> Variable {
    let out = Tensor.broadcast(lhs.value, rhs.value, .add)
    return Variable.result(out, op: "add", inputs: [lhs, rhs]) { g in
        if lhs.requiresGrad { lhs.accumulateGrad(g.sum(toShape: lhs.shape)) }
        if rhs.requiresGrad { rhs.accumulateGrad(g.sum(toShape: rhs.shape)) }
    }
}

public func - (lhs: Variable, rhs: Variable) -> Variable {
    let out = Tensor.broadcast(lhs.value, rhs.value, .subtract)
    return Variable.result(out, op: "subtract", inputs: [lhs, rhs]) { g in
        if lhs.requiresGrad { lhs.accumulateGrad(g.sum(toShape: lhs.shape)) }
        if rhs.requiresGrad { rhs.accumulateGrad((-g).sum(toShape: rhs.shape)) }
    }
}

public func * (lhs: Variable, rhs: Variable) -> Variable {
    let a = lhs.value, b = rhs.value
    let out = Tensor.broadcast(a, b, .multiply)
    return Variable.result(out, op: "multiply", inputs: [lhs, rhs]) { g in
        // ∂(ab)/∂a = b, ∂(ab)/∂b = a
        if lhs.requiresGrad { lhs.accumulateGrad(Tensor.broadcast(g, b, .multiply).sum(toShape: a.shape)) }
        if rhs.requiresGrad { rhs.accumulateGrad(Tensor.broadcast(g, a, .multiply).sum(toShape: b.shape)) }
    }
}

public func / (lhs: Variable, rhs: Variable) -> Variable {
    let a = lhs.value, b = rhs.value
    let out = Tensor.broadcast(a, b, .divide)
    return Variable.result(out, op: "divide", inputs: [lhs, rhs]) { g in
        // ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b² = −(a/b)/b
        let gOverB = Tensor.broadcast(g, b, .divide)
        if lhs.requiresGrad { lhs.accumulateGrad(gOverB.sum(toShape: a.shape)) }
        if rhs.requiresGrad {
            rhs.accumulateGrad((-Tensor.broadcast(gOverB, out, .multiply)).sum(toShape: b.shape))
        }
    }
}

public prefix func - (x: Variable) -> Variable {
    Variable.result(-x.value, op: "negate", inputs: [x]) { g in x.accumulateGrad(-g) }
}

public func + (x: Variable, s: Float) -> Variable {
    Variable.result(x.value + s, op: "addScalar", inputs: [x]) { g in x.accumulateGrad(g) }
}

public func + (s: Float, x: Variable) -> Variable { x + s }

public func - (x: Variable, s: Float) -> Variable { x + (-s) }

public func - (s: Float, x: Variable) -> Variable {
    Variable.result(x.value.map { s - $0 }, op: "scalarSubtract", inputs: [x]) { g in x.accumulateGrad(-g) }
}

public func * (x: Variable, s: Float) -> Variable {
    Variable.result(x.value * s, op: "multiplyScalar", inputs: [x]) { g in x.accumulateGrad(g * s) }
}

public func * (s: Float, x: Variable) -> Variable { x * s }

public func / (x: Variable, s: Float) -> Variable { x * (1 / s) }
