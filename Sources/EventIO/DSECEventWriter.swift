import AtomicFiles
import HDF5

/// Writes events in the DSEC layout (formats.md §1) as they arrive, in sorted order:
/// `/events/{x,y,t,p}` Blosc-zstd chunks (or gzip when the Blosc plugin is missing),
/// `/ms_to_idx` built on the fly, `/t_offset`, and `width`/`height` root attributes.
/// The file appears under its name only after `finish()`.
public final class DSECEventWriter {
    public let path: String
    public let sensor: SensorSize
    public let timeOffset: Int64
    private let output: AtomicOutput
    private var file: HDF5File?
    private var columns: (x: HDF5Dataset, y: HDF5Dataset, t: HDF5Dataset, p: HDF5Dataset)?
    private var msToIdx: [UInt64] = []
    private var written = 0
    private var lastT: Int64 = .min

    public static let chunkLength = 65_536

    public init(path: String, sensor: SensorSize, timeOffset: Int64) throws {
        self.path = path
        self.sensor = sensor
        self.timeOffset = timeOffset
        do { output = try AtomicOutput(path: path) } catch let error as AtomicOutputError {
            throw FileError(file: path, problem: error.problem)
        }
        let file = try HDF5File(creating: output.temporaryPath)
        self.file = file
        let blosc = HDF5Library.isFilterAvailable(HDF5Filter.blosc)
        func column<T: HDF5Scalar>(_ name: String, _ type: T.Type) throws -> HDF5Dataset {
            try file.createDataset("/events/\(name)", of: type, shape: [0], chunk: [Self.chunkLength],
                                   gzipLevel: blosc ? nil : 1, bloscZstdLevel: blosc ? 5 : nil, extendible: true)
        }
        columns = (try column("x", UInt16.self), try column("y", UInt16.self), try column("t", UInt32.self), try column("p", UInt8.self))
        let root = try file.attributes()
        try root.set("width", sensor.width)
        try root.set("height", sensor.height)
    }

    /// Appends events (sorted by t, not before the previous ones, t ≥ `timeOffset`).
    public func append(_ events: EventPacket) throws {
        guard let columns, !events.isEmpty else { return }
        var t32 = [UInt32](repeating: 0, count: events.count)
        for k in 0..<events.count {
            let t = events.t[k]
            precondition(t >= lastT, "events must arrive sorted by t")
            lastT = t
            let relative = t - timeOffset
            guard relative >= 0, relative <= Int64(UInt32.max) else {
                throw FileError(file: path, dataset: "/events/t", problem: "t = \(t) µs does not fit DSEC's uint32 µs after t_offset \(timeOffset)")
            }
            while relative >= Int64(msToIdx.count) * 1000 { msToIdx.append(UInt64(written + k)) }
            t32[k] = UInt32(relative)
        }
        let p8 = events.p.map { UInt8($0 > 0 ? 1 : 0) }
        try events.x.withUnsafeBufferPointer { try columns.x.append($0) }
        try events.y.withUnsafeBufferPointer { try columns.y.append($0) }
        try t32.withUnsafeBufferPointer { try columns.t.append($0) }
        try p8.withUnsafeBufferPointer { try columns.p.append($0) }
        written += events.count
    }

    public var eventCount: Int { written }

    public func finish() throws {
        guard let file else { return }
        try file.write(msToIdx, to: "/ms_to_idx")
        try file.writeScalar(timeOffset, to: "/t_offset")
        try file.flush()
        columns = nil
        self.file = nil
        do { try output.commit() } catch let error as AtomicOutputError {
            throw FileError(file: path, problem: error.problem)
        }
    }
}
