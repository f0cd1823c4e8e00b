import ArgumentParser
import EventIO
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe an event recording: layout, sensor, events, duration, rate, polarity, compression, order.",
        discussion: "Reads the whole file in bounded blocks (memory stays flat) to count polarities and check the order of t."
    )

    @Argument(help: "An event recording (DSEC, MVSEC or plain HDF5 layout).")
    var file: String

    @OptionGroup var reader: ReaderOptions

    @Flag(help: "Print one JSON object on stdout instead of a table.")
    var json = false

    func run() throws {
        let events = try EventFile(path: file, options: reader.fileOptions)
        let summary = try EventSummary.scan(events)
        if json {
            print(summary.json(events).rendered)
        } else {
            print(summary.table(events))
        }
    }
}

/// What `inspect` learns from one pass over a recording.
struct EventSummary {
    var on = 0
    var off = 0
    var tFirst: Int64?
    var tLast: Int64?
    var firstDecrease: Int?

    static func scan(_ file: EventFile, block: Int = 1 << 20) throws -> EventSummary {
        var summary = EventSummary()
        var previous: Int64?
        var start = 0
        while start < file.count {
            let end = min(start + block, file.count)
            let packet = try file.read(start..<end, checkingOrder: false)
            var on = 0
            packet.p.withUnsafeBufferPointer { p in for v in p where v > 0 { on += 1 } }
            summary.on += on
            summary.off += packet.count - on
            if summary.firstDecrease == nil {
                if let previous, let first = packet.t.first, first < previous { summary.firstDecrease = start }
                else if let k = packet.t.indices.dropFirst().first(where: { packet.t[$0] < packet.t[$0 - 1] }) {
                    summary.firstDecrease = start + k
                }
            }
            summary.tFirst = summary.tFirst ?? packet.t.first
            summary.tLast = packet.t.last
            previous = packet.t.last
            start = end
        }
        return summary
    }

    var duration: Double? { tFirst.flatMap { first in tLast.map { Double($0 - first) / 1e6 } } }
    var rate: Double? { duration.flatMap { $0 > 0 ? Double(on + off) / $0 : nil } }

    func json(_ file: EventFile) -> JSONObject {
        var object = JSONObject()
        object.add("file", file.path)
        object.add("layout", file.layout.rawValue)
        object.add("datasets", strings: file.datasetNames)
        var sensor = JSONObject()
        sensor.add("width", file.sensor.width)
        sensor.add("height", file.sensor.height)
        sensor.add("source", file.sensorSource)
        object.add("sensor", object: sensor)
        object.add("events", file.count)
        object.add("t_first_us", tFirst)
        object.add("t_last_us", tLast)
        object.add("t_offset_us", file.timeOffset)
        object.add("duration_s", duration)
        object.add("event_rate_hz", rate)
        object.add("on_events", on)
        object.add("off_events", off)
        object.add("on_fraction", file.count > 0 ? Double(on) / Double(file.count) : nil)
        object.add("compression", file.compression)
        object.add("time_index", file.hasTimeIndex ? "/ms_to_idx" : nil)
        object.add("t_sorted", firstDecrease == nil)
        object.add("first_unsorted_index", firstDecrease)
        return object
    }

    func table(_ file: EventFile) -> String {
        var rows: [(String, String)] = [
            ("file", file.path),
            ("layout", file.layout.rawValue),
            ("datasets", file.datasetNames.joined(separator: " ") + (file.hasTimeIndex ? " (+ /ms_to_idx index)" : "")),
            ("sensor", "\(file.sensor) (\(file.sensorSource))"),
            ("events", grouped(file.count)),
        ]
        if let tFirst, let tLast, let duration {
            rows.append(("time range", "\(tFirst) … \(tLast) µs" + (file.timeOffset != 0 ? " (t_offset \(file.timeOffset) µs)" : "")))
            rows.append(("duration", String(format: "%.6f s", duration)))
        }
        if let rate { rows.append(("event rate", String(format: "%.3f M events/s", rate / 1e6))) }
        if file.count > 0 {
            let onShare = 100 * Double(on) / Double(file.count)
            rows.append(("polarity", String(format: "ON %@ (%.1f %%), OFF %@ (%.1f %%)", grouped(on), onShare, grouped(off), 100 - onShare)))
        }
        rows.append(("compression", file.compression))
        rows.append(("t sorted", firstDecrease.map { "no: first decrease at index \($0)" } ?? "yes"))
        return rows.map { $0.0.padding(toLength: 12, withPad: " ", startingAt: 0) + " " + $0.1 }.joined(separator: "\n")
    }
}
