import HDF5

/// A strided view of numbers of a stored type: `stride` elements between consecutive values
/// (1 for a column dataset, 4 for a column of MVSEC's [N, 4] table). Integer columns are always
/// contiguous (MVSEC's table is read as float64), so their loops take no stride and vectorise.
struct NumericColumn {
    let base: UnsafeRawPointer
    let type: HDF5ElementType
    let stride: Int

    init(base: UnsafeRawPointer, type: HDF5ElementType, stride: Int) {
        precondition(stride == 1 || type.kind == .float, "integer columns are contiguous")
        self.base = base
        self.type = type
        self.stride = stride
    }

    /// The values as a typed pointer; each converter switches over it so that every case calls a
    /// specialised generic loop (an existential here would cost a dynamic call per event).
    var typed: TypedColumn {
        switch (type.kind, type.size) {
        case (.unsignedInteger, 1): return .u8(base.assumingMemoryBound(to: UInt8.self))
        case (.signedInteger, 1): return .i8(base.assumingMemoryBound(to: Int8.self))
        case (.unsignedInteger, 2): return .u16(base.assumingMemoryBound(to: UInt16.self))
        case (.signedInteger, 2): return .i16(base.assumingMemoryBound(to: Int16.self))
        case (.unsignedInteger, 4): return .u32(base.assumingMemoryBound(to: UInt32.self))
        case (.signedInteger, 4): return .i32(base.assumingMemoryBound(to: Int32.self))
        case (.unsignedInteger, 8): return .u64(base.assumingMemoryBound(to: UInt64.self))
        case (.signedInteger, 8): return .i64(base.assumingMemoryBound(to: Int64.self))
        case (.float, 4): return .f32(base.assumingMemoryBound(to: Float.self))
        case (.float, 8): return .f64(base.assumingMemoryBound(to: Double.self))
        default: preconditionFailure("unsupported column type \(type); readers check types on open")
        }
    }
}

enum TypedColumn {
    case u8(UnsafePointer<UInt8>), i8(UnsafePointer<Int8>), u16(UnsafePointer<UInt16>), i16(UnsafePointer<Int16>)
    case u32(UnsafePointer<UInt32>), i32(UnsafePointer<Int32>), u64(UnsafePointer<UInt64>), i64(UnsafePointer<Int64>)
    case f32(UnsafePointer<Float>), f64(UnsafePointer<Double>)
}

/// Column types the readers accept: every integer and float of 1–8 bytes.
func isSupportedColumnType(_ type: HDF5ElementType) -> Bool {
    (type.isInteger && [1, 2, 4, 8].contains(type.size)) || (type.kind == .float && [4, 8].contains(type.size))
}

/// The first bad value found while converting, by index within the converted run.
struct BadValue: Error {
    let index: Int
    let problem: String
}

/// How stored timestamps become microseconds.
enum TimeUnit: String, Sendable {
    case seconds = "s", milliseconds = "ms", microseconds = "us", nanoseconds = "ns"

    var microsecondsPerUnit: Double {
        switch self {
        case .seconds: return 1e6
        case .milliseconds: return 1e3
        case .microseconds: return 1
        case .nanoseconds: return 1e-3
        }
    }

    init?(attribute: String) {
        switch attribute.lowercased() {
        case "s", "sec", "second", "seconds": self = .seconds
        case "ms", "millisecond", "milliseconds": self = .milliseconds
        case "us", "µs", "microsecond", "microseconds": self = .microseconds
        case "ns", "nanosecond", "nanoseconds": self = .nanoseconds
        default: return nil
        }
    }
}

enum ColumnConversion {
    /// Pixel coordinates: integers (or integral floats) in `0..<limit`.
    static func coordinates(_ column: NumericColumn, count: Int, limit: Int, axis: String,
                            into destination: UnsafeMutablePointer<UInt16>) -> BadValue? {
        let s = column.stride
        switch column.typed {
        case .u8(let v): return integerCoordinates(v, count: count, limit: limit, axis: axis, into: destination)
        case .i8(let v): return integerCoordinates(v, count: count, limit: limit, axis: axis, into: destination)
        case .u16(let v): return integerCoordinates(v, count: count, limit: limit, axis: axis, into: destination)
        case .i16(let v): return integerCoordinates(v, count: count, limit: limit, axis: axis, into: destination)
        case .u32(let v): return integerCoordinates(v, count: count, limit: limit, axis: axis, into: destination)
        case .i32(let v): return integerCoordinates(v, count: count, limit: limit, axis: axis, into: destination)
        case .u64(let v): return integerCoordinates(v, count: count, limit: limit, axis: axis, into: destination)
        case .i64(let v): return integerCoordinates(v, count: count, limit: limit, axis: axis, into: destination)
        case .f32(let v): return floatCoordinates(v, stride: s, count: count, limit: limit, axis: axis, into: destination)
        case .f64(let v): return floatCoordinates(v, stride: s, count: count, limit: limit, axis: axis, into: destination)
        }
    }

    private static func integerCoordinates<T: FixedWidthInteger>(
        _ source: UnsafePointer<T>, count: Int, limit: Int, axis: String,
        into destination: UnsafeMutablePointer<UInt16>
    ) -> BadValue? {
        // A branch-free pass (min/max reductions vectorise; `||` would not), then a slow pass
        // for the index only when something is out of range.
        var smallest = T.max, largest = T.min
        for index in 0..<count {
            let value = source[index]
            smallest = Swift.min(smallest, value)
            largest = Swift.max(largest, value)
            destination[index] = UInt16(truncatingIfNeeded: value)
        }
        guard count > 0, smallest < 0 || UInt64(largest) >= UInt64(limit) else { return nil }
        for index in 0..<count {
            let value = source[index]
            if value < 0 || UInt64(value) >= UInt64(limit) {
                return BadValue(index: index, problem: "\(axis) = \(value) outside the sensor (0..<\(limit))")
            }
        }
        return nil
    }

    private static func floatCoordinates<T: BinaryFloatingPoint>(
        _ source: UnsafePointer<T>, stride: Int, count: Int, limit: Int, axis: String,
        into destination: UnsafeMutablePointer<UInt16>
    ) -> BadValue? {
        for index in 0..<count {
            let value = source[index * stride]
            guard value.isFinite else { return BadValue(index: index, problem: "\(axis) is \(value)") }
            let rounded = value.rounded()
            guard rounded >= 0, rounded < T(limit) else {
                return BadValue(index: index, problem: "\(axis) = \(value) outside the sensor (0..<\(limit))")
            }
            destination[index] = UInt16(rounded)
        }
        return nil
    }

    /// Timestamps to microseconds, checking they never decrease (from `previous`, the timestamp
    /// just before this run, when known).
    static func timestamps(_ column: NumericColumn, count: Int, unit: TimeUnit, offset: Int64, checkOrder: Bool = true, previous: Int64?,
                           into destination: UnsafeMutablePointer<Int64>) -> BadValue? {
        // DSEC's case (µs in unsigned 32 bits) fuses the order check into the conversion: one pass.
        if case .u32(let v) = column.typed, unit == .microseconds, checkOrder {
            // Two loops LLVM vectorises (widen + add; an OR of unsigned compares) beat one fused
            // loop with a 64-bit min, which has no SSE instruction.
            for index in 0..<count { destination[index] = Int64(v[index]) &+ offset }
            var decreases: UInt32 = 0
            for index in 1..<max(count, 1) { decreases |= v[index] < v[index - 1] ? 1 : 0 }
            if decreases == 0, previous.map({ count == 0 || destination[0] >= $0 }) ?? true { return nil }
            return firstDecrease(destination, count: count, previous: previous)
        }
        let s = column.stride
        let converted: BadValue?
        switch column.typed {
        case .u8(let v): converted = integerTimestamps(v, count: count, unit: unit, offset: offset, into: destination)
        case .i8(let v): converted = integerTimestamps(v, count: count, unit: unit, offset: offset, into: destination)
        case .u16(let v): converted = integerTimestamps(v, count: count, unit: unit, offset: offset, into: destination)
        case .i16(let v): converted = integerTimestamps(v, count: count, unit: unit, offset: offset, into: destination)
        case .u32(let v): converted = integerTimestamps(v, count: count, unit: unit, offset: offset, into: destination)
        case .i32(let v): converted = integerTimestamps(v, count: count, unit: unit, offset: offset, into: destination)
        case .u64(let v): converted = integerTimestamps(v, count: count, unit: unit, offset: offset, into: destination)
        case .i64(let v): converted = integerTimestamps(v, count: count, unit: unit, offset: offset, into: destination)
        case .f32(let v): converted = floatTimestamps(v, stride: s, count: count, unit: unit, offset: offset, into: destination)
        case .f64(let v): converted = floatTimestamps(v, stride: s, count: count, unit: unit, offset: offset, into: destination)
        }
        if let converted { return converted }
        guard checkOrder else { return nil }
        return firstDecrease(destination, count: count, previous: previous)
    }

    private static func integerTimestamps<T: FixedWidthInteger>(
        _ source: UnsafePointer<T>, count: Int, unit: TimeUnit, offset: Int64,
        into destination: UnsafeMutablePointer<Int64>
    ) -> BadValue? {
        switch unit {
        case .microseconds:
            for index in 0..<count { destination[index] = Int64(truncatingIfNeeded: source[index]) &+ offset }
        case .milliseconds, .seconds:
            let factor = Int64(unit.microsecondsPerUnit)
            for index in 0..<count { destination[index] = Int64(truncatingIfNeeded: source[index]) &* factor &+ offset }
        case .nanoseconds:
            for index in 0..<count {
                let ns = Int64(truncatingIfNeeded: source[index])
                destination[index] = (ns >= 0 ? (ns + 500) / 1000 : (ns - 500) / 1000) &+ offset
            }
        }
        if T.self == UInt64.self {
            // uint64 values above Int64.max wrapped negative: report them rather than reorder.
            for index in 0..<count where UInt64(source[index]) > UInt64(Int64.max) {
                return BadValue(index: index, problem: "t = \(source[index]) does not fit in int64 microseconds")
            }
        }
        return nil
    }

    private static func floatTimestamps<T: BinaryFloatingPoint>(
        _ source: UnsafePointer<T>, stride: Int, count: Int, unit: TimeUnit, offset: Int64,
        into destination: UnsafeMutablePointer<Int64>
    ) -> BadValue? {
        let scale = unit.microsecondsPerUnit
        for index in 0..<count {
            let value = Double(source[index * stride])
            guard value.isFinite else { return BadValue(index: index, problem: "t is \(value)") }
            // Round to the nearest µs: truncation turns 11.718656 s into 11718655 µs.
            let microseconds = (value * scale).rounded()
            guard abs(microseconds) < 9.0e18 else { return BadValue(index: index, problem: "t = \(value) is out of range") }
            destination[index] = Int64(microseconds) &+ offset
        }
        return nil
    }

    static func firstDecrease(_ t: UnsafePointer<Int64>, count: Int, previous: Int64?) -> BadValue? {
        guard count > 0 else { return nil }
        if let previous, t[0] < previous {
            return BadValue(index: 0, problem: "timestamps decrease (t = \(t[0]) µs after \(previous) µs); events must be sorted by t")
        }
        // Branch-free so it vectorises: the smallest step between neighbours.
        var smallestStep = Int64.max
        for index in 1..<max(count, 1) { smallestStep = min(smallestStep, t[index] &- t[index - 1]) }
        guard smallestStep < 0 else { return nil }
        for index in 1..<count where t[index] < t[index - 1] {
            return BadValue(index: index, problem: "timestamps decrease (t = \(t[index]) µs after \(t[index - 1]) µs); events must be sorted by t")
        }
        return nil
    }

    /// Polarities: 0/1 (DSEC) or −1/+1 (MVSEC, Prophesee-style); 0 and −1 become OFF (−1).
    static func polarities(_ column: NumericColumn, count: Int, into destination: UnsafeMutablePointer<Int8>) -> BadValue? {
        let s = column.stride
        switch column.typed {
        case .u8(let v): return integerPolarities(v, count: count, into: destination)
        case .i8(let v): return integerPolarities(v, count: count, into: destination)
        case .u16(let v): return integerPolarities(v, count: count, into: destination)
        case .i16(let v): return integerPolarities(v, count: count, into: destination)
        case .u32(let v): return integerPolarities(v, count: count, into: destination)
        case .i32(let v): return integerPolarities(v, count: count, into: destination)
        case .u64(let v): return integerPolarities(v, count: count, into: destination)
        case .i64(let v): return integerPolarities(v, count: count, into: destination)
        case .f32(let v): return floatPolarities(v, stride: s, count: count, into: destination)
        case .f64(let v): return floatPolarities(v, stride: s, count: count, into: destination)
        }
    }

    private static func integerPolarities<T: FixedWidthInteger>(
        _ source: UnsafePointer<T>, count: Int, into destination: UnsafeMutablePointer<Int8>
    ) -> BadValue? {
        var smallest = T.max, largest = T.min
        for index in 0..<count {
            let value = source[index]
            smallest = Swift.min(smallest, value)
            largest = Swift.max(largest, value)
            destination[index] = value > 0 ? 1 : -1
        }
        guard count > 0, largest > 1 || smallest < -1 else { return nil }
        for index in 0..<count where source[index] > 1 || source[index] < -1 {
            return BadValue(index: index, problem: "polarity \(source[index]) is not 0/1 or −1/+1")
        }
        return nil
    }

    private static func floatPolarities<T: BinaryFloatingPoint>(
        _ source: UnsafePointer<T>, stride: Int, count: Int, into destination: UnsafeMutablePointer<Int8>
    ) -> BadValue? {
        for index in 0..<count {
            let value = source[index * stride]
            guard value == 1 || value == 0 || value == -1 else {
                return BadValue(index: index, problem: "polarity \(value) is not 0/1 or −1/+1")
            }
            destination[index] = value > 0 ? 1 : -1
        }
        return nil
    }
}
