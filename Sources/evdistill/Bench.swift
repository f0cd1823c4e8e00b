import ArgumentParser
import EventIO
import EventRepresentations
import Foundation
import HDF5
import ParallelLoops
import Simulation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput (release builds only give meaningful figures).",
        discussion: "Each prints one JSON object with --json: benchmark, events, seconds (median), events_per_second, threads.",
        subcommands: [Voxelize.self, Histogram.self, Read.self, Simulate.self, Conv.self, TrainStep.self]
    )
}

/// Synthetic events like the anchors': uniform x, y, polarity; t evenly spread over `spanUs`.
func syntheticEvents(count: Int, width: Int, height: Int, spanMicroseconds: Int64, seed: UInt64) -> EventPacket {
    var rng = SeededRandom(seed: seed)
    var packet = EventPacket(zeroed: count)
    for k in 0..<count {
        let r = rng.next()
        packet.x[k] = UInt16((r & 0xFFFF_FFFF) % UInt64(width))
        packet.y[k] = UInt16((r >> 32) % UInt64(height))
        packet.p[k] = rng.next() & 1 == 0 ? -1 : 1
        packet.t[k] = Int64(k) * spanMicroseconds / Int64(max(count, 1))
    }
    return packet
}

/// Median wall time of `repeat` runs after one warm-up.
func medianSeconds(repeat count: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<max(count, 1) {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

struct BenchEventOptions: ParsableArguments {
    @Option(help: "Synthetic events (ignored with --file).")
    var events: Int = 10_000_000
    @Option(help: "Sensor width.")
    var width: Int = 346
    @Option(help: "Sensor height.")
    var height: Int = 260
    @Option(help: "Read the events from this recording instead of making them.")
    var file: String?
    @Option(help: "Timed runs (after one warm-up); the median is reported.")
    var `repeat`: Int = 5
    @Flag(help: "Print one JSON object.")
    var json = false

    func loadEvents() throws -> (EventPacket, SensorSize) {
        if let file {
            let recording = try EventFile(path: file)
            return (try recording.read(0..<recording.count), recording.sensor)
        }
        return (syntheticEvents(count: events, width: width, height: height, spanMicroseconds: 50_000, seed: 42),
                SensorSize(width: width, height: height))
    }

    func report(_ name: String, events: Int, seconds: Double, extra: JSONObject? = nil) {
        if json {
            var object = JSONObject()
            object.add("benchmark", name)
            object.add("events", events)
            object.add("seconds", seconds)
            object.add("events_per_second", Double(events) / seconds)
            object.add("threads", availableCores)
            if let extra { object.add("details", object: extra) }
            print(object.rendered)
        } else {
            print(String(format: "%@: %@ events in %.4f s = %.1f M events/s (%d threads)", name, grouped(events), seconds,
                         Double(events) / seconds / 1e6, availableCores))
        }
    }
}

extension Bench {
    struct Voxelize: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "E2VID voxel grid of one window of events.")
        @OptionGroup var options: BenchEventOptions
        @Option(help: "Temporal bins.")
        var bins: Int = 5

        func run() throws {
            let (events, sensor) = try options.loadEvents()
            var grid = [Float](repeating: 0, count: bins * sensor.height * sensor.width)
            let seconds = medianSeconds(repeat: options.repeat) {
                grid.withUnsafeMutableBufferPointer { grid in
                    grid.update(repeating: 0)
                    accumulateVoxelGrid(EventSlice(events), tFirst: events.t.first ?? 0, tLast: events.t.last ?? 0,
                                        bins: bins, height: sensor.height, width: sensor.width, into: grid)
                }
            }
            var extra = JSONObject()
            extra.add("bins", bins)
            extra.add("width", sensor.width)
            extra.add("height", sensor.height)
            extra.add("checksum", grid.reduce(0.0) { $0 + Double(abs($1)) })
            options.report("voxelize", events: events.count, seconds: seconds, extra: extra)
        }
    }

    struct Histogram: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Two-channel ON/OFF count histogram of one window.")
        @OptionGroup var options: BenchEventOptions

        func run() throws {
            let (events, sensor) = try options.loadEvents()
            var grid = [Float](repeating: 0, count: 2 * sensor.height * sensor.width)
            let seconds = medianSeconds(repeat: options.repeat) {
                grid.withUnsafeMutableBufferPointer { grid in
                    grid.update(repeating: 0)
                    accumulateHistogram(EventSlice(events), height: sensor.height, width: sensor.width, into: grid)
                }
            }
            options.report("histogram", events: events.count, seconds: seconds)
        }
    }

    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read every event of a recording (x, y, t, p into memory, checked).",
            discussion: "Without --file, writes a DSEC-layout Blosc-zstd file of synthetic events to a temporary folder first."
        )
        @OptionGroup var options: BenchEventOptions
        @Option(help: "Events per read call.")
        var block: Int = 1 << 22

        func run() throws {
            var path = options.file
            var temporary: String?
            if path == nil {
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evdistill-bench-\(getpid())")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                temporary = folder.path
                path = folder.appendingPathComponent("events.h5").path
                let events = syntheticEvents(count: options.events, width: options.width, height: options.height,
                                             spanMicroseconds: 50_000, seed: 42)
                try writeDSEC(events, to: path!)
            }
            defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
            let recording = try EventFile(path: path!)
            var checksum = 0
            var packet = EventPacket()  // one buffer reused across blocks, as `convert` streams
            let seconds = try medianSeconds(repeat: options.repeat) {
                var start = 0
                checksum = 0
                while start < recording.count {
                    let end = min(start + block, recording.count)
                    try recording.read(start..<end, into: &packet)
                    checksum &+= Int(packet.x[0]) &+ Int(packet.t[packet.count - 1])
                    start = end
                }
            }
            var extra = JSONObject()
            extra.add("file", path)
            extra.add("layout", recording.layout.rawValue)
            extra.add("compression", recording.compression)
            extra.add("checksum", checksum)
            options.report("read", events: recording.count, seconds: seconds, extra: extra)
        }
    }
}

/// Writes events in the DSEC layout (Blosc-zstd chunks of 65,536, like the public files).
func writeDSEC(_ events: EventPacket, to path: String, chunk: Int = 65_536) throws {
    let file = try HDF5File(creating: path)
    let n = events.count
    let c = [min(chunk, max(n, 1))]
    try file.createDataset("/events/x", of: UInt16.self, shape: [n], chunk: c, bloscZstdLevel: 5)
        .writeAll(events.x.withUnsafeBufferPointer { $0 })
    try file.createDataset("/events/y", of: UInt16.self, shape: [n], chunk: c, bloscZstdLevel: 5)
        .writeAll(events.y.withUnsafeBufferPointer { $0 })
    let t = events.t.map { UInt32($0 - (events.t.first ?? 0)) }
    try file.createDataset("/events/t", of: UInt32.self, shape: [n], chunk: c, bloscZstdLevel: 5)
        .writeAll(t.withUnsafeBufferPointer { $0 })
    let p = events.p.map { UInt8($0 > 0 ? 1 : 0) }
    try file.createDataset("/events/p", of: UInt8.self, shape: [n], chunk: c, bloscZstdLevel: 5)
        .writeAll(p.withUnsafeBufferPointer { $0 })
    var msToIdx: [UInt64] = []
    var k = 0
    for ms in 0...Int((t.last ?? 0) / 1000) + 1 {
        while k < n && Int64(t[k]) < Int64(ms) * 1000 { k += 1 }
        msToIdx.append(UInt64(k))
    }
    try file.write(msToIdx, to: "/ms_to_idx")
    try file.writeScalar(events.t.first ?? 0, to: "/t_offset")
}
