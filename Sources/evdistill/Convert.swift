import ArgumentParser
import ConsoleProgress
import EventIO
import EventRepresentations
import Foundation
import HDF5

extension Representation: ExpressibleByArgument {}
extension Normalization: ExpressibleByArgument {}
extension GridCompression: ExpressibleByArgument {}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert event recordings into per-window tensors [N, C, H, W] in HDF5.",
        discussion: """
        Output (one line in h5py: h5py.File(OUT)["voxel_grid"][:]): /<representation> float32 [N, C, H, W], \
        one chunk per window; /window_t int64 [N, 2] = [t_start, t_end) µs; /window_events int64 [N]; \
        attributes representation, bins, window_ms or window_events, height, width, source, source_format, \
        normalization, evdistill_version.

        Windows: --window-ms D cuts [t_a + kD, t_a + (k+1)D) with t_a the range start (default: the first \
        event's millisecond); --window-events K cuts runs of K events. Every event of the range lands in \
        exactly one window; a window without events is an all-zero grid.

        --start-ms/--end-ms count milliseconds from the recording's origin: DSEC's t_offset (so they match \
        ms_to_idx), else the first event's millisecond.

        With several inputs, -o names a folder and each input is written to FOLDER/<input name>.h5. \
        Files are written under a temporary name and renamed into place when complete.
        """
    )

    @Argument(help: "Event recordings (DSEC, MVSEC or plain layout).")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output .h5 file (or folder, with several inputs).")
    var output: String

    @OptionGroup var reader: ReaderOptions

    @Option(help: "voxel_grid, histogram, time_surface or event_frame.")
    var representation: Representation = .voxelGrid

    @Option(help: "Temporal bins of the voxel grid.")
    var bins: Int = 5

    @Option(name: .customLong("window-ms"), help: "Window length in milliseconds.")
    var windowMilliseconds: Double?

    @Option(name: .customLong("window-events"), help: "Events per window.")
    var windowEvents: Int?

    @Option(name: .customLong("start-ms"), help: "Start of the range (ms from the recording's origin).")
    var startMilliseconds: Double?

    @Option(name: .customLong("end-ms"), help: "End of the range, exclusive (ms from the recording's origin).")
    var endMilliseconds: Double?

    @Option(help: "none, or e2vid (standardise the non-zero entries of each grid).")
    var normalize: Normalization = .none

    @Option(name: .customLong("tau-ms"), help: "Time-surface decay constant τ in milliseconds.")
    var tauMilliseconds: Double = 10

    @Option(help: "gzip (opens in stock h5py), blosc (zstd; needs hdf5plugin to read) or none.")
    var compression: GridCompression = .gzip

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        if (windowMilliseconds == nil) == (windowEvents == nil) {
            throw ValidationError("give exactly one of --window-ms or --window-events")
        }
        if let windowMilliseconds, !(windowMilliseconds > 0) { throw ValidationError("--window-ms must be positive") }
        if let windowEvents, windowEvents <= 0 { throw ValidationError("--window-events must be positive") }
        if bins < 1 || bins > 1024 { throw ValidationError("--bins must be between 1 and 1024") }
        if !(tauMilliseconds > 0) { throw ValidationError("--tau-ms must be positive") }
        if let startMilliseconds, let endMilliseconds, endMilliseconds <= startMilliseconds {
            throw ValidationError("--end-ms must be after --start-ms")
        }
    }

    /// Output path for each input: -o itself, or FOLDER/<name>.h5 with several inputs.
    func outputPaths() throws -> [String] {
        guard inputs.count > 1 else { return [output] }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            } catch {
                throw FileError(file: output, problem: "cannot create the output folder: \(error.localizedDescription)")
            }
        } else if !isDirectory.boolValue {
            throw ValidationError("with several inputs, -o must name a folder (\(output) is a file)")
        }
        let names = inputs.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent + ".h5" }
        if Set(names).count != names.count { throw ValidationError("several inputs share a file name; convert them one at a time") }
        return names.map { output + "/" + $0 }
    }

    func run() throws {
        let window: WindowSpec = windowEvents.map { .eventCount($0) }
            ?? .duration(microseconds: Int64((windowMilliseconds! * 1000).rounded()))
        for (input, path) in zip(inputs, try outputPaths()) {
            let request = ConversionRequest(
                input: input, output: path, readerOptions: reader.fileOptions, representation: representation,
                bins: bins, normalization: normalize, tauMicroseconds: tauMilliseconds * 1000, window: window,
                startMilliseconds: startMilliseconds, endMilliseconds: endMilliseconds, compression: compression)
            let converter = try RecordingConverter(request)
            let bar = ProgressBar(label: URL(fileURLWithPath: input).lastPathComponent, total: converter.totalEvents,
                                  unit: "ev", quiet: quiet)
            let report = try converter.run { bar.advance(by: $0) }
            bar.finish()
            if !quiet {
                FileHandle.standardError.write(Data(("\(path): \(report.windows) windows of \(representation.rawValue) "
                    + "[\(converter.spec.channels), \(report.sensor.height), \(report.sensor.width)] from "
                    + "\(grouped(report.events)) events (\(report.layout.rawValue))"
                    + (report.emptyWindows > 0 ? ", \(report.emptyWindows) empty" : "") + "\n").utf8))
            }
        }
    }
}
