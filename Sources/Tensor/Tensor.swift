/// A dense, row-major (C-contiguous) array of `Float` with a shape.
///
/// Design: a value type over a reference-counted buffer (`TensorStorage`) with copy-on-write:
/// copying a tensor is O(1), and the first mutation of a shared copy copies the buffer once,
/// as with Swift's `Array`. The buffer comes from `BufferPool.shared`, so the large tensors a
/// training step frees are reused by the next step instead of being mapped afresh (see
/// `BufferPool`). Kernels reach the memory through `withUnsafeBufferPointer` /
/// `withUnsafeMutableBufferPointer` (no per-element bounds checks or CoW checks in hot loops).
/// 4-D tensors are NCHW. A rank-0 tensor (`shape == []`) holds one scalar.
/// The engine has no strided views: every tensor is contiguous, and layout changes (permute,
/// slice, concat) copy.
public struct Tensor: Sendable, Equatable {
    /// Extent of each axis, outermost first.
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// The elements in row-major order, as a new array (a copy: O(count)); kernels use
    /// `withUnsafeBufferPointer` instead.
    public var scalars: [Float] {
        withUnsafeBufferPointer { Array($0) }
    }

    /// Wraps `scalars` (row-major) as a tensor of `shape`; the counts must agree.
    public init(shape: [Int], scalars: [Float]) {
        Tensor.checkValid(shape)
        enginePrecondition(scalars.count == shapeCount(shape),
                           "Tensor(shape:scalars:): shape \(shape) needs \(shapeCount(shape)) scalars, got \(scalars.count)")
        self.init(uncheckedShape: shape, copying: scalars)
    }

    /// Like `init(shape:scalars:)` but reports a count mismatch as a typed error (for data read
    /// from files, where a mismatch is not a programming error).
    public init(validatingShape shape: [Int], scalars: [Float]) throws(ShapeError) {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw .negativeExtent(shape: shape) }
        guard scalars.count == shapeCount(shape) else {
            throw .countMismatch(shape: shape, expected: shapeCount(shape), got: scalars.count)
        }
        self.init(uncheckedShape: shape, copying: scalars)
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        Tensor.checkValid(shape)
        // On all cores when large: gradient buffers (pooling, upsampling, the loss) start as
        // zeros of a whole activation, and one core alone fills them at a fraction of the
        // memory bandwidth two reach (perf: 0.3 % of a train step on one core, the other idle).
        self.init(shape: shape) { buffer in
            parallelChunks(buffer.count) { range in
                UnsafeMutableBufferPointer(rebasing: buffer[range]).initialize(repeating: value)
            }
        }
    }

    /// A rank-0 tensor holding `value`.
    public init(_ value: Float) {
        self.init(uncheckedShape: [], copying: [value])
    }

    /// A tensor of `shape` whose memory `initializer` must write completely. Saves the zero-fill
    /// that `init(repeating:shape:)` would do for outputs a kernel overwrites anyway.
    @inlinable
    public init(shape: [Int], unsafeUninitialized initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let storage = TensorStorage(uninitializedCount: shapeCount(shape))
        initializer(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
        self.init(uncheckedShape: shape, sharing: storage)
    }

    init(uncheckedShape shape: [Int], copying scalars: [Float]) {
        self.shape = shape
        storage = TensorStorage(uninitializedCount: scalars.count)
        _ = UnsafeMutableBufferPointer(start: storage.base, count: storage.count).initialize(from: scalars)
    }

    @usableFromInline
    init(uncheckedShape shape: [Int], sharing storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        enginePrecondition(count == 1, "Tensor.scalar: tensor of shape \(shape) has \(count) elements, not 1")
        return withUnsafeBufferPointer { $0[0] }
    }

    /// Element at a full multi-index (slow; for tests and small bookkeeping).
    public subscript(_ indices: Int...) -> Float {
        get {
            let index = flatIndex(indices)
            return withUnsafeBufferPointer { $0[index] }
        }
        set {
            let index = flatIndex(indices)
            withUnsafeMutableBufferPointer { $0[index] = newValue }
        }
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
        return Tensor(uncheckedShape: newShape, sharing: storage)
    }

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) {
            try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
        }
    }

    /// Mutable access to the elements; copies the buffer first if another tensor shares it.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try withExtendedLifetime(storage) {
            try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
        }
    }

    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        return lhs.withUnsafeBufferPointer { a in rhs.withUnsafeBufferPointer { b in a.elementsEqual(b) } }
    }

    private static func checkValid(_ shape: [Int]) {
        enginePrecondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = withUnsafeBufferPointer { $0.prefix(8).map { "\($0)" }.joined(separator: ", ") }
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

/// The reference-counted element buffer behind `Tensor`, allocated from `BufferPool.shared`
/// and returned to it on deinit. Never mutated while shared (`Tensor` copies first).
@usableFromInline
final class TensorStorage: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int

    @usableFromInline
    init(uninitializedCount count: Int) {
        self.count = count
        base = BufferPool.shared.allocate(bytes: Self.bytes(count)).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { BufferPool.shared.deallocate(UnsafeMutableRawPointer(base), bytes: Self.bytes(count)) }

    @usableFromInline
    func copy() -> TensorStorage {
        let copy = TensorStorage(uninitializedCount: count)
        copy.base.initialize(from: base, count: count)
        return copy
    }

    private static func bytes(_ count: Int) -> Int { max(count, 1) * MemoryLayout<Float>.stride }
}
