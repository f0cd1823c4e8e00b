import ParallelLoops

/// Below this many elements an elementwise kernel runs on the calling thread: waking other
/// cores costs more than it saves.
public let parallelElementThreshold = 1 << 15

/// Runs `body` over `0..<count` split into contiguous ranges on all cores (one range when
/// `count` is small). Each index is visited exactly once, so results do not depend on the
/// thread count.
@inlinable
public func parallelChunks(_ count: Int, _ body: (Range<Int>) -> Void) {
    if count < 2 * parallelElementThreshold {
        body(0..<count)
    } else {
        parallelRanges(count, minimumPart: parallelElementThreshold) { _, range in body(range) }
    }
}

/// The binary operations with a broadcasting kernel.
public enum BinaryOperation: Sendable {
    case add, subtract, multiply, divide, maximum, minimum
}

extension Tensor {
    /// `f` applied to every element (parallel for large tensors).
    @inlinable
    public func map(_ f: (Float) -> Float) -> Tensor {
        Tensor(shape: shape) { out in
            self.withUnsafeBufferPointer { src in
                parallelChunks(src.count) { range in
                    for i in range { out[i] = f(src[i]) }
                }
            }
        }
    }

    /// `f` applied elementwise to two tensors of the same shape.
    @inlinable
    public static func zipMap(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        enginePrecondition(a.shape == b.shape, "zipMap: shapes \(a.shape) and \(b.shape) differ")
        return Tensor(shape: a.shape) { out in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    parallelChunks(pa.count) { range in
                        for i in range { out[i] = f(pa[i], pb[i]) }
                    }
                }
            }
        }
    }

    /// `f` applied elementwise to three tensors of the same shape.
    @inlinable
    public static func zipMap(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        enginePrecondition(a.shape == b.shape && a.shape == c.shape,
                           "zipMap: shapes \(a.shape), \(b.shape) and \(c.shape) differ")
        return Tensor(shape: a.shape) { out in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeBufferPointer { pc in
                        parallelChunks(pa.count) { range in
                            for i in range { out[i] = f(pa[i], pb[i], pc[i]) }
                        }
                    }
                }
            }
        }
    }

    /// `self[i] = f(self[i], other[i])` in place; shapes must match.
    @inlinable
    public mutating func updateElementwise(with other: Tensor, _ f: (Float, Float) -> Float) {
        enginePrecondition(shape == other.shape, "updateElementwise: shapes \(shape) and \(other.shape) differ")
        other.withUnsafeBufferPointer { po in
            self.withUnsafeMutableBufferPointer { ps in
                parallelChunks(ps.count) { range in
                    for i in range { ps[i] = f(ps[i], po[i]) }
                }
            }
        }
    }

    /// `a op b` with NumPy/PyTorch broadcasting.
    public static func broadcast(_ a: Tensor, _ b: Tensor, _ operation: BinaryOperation) -> Tensor {
        switch operation {
        case .add: return broadcastKernel(a, b, "add") { $0 + $1 }
        case .subtract: return broadcastKernel(a, b, "subtract") { $0 - $1 }
        case .multiply: return broadcastKernel(a, b, "multiply") { $0 * $1 }
        case .divide: return broadcastKernel(a, b, "divide") { $0 / $1 }
        case .maximum: return broadcastKernel(a, b, "maximum") { Swift.max($0, $1) }
        case .minimum: return broadcastKernel(a, b, "minimum") { Swift.min($0, $1) }
        }
    }

    @inline(__always)
    static func broadcastKernel(_ a: Tensor, _ b: Tensor, _ name: String, _ f: (Float, Float) -> Float) -> Tensor {
        if a.shape == b.shape { return zipMap(a, b, f) }
        let outShape = shapeCheck { () throws(ShapeError) in try broadcastShape(a.shape, b.shape, op: name) }
        let layout = StridedLayout(
            shape: outShape,
            operandStrides: [broadcastStrides(a.shape, to: outShape), broadcastStrides(b.shape, to: outShape)])
        let inner = layout.innerCount
        let sa = layout.innerStride(0), sb = layout.innerStride(1)
        return Tensor(shape: outShape) { out in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    let rows = layout.rowCount
                    let minimumRows = Swift.max(1, parallelElementThreshold / Swift.max(inner, 1))
                    func run(_ range: Range<Int>) {
                        for row in range {
                            let oa = layout.offset(0, row: row), ob = layout.offset(1, row: row)
                            let dst = row * inner
                            for j in 0..<inner { out[dst + j] = f(pa[oa + j * sa], pb[ob + j * sb]) }
                        }
                    }
                    if rows < 2 * minimumRows {
                        run(0..<rows)
                    } else {
                        parallelRanges(rows, minimumPart: minimumRows) { _, range in run(range) }
                    }
                }
            }
        }
    }

    /// `self += other` elementwise (same shape). The accumulation primitive of backward passes.
    public static func += (lhs: inout Tensor, rhs: Tensor) {
        lhs.updateElementwise(with: rhs) { $0 + $1 }
    }

    /// `self += alpha · other` elementwise (same shape).
    public mutating func addScaled(_ other: Tensor, by alpha: Float) {
        updateElementwise(with: other) { $0 + alpha * $1 }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcast(a, b, .add) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcast(a, b, .subtract) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcast(a, b, .multiply) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcast(a, b, .divide) }
    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    public static func - (a: Tensor, s: Float) -> Tensor { a.map { $0 - s } }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    public static func * (s: Float, a: Tensor) -> Tensor { a.map { s * $0 } }
    public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }
}
