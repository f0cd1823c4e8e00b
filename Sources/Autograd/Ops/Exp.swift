#if canImport(Glibc)
import Glibc
#endif

/// e^x elementwise; any shape. Saved for backward: the output y (∂x += G·y).
public func exp(_ x: Variable) -> Variable {
    let y = x.value.map { expf($0) }
    return Variable.result(y, op: "exp", inputs: [x]) { g in
        x.accumulateGrad(Tensor.zipMap(g, y) { $0 * $1 })
    }
}
