import ParallelLoops

extension Tensor {
    /// Axes reordered: output axis `i` is input axis `permutation[i]` (PyTorch `permute`).
    /// Copies into a new contiguous tensor.
    public func permuted(_ permutation: [Int]) -> Tensor {
        enginePrecondition(permutation.count == rank && Set(permutation) == Set(0..<rank),
                           "permute: \(permutation) is not a permutation of the \(rank) axes of shape \(shape)")
        let inStrides = contiguousStrides(shape)
        return gathered(shape: permutation.map { shape[$0] }, sourceStrides: permutation.map { inStrides[$0] })
    }

    /// Splits `shape` around `axis` into (outer, extent, inner) element counts.
    public func blockSizes(around axis: Int) -> (outer: Int, extent: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concatenated(_ parts: [Tensor], along axis: Int) -> Tensor {
        enginePrecondition(!parts.isEmpty, "concat: needs at least one tensor")
        let first = parts[0]
        let a = shapeCheck { () throws(ShapeError) in try normalizedAxis(axis, rank: first.rank, op: "concat") }
        for part in parts {
            enginePrecondition(part.rank == first.rank
                               && part.shape.indices.allSatisfy { $0 == a || part.shape[$0] == first.shape[$0] },
                               "concat along axis \(a): shapes \(parts.map(\.shape)) differ off that axis")
        }
        var outShape = first.shape
        outShape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        let (outer, total, inner) = (first.blockSizes(around: a).outer, outShape[a], first.blockSizes(around: a).inner)
        let starts = parts.reduce(into: [0]) { $0.append($0[$0.count - 1] + $1.shape[a]) }
        return Tensor(shape: outShape) { out in
            guard let dst = out.baseAddress else { return }
            // One task per outer index (per image for NCHW channel concat): disjoint output blocks.
            forEachOuter(outer, elements: out.count) { o in
                for (p, part) in parts.enumerated() {
                    let block = part.shape[a] * inner
                    part.withUnsafeBufferPointer { src in
                        guard let src = src.baseAddress else { return }
                        (dst + o * total * inner + starts[p] * inner).update(from: src + o * block, count: block)
                    }
                }
            }
        }
    }

    /// The sub-tensor `range` along `axis` (a copy).
    public func sliced(along axis: Int, _ range: Range<Int>) -> Tensor {
        let a = shapeCheck { () throws(ShapeError) in try normalizedAxis(axis, rank: rank, op: "slice") }
        enginePrecondition(range.lowerBound >= 0 && range.upperBound <= shape[a],
                           "slice: range \(range) out of bounds 0..<\(shape[a]) on axis \(a) of shape \(shape)")
        var outShape = shape
        outShape[a] = range.count
        let (outer, extent, inner) = blockSizes(around: a)
        let block = range.count * inner
        return Tensor(shape: outShape) { out in
            self.withUnsafeBufferPointer { src in
                guard block > 0, let src = src.baseAddress, let dst = out.baseAddress else { return }
                forEachOuter(outer, elements: out.count) { o in
                    (dst + o * block).update(from: src + (o * extent + range.lowerBound) * inner, count: block)
                }
            }
        }
    }
}

/// Runs `body(o)` for o in 0..<outer, in parallel when the copy is large (`elements` in all).
private func forEachOuter(_ outer: Int, elements: Int, _ body: (Int) -> Void) {
    if outer > 1 && elements >= 2 * parallelElementThreshold {
        parallelFor(outer, body)
    } else {
        for o in 0..<outer { body(o) }
    }
}

extension Tensor {
    /// `self` repeated along broadcast axes to `target` (a copy; `self.shape` must broadcast
    /// to `target`). The adjoint of `sum(toShape:)`.
    public func broadcasted(to target: [Int]) -> Tensor {
        if target == shape { return self }
        let joint = shapeCheck { () throws(ShapeError) in try broadcastShape(shape, target, op: "broadcasted(to:)") }
        enginePrecondition(joint == target, "broadcasted(to:): \(shape) does not broadcast to \(target)")
        return gathered(shape: target, sourceStrides: broadcastStrides(shape, to: target))
    }

    /// A new contiguous tensor of `shape` whose element at multi-index i is
    /// `self.scalars[Σ i[a]·sourceStrides[a]]`: the one strided copy behind permute and
    /// broadcast (stride 0 repeats an axis). Parallel over output rows for large tensors.
    private func gathered(shape outShape: [Int], sourceStrides: [Int]) -> Tensor {
        let layout = StridedLayout(shape: outShape, operandStrides: [sourceStrides])
        let inner = layout.innerCount
        let stride = layout.innerStride(0)
        return Tensor(shape: outShape) { out in
            self.withUnsafeBufferPointer { src in
                let rows = layout.rowCount
                let minimumRows = Swift.max(1, parallelElementThreshold / Swift.max(inner, 1))
                func run(_ range: Range<Int>) {
                    for row in range {
                        let from = layout.offset(0, row: row)
                        let to = row * inner
                        for j in 0..<inner { out[to + j] = src[from + j * stride] }
                    }
                }
                if rows < 2 * minimumRows { run(0..<rows) } else {
                    parallelRanges(rows, minimumPart: minimumRows) { _, range in run(range) }
                }
            }
        }
    }
}
