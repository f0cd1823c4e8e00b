/// Sum over `axes` (all axes when `nil`; negative axes count from the end), dropping them
/// unless `keepDims` (PyTorch `sum(dim, keepdim)`); summing all axes gives a rank-0 result.
/// Accumulates in Double. Saved for backward: the input shape; ∂x += G broadcast back over
/// the summed axes.
public func sum(_ x: Variable, axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
    let (out, kept) = reduceSum(x.value, axes: axes, keepDims: keepDims)
    let inputShape = x.shape
    return Variable.result(out, op: "sum", inputs: [x]) { g in
        x.accumulateGrad(g.reshaped(kept).broadcasted(to: inputShape))
    }
}

/// Mean over `axes` (all when `nil`), as `sum` divided by the number of summed elements.
/// Saved for backward: the input shape; ∂x += G/count broadcast back.
public func mean(_ x: Variable, axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
    let (total, kept) = reduceSum(x.value, axes: axes, keepDims: keepDims)
    let countPerOutput = Float(x.value.count) / Float(max(shapeCount(kept), 1))
    let out = total / countPerOutput
    let inputShape = x.shape
    return Variable.result(out, op: "mean", inputs: [x]) { g in
        x.accumulateGrad((g / countPerOutput).reshaped(kept).broadcasted(to: inputShape))
    }
}

/// The sum and the keep-dims shape of the result.
private func reduceSum(_ x: Tensor, axes: [Int]?, keepDims: Bool) -> (Tensor, [Int]) {
    let normalized = Set((axes ?? Array(0..<x.rank)).map { a in
        shapeCheck { () throws(ShapeError) in try normalizedAxis(a, rank: x.rank, op: "sum") }
    })
    let kept = x.shape.indices.map { normalized.contains($0) ? 1 : x.shape[$0] }
    let summed = x.sum(toShape: kept)
    let dropped = x.shape.indices.filter { !normalized.contains($0) }.map { x.shape[$0] }
    return (keepDims ? summed : summed.reshaped(dropped), kept)
}
