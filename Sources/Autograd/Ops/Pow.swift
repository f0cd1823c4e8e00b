#if canImport(Glibc)
import Glibc
#endif

/// x^p elementwise for a constant exponent p; any shape (NaN for negative x and
/// non-integer p, as PyTorch). Saved for backward: the input x (∂x += G·p·x^(p−1)).
public func pow(_ x: Variable, _ exponent: Float) -> Variable {
    let xv = x.value
    let y: Tensor
    switch exponent {
    case 2: y = xv.map { $0 * $0 }  // exact, and the common case (squared errors, norms)
    case 1: y = xv
    default: y = xv.map { powf($0, exponent) }
    }
    return Variable.result(y, op: "pow", inputs: [x]) { g in
        let d: Tensor
        switch exponent {
        case 2: d = Tensor.zipMap(g, xv) { gi, xi in gi * 2 * xi }
        case 1: d = g
        case 0: d = Tensor.zeros(xv.shape)
        default: d = Tensor.zipMap(g, xv) { gi, xi in gi * exponent * powf(xi, exponent - 1) }
        }
        x.accumulateGrad(d)
    }
}
