/// The sub-range `range` of `x` along `axis` (default 1, channels; PyTorch `x[:, a:b]`), copied.
///
/// Shapes: as `x` with extent `range.count` on `axis`.
/// Saved for backward: the range; G is added into that block of ∂x.
public func slice(_ x: Variable, axis: Int = 1, _ range: Range<Int>) -> Variable {
    let a = shapeCheck { () throws(ShapeError) in try normalizedAxis(axis, rank: x.rank, op: "slice") }
    let out = x.value.sliced(along: a, range)
    let (outer, extent, inner) = x.value.blockSizes(around: a)
    return Variable.result(out, op: "slice", inputs: [x]) { g in
        let block = range.count * inner
        g.withUnsafeBufferPointer { pg in
            x.withGradBuffer { gx in
                for o in 0..<outer {
                    let dst = (o * extent + range.lowerBound) * inner
                    for i in 0..<block { gx[dst + i] += pg[o * block + i] }
                }
            }
        }
    }
}
