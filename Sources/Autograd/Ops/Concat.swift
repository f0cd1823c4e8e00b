/// Joins variables along `axis` (default 1, the channels of NCHW; PyTorch `torch.cat`).
///
/// Shapes: all inputs agree except on `axis`; the output's extent there is the sum.
/// Saved for backward: the extents along `axis`; each input gets its slice of G.
public func concat(_ xs: [Variable], axis: Int = 1) -> Variable {
    enginePrecondition(!xs.isEmpty, "concat: needs at least one variable")
    let a = shapeCheck { () throws(ShapeError) in try normalizedAxis(axis, rank: xs[0].rank, op: "concat") }
    let out = Tensor.concatenated(xs.map(\.value), along: a)
    let extents = xs.map { $0.shape[a] }
    return Variable.result(out, op: "concat", inputs: xs) { g in
        var start = 0
        for (x, extent) in zip(xs, extents) {
            if x.requiresGrad { x.accumulateGrad(g.sliced(along: a, start..<(start + extent))) }
            start += extent
        }
    }
}
