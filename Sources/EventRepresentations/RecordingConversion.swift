import EventIO
import Foundation

/// One `evdistill convert` job: a recording in, a file of per-window grids out (formats.md §2).
public struct ConversionRequest: Sendable {
    public var input: String
    public var output: String
    public var readerOptions: EventFileOptions
    public var representation: Representation
    public var bins: Int
    public var normalization: Normalization
    public var tauMicroseconds: Double
    public var window: WindowSpec
    /// Range in ms from the recording's time origin (`EventFile.timeOrigin`).
    public var startMilliseconds: Double?
    public var endMilliseconds: Double?
    public var compression: GridCompression
    /// Events per streamed block (memory bound).
    public var blockSize: Int

    public init(input: String, output: String, readerOptions: EventFileOptions = EventFileOptions(),
                representation: Representation, bins: Int = 5, normalization: Normalization = .none,
                tauMicroseconds: Double = 10_000, window: WindowSpec, startMilliseconds: Double? = nil,
                endMilliseconds: Double? = nil, compression: GridCompression = .gzip, blockSize: Int = 1 << 20) {
        self.input = input
        self.output = output
        self.readerOptions = readerOptions
        self.representation = representation
        self.bins = bins
        self.normalization = normalization
        self.tauMicroseconds = tauMicroseconds
        self.window = window
        self.startMilliseconds = startMilliseconds
        self.endMilliseconds = endMilliseconds
        self.compression = compression
        self.blockSize = blockSize
    }
}

public struct ConversionReport: Sendable {
    public let windows: Int
    public let events: Int
    public let emptyWindows: Int
    public let sensor: SensorSize
    public let layout: EventLayout
}

/// Streams a recording window by window into a grid file; the output appears only when complete.
public final class RecordingConverter {
    public let request: ConversionRequest
    public let file: EventFile
    public let reader: WindowedEventReader
    public let spec: RepresentationSpec

    /// Opens the input and plans the windows (errors here leave no output behind).
    public init(_ request: ConversionRequest) throws {
        self.request = request
        file = try EventFile(path: request.input, options: request.readerOptions)
        let origin = file.timeOrigin
        let toMicroseconds = { (ms: Double) in origin + Int64((ms * 1000).rounded()) }
        reader = try WindowedEventReader(file: file, spec: request.window,
                                         start: request.startMilliseconds.map(toMicroseconds),
                                         end: request.endMilliseconds.map(toMicroseconds),
                                         blockSize: request.blockSize)
        spec = RepresentationSpec(kind: request.representation, bins: request.bins, height: file.sensor.height,
                                  width: file.sensor.width, normalization: request.normalization,
                                  tauMicroseconds: request.tauMicroseconds)
    }

    /// Events the conversion will read (for progress bars).
    public var totalEvents: Int { reader.events.count }

    /// Runs the conversion; `progress` receives the number of events just processed.
    public func run(progress: (Int) -> Void = { _ in }) throws -> ConversionReport {
        var attributes: [(String, AttributeValue)] = [
            ("representation", .string(spec.kind.rawValue)),
            ("bins", .int(spec.channels)),
            ("height", .int(spec.height)),
            ("width", .int(spec.width)),
            ("source", .string(URL(fileURLWithPath: request.input).lastPathComponent)),
            ("source_format", .string(file.layout.rawValue)),
            ("normalization", .string(spec.normalization.rawValue)),
            ("evdistill_version", .string(evdistillVersion)),
            ("t_start_us", .int(Int(reader.rangeStart))),
            ("t_end_us", .int(Int(reader.rangeEnd))),
        ]
        switch request.window {
        case .duration(let us): attributes.append(("window_ms", .double(Double(us) / 1000)))
        case .eventCount(let k): attributes.append(("window_events", .int(k)))
        }
        if spec.kind == .timeSurface { attributes.append(("tau_us", .double(spec.tauMicroseconds))) }

        let writer = try GridFileWriter(path: request.output, dataset: spec.kind.rawValue, windows: reader.windowCount,
                                        channels: spec.channels, height: spec.height, width: spec.width,
                                        compression: request.compression, attributes: attributes)
        let builder = RepresentationBuilder(spec: spec)
        var events = 0, empty = 0
        while let window = try reader.nextWindow() {
            builder.begin(window)
            while let slice = try reader.nextSlice() {
                builder.add(slice)
                progress(slice.count)
            }
            if window.events.isEmpty { empty += 1 }
            events += window.events.count
            try writer.append(builder.finish(), tStart: window.tStart, tEnd: window.tEnd, events: window.events.count)
        }
        try writer.finish()
        return ConversionReport(windows: reader.windowCount, events: events, emptyWindows: empty, sensor: file.sensor, layout: file.layout)
    }
}
