/// A dense, row-major (C-contiguous) array of `Float` with a shape.
///
/// Design: a value type whose storage is a Swift `[Float]`, so a `Tensor` inherits Array's
/// copy-on-write: copying a tensor is O(1), and the first mutation of a shared copy copies the
/// buffer once. Kernels reach the memory through `withUnsafeBufferPointer` /
/// `withUnsafeMutableBufferPointer` (no per-element bounds checks or CoW checks in hot loops).
/// 4-D tensors are NCHW. A rank-0 tensor (`shape == []`) holds one scalar.
/// The engine has no strided views: every tensor is contiguous, and layout changes (permute,
/// slice, concat) copy.
public struct Tensor: Sendable, Equatable {
    /// Extent of each axis, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.product`.
    public private(set) var scalars: [Float]

    /// Wraps `scalars` (row-major) as a tensor of `shape`; the counts must agree.
    public init(shape: [Int], scalars: [Float]) {
        Tensor.checkValid(shape)
        enginePrecondition(scalars.count == shapeCount(shape),
                           "Tensor(shape:scalars:): shape \(shape) needs \(shapeCount(shape)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// Like `init(shape:scalars:)` but reports a count mismatch as a typed error (for data read
    /// from files, where a mismatch is not a programming error).
    public init(validatingShape shape: [Int], scalars: [Float]) throws(ShapeError) {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw .negativeExtent(shape: shape) }
        guard scalars.count == shapeCount(shape) else {
            throw .countMismatch(shape: shape, expected: shapeCount(shape), got: scalars.count)
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        Tensor.checkValid(shape)
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shapeCount(shape))
    }

    /// A rank-0 tensor holding `value`.
    public init(_ value: Float) {
        self.shape = []
        self.scalars = [value]
    }

    /// A tensor of `shape` whose memory `initializer` must write completely. Saves the zero-fill
    /// that `init(repeating:shape:)` would do for outputs a kernel overwrites anyway.
    @inlinable
    public init(shape: [Int], unsafeUninitialized initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shapeCount(shape)
        self.init(
            uncheckedShape: shape,
            scalars: [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                initializer(buffer)
                initialized = count
            })
    }

    @usableFromInline
    init(uncheckedShape shape: [Int], scalars: [Float]) {
        self.shape = shape
        self.scalars = scalars
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// Number of elements.
    @inlinable public var count: Int { scalars.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        enginePrecondition(scalars.count == 1, "Tensor.scalar: tensor of shape \(shape) has \(scalars.count) elements, not 1")
        return scalars[0]
    }

    /// Element at a full multi-index (slow; for tests and small bookkeeping).
    public subscript(_ indices: Int...) -> Float {
        get { scalars[flatIndex(indices)] }
        set { scalars[flatIndex(indices)] = newValue }
    }

    /// Row-major offset of a full multi-index.
    public func flatIndex(_ indices: [Int]) -> Int {
        enginePrecondition(indices.count == shape.count,
                           "Tensor subscript: \(indices.count) indices for a tensor of rank \(shape.count)")
        var offset = 0
        for (axis, index) in indices.enumerated() {
            enginePrecondition(index >= 0 && index < shape[axis],
                               "Tensor subscript: index \(index) out of range 0..<\(shape[axis]) on axis \(axis) of shape \(shape)")
            offset = offset * shape[axis] + index
        }
        return offset
    }

    /// The same scalars viewed with another shape of equal count (O(1), no copy).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor.checkValid(newShape)
        enginePrecondition(shapeCount(newShape) == count,
                           "reshape: cannot view \(count) elements of shape \(shape) as shape \(newShape)")
        return Tensor(uncheckedShape: newShape, scalars: scalars)
    }

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer { try body($0) }
    }

    private static func checkValid(_ shape: [Int]) {
        enginePrecondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}
