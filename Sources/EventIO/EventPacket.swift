/// Events in columns (structure of arrays), sorted by time.
///
/// x: pixel column, y: pixel row, t: microseconds (absolute: DSEC's `t_offset` already added),
/// p: polarity +1 (ON) / −1 (OFF). Columns always have equal length.
public struct EventPacket: Sendable, Equatable {
    public var x: [UInt16]
    public var y: [UInt16]
    public var t: [Int64]
    public var p: [Int8]

    public init(x: [UInt16] = [], y: [UInt16] = [], t: [Int64] = [], p: [Int8] = []) {
        precondition(x.count == y.count && y.count == t.count && t.count == p.count, "event columns differ in length")
        self.x = x
        self.y = y
        self.t = t
        self.p = p
    }

    /// A packet of `count` uninitialised-then-zeroed events, for readers to fill.
    public init(zeroed count: Int) {
        x = [UInt16](repeating: 0, count: count)
        y = [UInt16](repeating: 0, count: count)
        t = [Int64](repeating: 0, count: count)
        p = [Int8](repeating: 0, count: count)
    }

    /// Makes every column `count` long, keeping the storage when it is large enough. New
    /// elements may be left uninitialised (readers overwrite them all): touching fresh pages
    /// for every block streamed would cost more than the read itself.
    public mutating func resizeForOverwrite(_ count: Int) {
        func resize<T: FixedWidthInteger>(_ column: inout [T]) {
            if count <= column.count {
                column.removeLast(column.count - count)  // keeps the capacity
            } else if count <= column.capacity {
                column.append(contentsOf: repeatElement(0, count: count - column.count))
            } else {
                column = Array(unsafeUninitializedCapacity: count) { _, n in n = count }
            }
        }
        resize(&x)
        resize(&y)
        resize(&t)
        resize(&p)
    }

    public var count: Int { t.count }
    public var isEmpty: Bool { t.isEmpty }

    /// The events with indices in `range`, as a new packet.
    public subscript(range: Range<Int>) -> EventPacket {
        EventPacket(x: Array(x[range]), y: Array(y[range]), t: Array(t[range]), p: Array(p[range]))
    }

    /// Index of the first event with `t >= time` in `range` (binary search; `range.upperBound` if none).
    public func firstIndex(atOrAfter time: Int64, in range: Range<Int>? = nil) -> Int {
        var low = range?.lowerBound ?? 0
        var high = range?.upperBound ?? count
        while low < high {
            let mid = (low + high) / 2
            if t[mid] < time { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
