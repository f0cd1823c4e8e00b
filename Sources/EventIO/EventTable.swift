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
    let names: [String]
    let columns: [RawColumnReader]
    let timeUnit: TimeUnit
    let timeOffset: Int64
    let count: Int
    /// One chunk of scratch per core, kept across reads (see `ScratchBuffer`).
    private let laneScratch = (0..<max(availableCores, 1)).map { _ in ScratchBuffer() }

    var timeDatasetName: String { names[2] }
    var timeColumn: RawColumnReader { columns[2] }

    init(file: HDF5File, datasets: (x: HDF5Dataset, y: HDF5Dataset, t: HDF5Dataset, p: HDF5Dataset),
         timeUnit: TimeUnit, timeOffset: Int64) {
        self.file = file
        let all = [datasets.x, datasets.y, datasets.t, datasets.p]
        names = all.map(\.name)
        columns = all.map(RawColumnReader.init)
        self.timeUnit = timeUnit
        self.timeOffset = timeOffset
        count = datasets.t.rowCount
    }

    /// Fetches the four columns (one thread, libhdf5), then decodes and converts every piece of
    /// every column on all cores while it is in cache, checking values as it goes.
    func read(_ range: Range<Int>, into packet: inout EventPacket, sensor: SensorSize, previousT: Int64?, checkOrder: Bool) throws {
        guard !range.isEmpty else { return }
        let staged = try columns.map { try $0.stage(range) }
        let items = (0..<4).flatMap { column in staged[column].pieces.indices.map { (column, $0) } }
        let failures = (0..<4).map { _ in FirstFailure() }
        let decodeFailure = FirstFailure()
        let types = columns.map(\.elementType)
        let scratchBytes = max(columns.map(\.scratchBytes).max() ?? 0, 64)
        let (unit, offset, start) = (timeUnit, timeOffset, range.lowerBound)
        let lanes = min(items.count, laneScratch.count)
        let scratches = laneScratch.map { $0.reserve(scratchBytes) }

        packet.x.withUnsafeMutableBufferPointer { x in
        packet.y.withUnsafeMutableBufferPointer { y in
        packet.t.withUnsafeMutableBufferPointer { t in
        packet.p.withUnsafeMutableBufferPointer { p in
            let (xb, yb, tb, pb) = (x.baseAddress!, y.baseAddress!, t.baseAddress!, p.baseAddress!)
            parallelFor(lanes) { lane in
                let scratch = scratches[lane]
                var item = lane
                while item < items.count {
                    defer { item += lanes }
                    let (column, index) = items[item]
                    let piece = staged[column].pieces[index]
                    let at = piece.lowerBound - start
                    let problem = staged[column].withPiece(index, scratch: scratch) { raw in
                        let values = NumericColumn(base: raw, type: types[column], stride: 1)
                        let bad: BadValue?
                        switch column {
                        case 0: bad = ColumnConversion.coordinates(values, count: piece.count, limit: sensor.width, axis: "x", into: xb + at)
                        case 1: bad = ColumnConversion.coordinates(values, count: piece.count, limit: sensor.height, axis: "y", into: yb + at)
                        case 2: bad = ColumnConversion.timestamps(values, count: piece.count, unit: unit, offset: offset,
                                                                  checkOrder: checkOrder, previous: nil, into: tb + at)
                        default: bad = ColumnConversion.polarities(values, count: piece.count, into: pb + at)
                        }
                        if let bad { failures[column].record(index: at + bad.index, bad.problem) }
                    }
                    if let problem { decodeFailure.record(index: column, "\(names[column]): chunk holding element \(piece.lowerBound): \(problem)") }
                }
            }
            if checkOrder {
                // Pieces were checked inside; check the seams between them and with the previous read.
                let seams = staged[2].pieces.map { $0.lowerBound - start }
                for seam in seams {
                    let before = seam == 0 ? previousT : tb[seam - 1]
                    if let before, tb[seam] < before {
                        failures[2].record(index: seam, "timestamps decrease (t = \(tb[seam]) µs after \(before) µs); events must be sorted by t")
                    }
                }
            }
        }}}}
        if let failure = decodeFailure.first {
            throw FileError(file: file.displayName, problem: failure.message)
        }
        let hint = " (sensor \(sensor); pass --width/--height if the camera is larger)"
        for column in [2, 0, 1, 3] {
            if let failure = failures[column].first {
                throw FileError(file: file.displayName, dataset: names[column],
                                problem: "index \(start + failure.index): \(failure.message)\(column < 2 ? hint : "")")
            }
        }
    }

    func timestamps(_ range: Range<Int>) throws -> [Int64] {
        let staged = try timeColumn.stage(range)
        var t = [Int64](repeating: 0, count: range.count)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(timeColumn.scratchBytes, 64), alignment: 64)
        defer { scratch.deallocate() }
        var bad: (Int, BadValue)?
        var decodeProblem: String?
        t.withUnsafeMutableBufferPointer { t in
            for index in staged.pieces.indices where bad == nil && decodeProblem == nil {
                let piece = staged.pieces[index]
                let at = piece.lowerBound - range.lowerBound
                decodeProblem = staged.withPiece(index, scratch: scratch) { raw in
                    if let b = ColumnConversion.timestamps(NumericColumn(base: raw, type: timeColumn.elementType, stride: 1),
                                                           count: piece.count, unit: timeUnit, offset: timeOffset,
                                                           checkOrder: false, previous: nil, into: t.baseAddress! + at) {
                        bad = (at, b)
                    }
                }
            }
        }
        if let decodeProblem { throw FileError(file: file.displayName, dataset: names[2], problem: decodeProblem) }
        if let (at, b) = bad {
            throw FileError(file: file.displayName, dataset: names[2], problem: "index \(range.lowerBound + at + b.index): \(b.problem)")
        }
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
