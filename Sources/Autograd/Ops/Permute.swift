/// Reorders axes: output axis i is input axis `permutation[i]` (PyTorch `permute`), copied
/// into contiguous memory. Saved for backward: the permutation; ∂x += G permuted back by the
/// inverse permutation.
public func permute(_ x: Variable, _ permutation: [Int]) -> Variable {
    let out = x.value.permuted(permutation)
    var inverse = [Int](repeating: 0, count: permutation.count)
    for (i, p) in permutation.enumerated() { inverse[p] = i }
    return Variable.result(out, op: "permute", inputs: [x]) { g in
        x.accumulateGrad(g.permuted(inverse))
    }
}
