/// Shape arithmetic shared by kernels and ops. Shapes are `[Int]`, outermost axis first.

/// Number of elements of a tensor of `shape` (1 for rank 0).
@inlinable
public func shapeCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

/// Row-major strides (in elements) of a contiguous tensor of `shape`.
public func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}

/// What went wrong when shapes do not fit together. Shape inference functions throw these;
/// op entry points turn them into a precondition failure carrying `description`, because a
/// mismatch in model code is a programming error.
public enum ShapeError: Error, Equatable, CustomStringConvertible {
    case notBroadcastable(op: String, lhs: [Int], rhs: [Int])
    case countMismatch(shape: [Int], expected: Int, got: Int)
    case negativeExtent(shape: [Int])
    case rankMismatch(op: String, expected: Int, got: [Int])
    case axisOutOfRange(op: String, axis: Int, rank: Int)
    case mismatch(op: String, detail: String)

    public var description: String {
        switch self {
        case let .notBroadcastable(op, lhs, rhs):
            return "\(op): shapes \(lhs) and \(rhs) are not broadcastable (trailing axes must be equal or 1)"
        case let .countMismatch(shape, expected, got):
            return "shape \(shape) needs \(expected) elements, got \(got)"
        case let .negativeExtent(shape):
            return "negative extent in shape \(shape)"
        case let .rankMismatch(op, expected, got):
            return "\(op): expected a rank-\(expected) tensor, got shape \(got)"
        case let .axisOutOfRange(op, axis, rank):
            return "\(op): axis \(axis) out of range for rank \(rank)"
        case let .mismatch(op, detail):
            return "\(op): \(detail)"
        }
    }
}

/// The NumPy/PyTorch broadcast of two shapes: align trailing axes; each pair must be equal or
/// contain a 1.
public func broadcastShape(_ lhs: [Int], _ rhs: [Int], op: String = "broadcast") throws(ShapeError) -> [Int] {
    let rank = max(lhs.count, rhs.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let l = i < rank - lhs.count ? 1 : lhs[i - (rank - lhs.count)]
        let r = i < rank - rhs.count ? 1 : rhs[i - (rank - rhs.count)]
        if l == r || r == 1 {
            result[i] = l
        } else if l == 1 {
            result[i] = r
        } else {
            throw .notBroadcastable(op: op, lhs: lhs, rhs: rhs)
        }
    }
    return result
}

/// Normalises a possibly negative axis (−1 = last) and checks its range.
public func normalizedAxis(_ axis: Int, rank: Int, op: String) throws(ShapeError) -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0 && a < rank else { throw .axisOutOfRange(op: op, axis: axis, rank: rank) }
    return a
}

/// Runs a throwing shape computation and stops with its message on failure: op entry points
/// use this so model code needs no `try` for what are programming errors.
@inlinable
public func shapeCheck<T>(_ body: () throws(ShapeError) -> T) -> T {
    do {
        return try body()
    } catch {
        engineFailure(error.description)
    }
}

/// Like `precondition`, but its message survives `-O` builds: Swift drops precondition
/// messages in release mode, leaving "precondition failure" with no hint of which shape was
/// wrong. Used for programming errors (shape mismatches in model code).
@inlinable
public func enginePrecondition(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { engineFailure(message(), file: file, line: line) }
}

/// Stops with `message`, in debug and release builds alike.
@inline(never)
public func engineFailure(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message(), file: file, line: line)
}
