import AtomicFiles
import HDF5

/// An attribute value for files we write.
public enum AttributeValue: Sendable, Equatable {
    case int(Int), double(Double), string(String), strings([String]), bool(Bool)
}

/// Compression of the grids we write. gzip (with byte shuffle) opens in stock h5py; Blosc-zstd
/// needs `hdf5plugin` on the reading side but writes faster.
public enum GridCompression: String, CaseIterable, Sendable {
    case gzip, blosc, none
}

/// Writes `[N, C, H, W]` float32 grids, one chunk per window, with `/window_t` and
/// `/window_events` (formats.md §2), to a temporary file renamed into place by `finish()`.
/// Dropped without `finish()` (an error, Ctrl-C unwinding), the temporary file is removed.
public final class GridFileWriter {
    public let path: String
    public let windowCount: Int
    let output: AtomicOutput
    private var file: HDF5File?
    private var grids: HDF5Dataset?
    private let elementsPerWindow: Int
    private var windowTimes: [Int64]
    private var windowEvents: [Int64]
    private var written = 0

    public init(path: String, dataset: String, windows: Int, channels: Int, height: Int, width: Int,
                compression: GridCompression = .gzip, attributes: [(String, AttributeValue)]) throws {
        self.path = path
        windowCount = windows
        do {
            output = try AtomicOutput(path: path)
        } catch let error as AtomicOutputError {
            throw FileError(file: path, problem: error.problem)
        }
        let file = try HDF5File(creating: output.temporaryPath)
        self.file = file
        let shape = [windows, channels, height, width]
        let grids = try file.createDataset("/" + dataset, of: Float.self, shape: shape, chunk: [1, channels, height, width],
                                       gzipLevel: compression == .gzip ? 1 : nil,
                                       bloscZstdLevel: compression == .blosc ? 5 : nil)
        self.grids = grids
        elementsPerWindow = channels * height * width
        windowTimes = []
        windowTimes.reserveCapacity(2 * windows)
        windowEvents = []
        windowEvents.reserveCapacity(windows)
        let root = try file.attributes()
        for (name, value) in attributes {
            switch value {
            case .int(let v): try root.set(name, v)
            case .double(let v): try root.set(name, v)
            case .string(let v): try root.set(name, v)
            case .strings(let v): try root.set(name, strings: v)
            case .bool(let v): try root.set(name, v)
            }
        }
    }

    /// Appends the next window's grid `[C, H, W]`.
    public func append(_ grid: [Float], tStart: Int64, tEnd: Int64, events: Int) throws {
        precondition(grid.count == elementsPerWindow, "grid has \(grid.count) values, expected \(elementsPerWindow)")
        precondition(written < windowCount, "more windows than announced")
        try grid.withUnsafeBufferPointer { try grids?.writeRows(from: $0, at: written) }
        windowTimes += [tStart, tEnd]
        windowEvents.append(Int64(events))
        written += 1
    }

    /// Writes the window tables, closes the file and renames it into place.
    public func finish() throws {
        guard let file else { return }
        precondition(written == windowCount, "wrote \(written) of \(windowCount) windows")
        try file.write(windowTimes, to: "/window_t", shape: [windowCount, 2])
        try file.write(windowEvents, to: "/window_events")
        try file.flush()
        // Release every handle so libhdf5 really closes the file before the rename.
        grids = nil
        self.file = nil
        do {
            try output.commit()
        } catch let error as AtomicOutputError {
            throw FileError(file: path, problem: error.problem)
        }
    }
}
