extension Tensor {
    /// Sum of all elements, accumulated in Double (so large tensors lose no precision).
    public func sum() -> Float {
        withUnsafeBufferPointer { p in
            var total = 0.0
            for v in p { total += Double(v) }
            return Float(total)
        }
    }

    /// Mean of all elements (NaN for an empty tensor, as PyTorch).
    public func mean() -> Float { Float(Double(sum()) / Double(count)) }

    /// Sums away the axes along which `shape` was broadcast to produce `self`: the adjoint of
    /// broadcasting, used by every broadcasting op's backward. `shape` must broadcast to
    /// `self.shape`. Accumulates in Double.
    public func sum(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        let broadcastTo = shapeCheck { () throws(ShapeError) in try broadcastShape(target, shape, op: "sum(toShape:)") }
        enginePrecondition(broadcastTo == shape, "sum(toShape:): \(target) does not broadcast to \(shape)")
        let layout = StridedLayout(
            shape: shape, operandStrides: [contiguousStrides(shape), broadcastStrides(target, to: shape)])
        let inner = layout.innerCount
        let targetInner = layout.innerStride(1)
        var totals = [Double](repeating: 0, count: shapeCount(target))
        withUnsafeBufferPointer { src in
            totals.withUnsafeMutableBufferPointer { dst in
                for row in 0..<layout.rowCount {
                    let source = row * inner
                    let destination = layout.offset(1, row: row)
                    if targetInner == 0 {
                        var s = 0.0
                        for j in 0..<inner { s += Double(src[source + j]) }
                        dst[destination] += s
                    } else {
                        for j in 0..<inner { dst[destination + j] += Double(src[source + j]) }
                    }
                }
            }
        }
        return Tensor(shape: target, scalars: totals.map { Float($0) })
    }

    /// Sum over `axes` (negative counts from the end), keeping them as extent 1 when
    /// `keepingDimensions`, else removing them.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let normalized = Set(axes.map { a in shapeCheck { () throws(ShapeError) in try normalizedAxis(a, rank: rank, op: "sum") } })
        let kept = shape.indices.map { normalized.contains($0) ? 1 : shape[$0] }
        let summed = sum(toShape: kept)
        return keepingDimensions ? summed : summed.reshaped(shape.indices.filter { !normalized.contains($0) }.map { shape[$0] })
    }

    /// Largest absolute elementwise difference to `other` (same shape); for tests and checks.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        enginePrecondition(shape == other.shape, "maxAbsDifference: shapes \(shape) and \(other.shape) differ")
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                var worst: Float = 0
                for i in 0..<a.count { worst = Swift.max(worst, abs(a[i] - b[i])) }
                return worst
            }
        }
    }
}
