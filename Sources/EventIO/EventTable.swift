import Foundation
import HDF5
import ParallelLoops

/// Width × height of the sensor in pixels.
public struct SensorSize: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    public var description: String { "\(width)×\(height)" }
}

/// Where events of one layout live and how to turn them into `EventPacket`s.
protocol EventTable: AnyObject {
    var count: Int { get }
    /// The dataset that holds timestamps (for messages).
    var timeDatasetName: String { get }
    /// Reads events `range` into `packet` (already sized `range.count`), checking every value.
    /// `previousT` is the timestamp of event `range.lowerBound − 1` when the caller knows it;
    /// `checkOrder` false skips the order check (for `inspect`, which reports order itself).
    func read(_ range: Range<Int>, into packet: inout EventPacket, sensor: SensorSize, previousT: Int64?, checkOrder: Bool) throws
    /// Timestamps of `range` in µs (converted, not checked for order).
    func timestamps(_ range: Range<Int>) throws -> [Int64]
}

/// Grows-only scratch memory reused between reads so streaming does not allocate per block.
final class ScratchBuffer {
    private(set) var pointer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    private var capacity = 64

    func reserve(_ bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > capacity {
            pointer.deallocate()
            capacity = max(bytes, capacity * 2)
            pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}

/// Minimum events per core before a conversion is split across cores.
let conversionPart = 1 << 16

/// Runs `convert(partRange)` over `count` events split across cores; returns the failure with
/// the lowest event index (indices relative to the run).
func convertInParts(_ count: Int, _ convert: (Range<Int>) -> BadValue?) -> BadValue? {
    let failures = FirstFailure()
    parallelRanges(count, minimumPart: conversionPart) { _, part in
        if let bad = convert(part) {
            failures.record(index: part.lowerBound + bad.index, bad.problem)
        }
    }
    return failures.first.map { BadValue(index: $0.index, problem: $0.message) }
}

/// x, y, t, p as four 1-D datasets (DSEC and the plain layout).
final class ColumnarEventTable: EventTable {
    let file: HDF5File
    let names: (x: String, y: String, t: String, p: String)
    let columns: (x: RawColumnReader, y: RawColumnReader, t: RawColumnReader, p: RawColumnReader)
    let timeUnit: TimeUnit
    let timeOffset: Int64
    let count: Int
    private let scratch = (x: ScratchBuffer(), y: ScratchBuffer(), t: ScratchBuffer(), p: ScratchBuffer())

    var timeDatasetName: String { names.t }

    init(file: HDF5File, datasets: (x: HDF5Dataset, y: HDF5Dataset, t: HDF5Dataset, p: HDF5Dataset),
         timeUnit: TimeUnit, timeOffset: Int64) {
        self.file = file
        names = (datasets.x.name, datasets.y.name, datasets.t.name, datasets.p.name)
        columns = (RawColumnReader(datasets.x), RawColumnReader(datasets.y), RawColumnReader(datasets.t), RawColumnReader(datasets.p))
        self.timeUnit = timeUnit
        self.timeOffset = timeOffset
        count = datasets.t.rowCount
    }

    private func fail(_ dataset: String, _ start: Int, _ bad: BadValue, hint: String = "") -> FileError {
        FileError(file: file.displayName, dataset: dataset, problem: "index \(start + bad.index): \(bad.problem)\(hint)")
    }

    func read(_ range: Range<Int>, into packet: inout EventPacket, sensor: SensorSize, previousT: Int64?, checkOrder: Bool) throws {
        let n = range.count
        guard n > 0 else { return }
        let raw = (x: scratch.x.reserve(n * columns.x.elementType.size), y: scratch.y.reserve(n * columns.y.elementType.size),
                   t: scratch.t.reserve(n * columns.t.elementType.size), p: scratch.p.reserve(n * columns.p.elementType.size))
        try columns.x.read(range, into: raw.x)
        try columns.y.read(range, into: raw.y)
        try columns.t.read(range, into: raw.t)
        try columns.p.read(range, into: raw.p)
        let types = (x: columns.x.elementType, y: columns.y.elementType, t: columns.t.elementType, p: columns.p.elementType)
        let hint = " (sensor \(sensor); pass --width/--height if the camera is larger)"
        let unit = timeUnit, offset = timeOffset

        var badX: BadValue?, badY: BadValue?, badT: BadValue?, badP: BadValue?
        packet.x.withUnsafeMutableBufferPointer { x in
        packet.y.withUnsafeMutableBufferPointer { y in
        packet.t.withUnsafeMutableBufferPointer { t in
        packet.p.withUnsafeMutableBufferPointer { p in
            let (xb, yb, tb, pb) = (x.baseAddress!, y.baseAddress!, t.baseAddress!, p.baseAddress!)
            badX = convertInParts(n) { part in
                ColumnConversion.coordinates(NumericColumn(base: raw.x + part.lowerBound * types.x.size, type: types.x, stride: 1),
                                             count: part.count, limit: sensor.width, axis: "x", into: xb + part.lowerBound)
            }
            badY = convertInParts(n) { part in
                ColumnConversion.coordinates(NumericColumn(base: raw.y + part.lowerBound * types.y.size, type: types.y, stride: 1),
                                             count: part.count, limit: sensor.height, axis: "y", into: yb + part.lowerBound)
            }
            badT = convertInParts(n) { part in
                ColumnConversion.timestamps(NumericColumn(base: raw.t + part.lowerBound * types.t.size, type: types.t, stride: 1),
                                            count: part.count, unit: unit, offset: offset, checkOrder: checkOrder,
                                            previous: part.lowerBound == 0 ? previousT : tb[part.lowerBound - 1],
                                            into: tb + part.lowerBound)
            }
            badP = convertInParts(n) { part in
                ColumnConversion.polarities(NumericColumn(base: raw.p + part.lowerBound * types.p.size, type: types.p, stride: 1),
                                            count: part.count, into: pb + part.lowerBound)
            }
        }}}}
        if let badT { throw fail(names.t, range.lowerBound, badT) }
        if let badX { throw fail(names.x, range.lowerBound, badX, hint: hint) }
        if let badY { throw fail(names.y, range.lowerBound, badY, hint: hint) }
        if let badP { throw fail(names.p, range.lowerBound, badP) }
    }

    func timestamps(_ range: Range<Int>) throws -> [Int64] {
        let raw = scratch.t.reserve(max(range.count, 1) * columns.t.elementType.size)
        try columns.t.read(range, into: raw)
        var t = [Int64](repeating: 0, count: range.count)
        let bad = t.withUnsafeMutableBufferPointer { t in
            ColumnConversion.timestamps(NumericColumn(base: raw, type: columns.t.elementType, stride: 1), count: range.count,
                                        unit: timeUnit, offset: timeOffset, checkOrder: false, previous: nil, into: t.baseAddress!)
        }
        if let bad { throw fail(names.t, range.lowerBound, bad) }
        return t
    }
}

/// MVSEC's `[N, 4]` float64 table: x, y, t (seconds), p (−1/+1), read in row blocks.
final class TableEventTable: EventTable {
    let dataset: HDF5Dataset
    let count: Int
    private let scratch = ScratchBuffer()
    var timeDatasetName: String { dataset.name }

    init(dataset: HDF5Dataset) {
        self.dataset = dataset
        count = dataset.rowCount
    }

    private func loadRows(_ range: Range<Int>) throws -> UnsafeMutablePointer<Double> {
        let rows = scratch.reserve(max(range.count, 1) * 4 * MemoryLayout<Double>.stride).assumingMemoryBound(to: Double.self)
        try dataset.readRows(range, into: UnsafeMutableBufferPointer(start: rows, count: range.count * 4))
        return rows
    }

    private func fail(_ start: Int, _ bad: BadValue, hint: String = "") -> FileError {
        FileError(file: dataset.file.displayName, dataset: dataset.name, problem: "row \(start + bad.index): \(bad.problem)\(hint)")
    }

    func read(_ range: Range<Int>, into packet: inout EventPacket, sensor: SensorSize, previousT: Int64?, checkOrder: Bool) throws {
        let n = range.count
        guard n > 0 else { return }
        let rows = UnsafeRawPointer(try loadRows(range))
        let f64 = HDF5ElementType(kind: .float, size: 8)
        let hint = " (sensor \(sensor); pass --width/--height if the camera is larger)"
        var badX: BadValue?, badY: BadValue?, badT: BadValue?, badP: BadValue?
        packet.x.withUnsafeMutableBufferPointer { x in
        packet.y.withUnsafeMutableBufferPointer { y in
        packet.t.withUnsafeMutableBufferPointer { t in
        packet.p.withUnsafeMutableBufferPointer { p in
            let (xb, yb, tb, pb) = (x.baseAddress!, y.baseAddress!, t.baseAddress!, p.baseAddress!)
            func column(_ c: Int, _ part: Range<Int>) -> NumericColumn {
                NumericColumn(base: rows + (part.lowerBound * 4 + c) * 8, type: f64, stride: 4)
            }
            badT = convertInParts(n) { part in
                ColumnConversion.timestamps(column(2, part), count: part.count, unit: .seconds, offset: 0, checkOrder: checkOrder,
                                            previous: part.lowerBound == 0 ? previousT : tb[part.lowerBound - 1],
                                            into: tb + part.lowerBound)
            }
            badX = convertInParts(n) { part in
                ColumnConversion.coordinates(column(0, part), count: part.count, limit: sensor.width, axis: "x", into: xb + part.lowerBound)
            }
            badY = convertInParts(n) { part in
                ColumnConversion.coordinates(column(1, part), count: part.count, limit: sensor.height, axis: "y", into: yb + part.lowerBound)
            }
            badP = convertInParts(n) { part in
                ColumnConversion.polarities(column(3, part), count: part.count, into: pb + part.lowerBound)
            }
        }}}}
        // NaN/inf are reported before ordering problems they would cause.
        for bad in [badT, badX, badY, badP].compactMap({ $0 }).sorted(by: { $0.index < $1.index }) {
            let isRange = bad.problem.contains("outside the sensor")
            throw fail(range.lowerBound, bad, hint: isRange ? hint : "")
        }
    }

    func timestamps(_ range: Range<Int>) throws -> [Int64] {
        let rows = UnsafeRawPointer(try loadRows(range))
        var t = [Int64](repeating: 0, count: range.count)
        let bad = t.withUnsafeMutableBufferPointer { t in
            ColumnConversion.timestamps(NumericColumn(base: rows + 16, type: HDF5ElementType(kind: .float, size: 8), stride: 4),
                                        count: range.count, unit: .seconds, offset: 0, checkOrder: false, previous: nil, into: t.baseAddress!)
        }
        if let bad { throw fail(range.lowerBound, bad) }
        return t
    }
}
