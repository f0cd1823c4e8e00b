#if canImport(Glibc)
import Glibc
#endif

/// Natural logarithm elementwise; any shape (−inf at 0, NaN below, as PyTorch).
/// Saved for backward: the input x (∂x += G / x).
public func log(_ x: Variable) -> Variable {
    let xv = x.value
    let y = xv.map { logf($0) }
    return Variable.result(y, op: "log", inputs: [x]) { g in
        x.accumulateGrad(Tensor.zipMap(g, xv) { $0 / $1 })
    }
}
