#if canImport(Glibc)
import Glibc
#endif

/// Logistic sigmoid, `1 / (1 + e^(−x))`, elementwise; any shape.
/// Computed as `e^x / (1 + e^x)` for x < 0 so large negative inputs do not overflow e^(−x).
/// Saved for backward: the output y (∂x += G·y·(1 − y)).
public func sigmoid(_ x: Variable) -> Variable {
    let y = x.value.map { v -> Float in
        if v >= 0 { return 1 / (1 + expf(-v)) }
        let e = expf(v)
        return e / (1 + e)
    }
    return Variable.result(y, op: "sigmoid", inputs: [x]) { g in
        x.accumulateGrad(Tensor.zipMap(g, y) { gi, yi in gi * yi * (1 - yi) })
    }
}
