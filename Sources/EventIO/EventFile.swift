import Foundation
import HDF5

/// Options for opening a recording: layout and sensor size overrides (`--format`, `--width/--height`).
public struct EventFileOptions: Sendable {
    public var format: EventFormatChoice
    public var width: Int?
    public var height: Int?

    public init(format: EventFormatChoice = .auto, width: Int? = nil, height: Int? = nil) {
        self.format = format
        self.width = width
        self.height = height
    }
}

/// An event recording opened for streaming: DSEC, MVSEC or plain layout (formats.md §1).
///
/// Reads are by event index and checked as they go (coordinates inside the sensor, timestamps
/// never decreasing, no NaN). Nothing is loaded whole: callers read bounded index ranges, and
/// time windows are found with `firstIndex(atOrAfter:)` — through DSEC's `ms_to_idx` index, or a
/// binary search on `t` elsewhere — never with a scan.
public final class EventFile {
    public let path: String
    public let layout: EventLayout
    public let sensor: SensorSize
    /// Where the sensor size came from: "--width/--height", "attributes", or "DSEC default".
    public let sensorSource: String
    public let count: Int
    /// DSEC's `t_offset` (µs), already added to every timestamp; 0 for other layouts.
    public let timeOffset: Int64
    /// Storage of the timestamp column: "blosc (zstd)", "gzip", "none", ...
    public let compression: String
    /// The dataset paths the events come from, for reports.
    public let datasetNames: [String]
    /// True when the DSEC time index `/ms_to_idx` is used for windows.
    public var hasTimeIndex: Bool { msToIdx != nil }

    let file: HDF5File
    let table: EventTable
    private let msToIdx: HDF5Dataset?
    /// End index and last timestamp of the previous read, to check order across reads.
    private var continuation: (end: Int, lastT: Int64)?

    public init(path: String, options: EventFileOptions = EventFileOptions()) throws {
        self.path = path
        let file = try HDF5File(path: path)
        self.file = file
        let detected: EventLayout?
        switch options.format {
        case .auto: detected = EventLayout.detect(in: file)
        case .dsec: detected = .dsec
        case .mvsec: detected = .mvsec
        case .plain: detected = .plain
        }
        guard let layout = detected else {
            let members = file.memberNames().prefix(8).joined(separator: ", ")
            throw FileError(file: path, problem: "no event datasets found (expected DSEC /events/{x,y,t,p} + /ms_to_idx, "
                + "MVSEC /davis/left/events, or x/y/t/p); top level holds: \(members.isEmpty ? "nothing" : members)")
        }
        self.layout = layout

        var offset: Int64 = 0
        var index: HDF5Dataset?
        switch layout {
        case .prophesee:
            let events = try file.openDataset("/CD/events")
            if events.filters.contains(HDF5Filter.prophesseeECF) {
                throw FileError(file: path, dataset: "/CD/events", problem: HDF5Filter.missingAdvice(HDF5Filter.prophesseeECF))
            }
            throw FileError(file: path, dataset: "/CD/events", problem: "Prophesee Metavision layout (CD/events compound table) "
                + "is recognised but not read; export x, y, t, p datasets (the plain layout) instead")
        case .dsec:
            let columns = try Self.openColumns(file, prefix: "/events", integersOnly: true, layoutName: "DSEC")
            if file.exists("/t_offset") {
                let dataset = try file.openDataset("/t_offset")
                guard dataset.elementType.isInteger, dataset.elementCount == 1 else {
                    throw FileError(file: path, dataset: "/t_offset", problem: "expected one integer (µs), found \(dataset.elementType) of shape \(dataset.shape)")
                }
                offset = try dataset.readAll(as: Int64.self)[0]
            }
            if file.exists("/ms_to_idx") {
                let dataset = try file.openDataset("/ms_to_idx")
                guard dataset.rank == 1, dataset.elementType.isInteger else {
                    throw FileError(file: path, dataset: "/ms_to_idx", problem: "expected a 1-D integer index, found \(dataset.elementType) of shape \(dataset.shape)")
                }
                try Self.checkFilters(dataset)
                index = dataset
            }
            table = ColumnarEventTable(file: file, datasets: columns, timeUnit: .microseconds, timeOffset: offset)
            datasetNames = [columns.x.name, columns.y.name, columns.t.name, columns.p.name]
            compression = Self.describeStorage(columns.t, reader: (table as? ColumnarEventTable)?.timeColumn)
        case .mvsec:
            let events = try file.openDataset("/davis/left/events")
            guard events.rank == 2, events.shape[1] == 4 else {
                throw FileError(file: path, dataset: events.name, problem: "expected shape [N, 4] (x, y, t, p), found \(events.shape)")
            }
            guard events.elementType.isNumeric, isSupportedColumnType(events.elementType) else {
                throw FileError(file: path, dataset: events.name, problem: "expected numbers (float64), found dtype \(events.elementType)")
            }
            try Self.checkFilters(events)
            table = TableEventTable(dataset: events)
            datasetNames = [events.name]
            compression = Self.describeStorage(events, reader: nil)
        case .plain:
            let prefix = ["x", "y", "t", "p"].allSatisfy({ file.isDataset("/events/\($0)") }) || !file.isDataset("/t") ? "/events" : ""
            let columns = try Self.openColumns(file, prefix: prefix, integersOnly: false, layoutName: "plain")
            var unit = TimeUnit.microseconds
            let candidates = [columns.t.attributes(), try? file.attributes(of: prefix.isEmpty ? "/" : prefix), try? file.attributes()]
            if let text = candidates.compactMap({ $0?.string("t_unit") }).first {
                guard let parsed = TimeUnit(attribute: text) else {
                    throw FileError(file: path, dataset: columns.t.name, problem: "t_unit '\(text)' is not one of s, ms, us, ns")
                }
                unit = parsed
            }
            table = ColumnarEventTable(file: file, datasets: columns, timeUnit: unit, timeOffset: 0)
            datasetNames = [columns.x.name, columns.y.name, columns.t.name, columns.p.name]
            compression = Self.describeStorage(columns.t, reader: (table as? ColumnarEventTable)?.timeColumn)
        }
        msToIdx = index
        timeOffset = offset
        count = table.count

        // Sensor: command line, then attributes on the root or the events group, then the layout's camera.
        if let width = options.width, let height = options.height {
            guard width > 0, height > 0, width <= 65536, height <= 65536 else {
                throw FileError(file: path, problem: "sensor size \(width)×\(height) is not valid")
            }
            sensor = SensorSize(width: width, height: height)
            sensorSource = "--width/--height"
        } else if let size = Self.sizeAttributes(file, layout: layout) {
            sensor = size
            sensorSource = "attributes"
        } else if let size = layout.defaultSensor {
            sensor = SensorSize(width: size.width, height: size.height)
            sensorSource = "\(layout.rawValue.uppercased()) default"
        } else {
            throw FileError(file: path, problem: "sensor size unknown: no width/height attributes; pass --width and --height")
        }
    }

    private static func openColumns(_ file: HDF5File, prefix: String, integersOnly: Bool, layoutName: String) throws
        -> (x: HDF5Dataset, y: HDF5Dataset, t: HDF5Dataset, p: HDF5Dataset) {
        let x = try file.openDataset("\(prefix)/x"), y = try file.openDataset("\(prefix)/y")
        let t = try file.openDataset("\(prefix)/t"), p = try file.openDataset("\(prefix)/p")
        for dataset in [x, y, t, p] {
            guard dataset.rank == 1 else {
                throw FileError(file: file.displayName, dataset: dataset.name, problem: "expected a 1-D column, found shape \(dataset.shape)")
            }
            let type = dataset.elementType
            let ok = integersOnly ? (type.isInteger && isSupportedColumnType(type)) : isSupportedColumnType(type)
            guard ok else {
                throw FileError(file: file.displayName, dataset: dataset.name,
                                problem: "unsupported dtype \(type) (the \(layoutName) layout stores \(integersOnly ? "integers" : "integers or floats"))")
            }
            try checkFilters(dataset)
        }
        for dataset in [y, t, p] where dataset.rowCount != x.rowCount {
            throw FileError(file: file.displayName, dataset: dataset.name,
                            problem: "has \(dataset.rowCount) elements but \(x.name) has \(x.rowCount): columns must have equal lengths")
        }
        return (x, y, t, p)
    }

    private static func checkFilters(_ dataset: HDF5Dataset) throws {
        if let missing = dataset.unavailableFilter {
            throw FileError(file: dataset.file.displayName, dataset: dataset.name, problem: HDF5Filter.missingAdvice(missing))
        }
    }

    private static func describeStorage(_ dataset: HDF5Dataset, reader: RawColumnReader?) -> String {
        let compressors = dataset.filters.filter { $0 != HDF5Filter.shuffle && $0 != HDF5Filter.fletcher32 }
        guard let first = compressors.first else { return dataset.chunkShape == nil ? "none (contiguous)" : "none (chunked)" }
        if first == HDF5Filter.blosc, let codec = reader?.bloscCodecName() { return "blosc (\(codec))" }
        return HDF5Filter.name(first)
    }

    private static func sizeAttributes(_ file: HDF5File, layout: EventLayout) -> SensorSize? {
        let places = layout == .mvsec ? ["/", "/davis/left"] : ["/", "/events"]
        for place in places where place == "/" || file.exists(place) {
            guard let attributes = try? file.attributes(of: place) else { continue }
            if let width = attributes.int("width"), let height = attributes.int("height"), width > 0, height > 0 {
                return SensorSize(width: width, height: height)
            }
            if let size = attributes.doubles("sensor_size"), size.count >= 2 {
                return SensorSize(width: Int(size[0]), height: Int(size[1]))
            }
        }
        return nil
    }

    // MARK: Reading

    /// Reads and checks events `range`. Consecutive reads also check order across their seam;
    /// `checkingOrder: false` leaves the order check to the caller (coordinates are still checked).
    public func read(_ range: Range<Int>, checkingOrder: Bool = true) throws -> EventPacket {
        var packet = EventPacket()
        try read(range, into: &packet, checkingOrder: checkingOrder)
        return packet
    }

    /// Reads into `packet`, reusing its storage when it already has `range.count` events
    /// (streaming with one buffer avoids page faults on fresh memory for every block).
    public func read(_ range: Range<Int>, into packet: inout EventPacket, checkingOrder: Bool = true) throws {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            preconditionFailure("event range \(range) outside 0..<\(count)")
        }
        packet.resizeForOverwrite(range.count)
        let previous = continuation.flatMap { $0.end == range.lowerBound ? $0.lastT : nil }
        try table.read(range, into: &packet, sensor: sensor, previousT: previous, checkOrder: checkingOrder)
        if let last = packet.t.last { continuation = (range.upperBound, last) }
    }

    /// Timestamp (µs) of event `index`.
    public func timestamp(at index: Int) throws -> Int64 {
        try table.timestamps(index..<(index + 1))[0]
    }

    /// Timestamps of a range of events (µs), converted but not order-checked.
    public func timestamps(_ range: Range<Int>) throws -> [Int64] {
        try table.timestamps(range)
    }

    /// The zero of `--start-ms/--end-ms`: DSEC's `t_offset` (so milliseconds match `ms_to_idx`),
    /// else the first event's millisecond.
    public var timeOrigin: Int64 {
        if layout == .dsec { return timeOffset }
        return firstTimestamp.map(WindowedEventReader.floorToMillisecond) ?? 0
    }

    public var firstTimestamp: Int64? { count > 0 ? try? timestamp(at: 0) : nil }
    public var lastTimestamp: Int64? { count > 0 ? try? timestamp(at: count - 1) : nil }

    /// Index of the first event with `t >= time` (`count` if none). DSEC: `ms_to_idx` gives the
    /// millisecond's first event, then a binary search inside that millisecond; elsewhere a
    /// binary search over `t`, reading single timestamps.
    public func firstIndex(atOrAfter time: Int64) throws -> Int {
        guard count > 0 else { return 0 }
        if let msToIdx {
            return try indexedFirstIndex(atOrAfter: time, msToIdx: msToIdx)
        }
        return try searchFirstIndex(atOrAfter: time, in: 0..<count)
    }

    private func searchFirstIndex(atOrAfter time: Int64, in range: Range<Int>) throws -> Int {
        var low = range.lowerBound, high = range.upperBound
        // Within a small range, one read beats many single-element probes.
        while high - low > 4096 {
            let mid = (low + high) / 2
            if try timestamp(at: mid) < time { low = mid + 1 } else { high = mid }
        }
        guard low < high else { return low }
        let block = try timestamps(low..<high)
        var l = 0, h = block.count
        while l < h {
            let m = (l + h) / 2
            if block[m] < time { l = m + 1 } else { h = m }
        }
        return low + l
    }

    private func indexedFirstIndex(atOrAfter time: Int64, msToIdx: HDF5Dataset) throws -> Int {
        let relative = time - timeOffset
        if relative <= 0 { return 0 }
        let milliseconds = msToIdx.rowCount
        guard milliseconds > 0 else { return try searchFirstIndex(atOrAfter: time, in: 0..<count) }
        let ms = Int(relative / 1000)
        let entries: [Int64] = try msToIdx.readRows(min(ms, milliseconds - 1)..<min(ms + 2, milliseconds))
        for value in entries where value < 0 || value > Int64(count) {
            throw FileError(file: path, dataset: msToIdx.name, problem: "entry \(value) near ms \(ms) is outside 0...\(count) events")
        }
        let low = Int(entries[0])
        let high = ms + 1 < milliseconds && entries.count > 1 ? Int(entries[1]) : count
        guard low <= high else {
            throw FileError(file: path, dataset: msToIdx.name, problem: "decreases at ms \(ms) (\(low) then \(high))")
        }
        let found = try searchFirstIndex(atOrAfter: time, in: low..<high)
        // ms_to_idx[ms] must be the first event of millisecond ms: check the seam we relied on.
        if found == low, low > 0, try timestamp(at: low - 1) >= time {
            throw FileError(file: path, dataset: msToIdx.name, problem: "inconsistent with \(table.timeDatasetName) at ms \(ms): event \(low - 1) is not before \(time - timeOffset) µs")
        }
        return found
    }
}
