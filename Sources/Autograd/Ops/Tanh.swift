#if canImport(Glibc)
import Glibc
#endif

/// Hyperbolic tangent, elementwise; any shape.
/// Saved for backward: the output y (∂x += G·(1 − y²)).
public func tanh(_ x: Variable) -> Variable {
    let y = x.value.map { tanhf($0) }
    return Variable.result(y, op: "tanh", inputs: [x]) { g in
        x.accumulateGrad(Tensor.zipMap(g, y) { gi, yi in gi * (1 - yi * yi) })
    }
}
