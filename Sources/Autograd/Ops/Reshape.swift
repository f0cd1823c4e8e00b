/// The same elements with a new shape (row-major order kept; PyTorch `reshape`). One extent
/// may be −1 and is inferred. Saved for backward: the input shape; ∂x += G reshaped back.
public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
    let inferred = shape.filter { $0 == -1 }.count
    enginePrecondition(inferred <= 1, "reshape: at most one −1 in \(shape)")
    var target = shape
    if let i = shape.firstIndex(of: -1) {
        let known = shape.filter { $0 != -1 }.reduce(1, *)
        enginePrecondition(known > 0 && x.value.count % known == 0,
                           "reshape: cannot infer −1 in \(shape) for \(x.value.count) elements (shape \(x.shape))")
        target[i] = x.value.count / known
    }
    let inputShape = x.shape
    let out = x.value.reshaped(target)
    return Variable.result(out, op: "reshape", inputs: [x]) { g in
        x.accumulateGrad(g.reshaped(inputShape))
    }
}

/// Merges all axes after the first: [N, …] → [N, rest] (PyTorch `flatten(1)`).
public func flatten(_ x: Variable) -> Variable {
    reshape(x, [x.shape.first ?? 1, -1])
}
