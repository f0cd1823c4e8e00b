import EventIO

/// The per-window tensors `evdistill convert` writes (formats.md §2, method.md §1).
public enum Representation: String, CaseIterable, Sendable {
    case voxelGrid = "voxel_grid"
    case histogram
    case timeSurface = "time_surface"
    case eventFrame = "event_frame"
}

public enum Normalization: String, CaseIterable, Sendable {
    case none
    /// E2VID: standardise the non-zero entries of each grid.
    case e2vid
}

/// What to build for each window: kind, size and options.
public struct RepresentationSpec: Sendable, Equatable {
    public var kind: Representation
    public var bins: Int
    public var height: Int
    public var width: Int
    public var normalization: Normalization
    /// Time-surface decay constant τ (µs).
    public var tauMicroseconds: Double

    public init(kind: Representation, bins: Int = 5, height: Int, width: Int,
                normalization: Normalization = .none, tauMicroseconds: Double = 10_000) {
        self.kind = kind
        self.bins = bins
        self.height = height
        self.width = width
        self.normalization = normalization
        self.tauMicroseconds = tauMicroseconds
    }

    /// C of the `[N, C, H, W]` output.
    public var channels: Int {
        switch kind {
        case .voxelGrid: return bins
        case .histogram, .timeSurface: return 2
        case .eventFrame: return 1
        }
    }

    public var elementsPerWindow: Int { channels * height * width }
}

/// Builds one representation per window from events streamed in blocks: `begin`, any number
/// of `add`, then `finish`. Memory: one grid (plus per-pixel times for the time surface).
public final class RepresentationBuilder {
    public let spec: RepresentationSpec
    public private(set) var grid: [Float]
    private var window: EventWindow?
    private var latest: LatestEventTimes?

    public init(spec: RepresentationSpec) {
        self.spec = spec
        grid = [Float](repeating: 0, count: spec.elementsPerWindow)
        if spec.kind == .timeSurface { latest = LatestEventTimes(height: spec.height, width: spec.width) }
    }

    public func begin(_ window: EventWindow) {
        self.window = window
        grid.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        latest?.reset()
    }

    public func add(_ slice: EventSlice) {
        guard let window, let tFirst = window.tFirst, let tLast = window.tLast else { return }
        let (h, w) = (spec.height, spec.width)
        switch spec.kind {
        case .voxelGrid:
            grid.withUnsafeMutableBufferPointer {
                accumulateVoxelGrid(slice, tFirst: tFirst, tLast: tLast, bins: spec.bins, height: h, width: w, into: $0)
            }
        case .histogram:
            grid.withUnsafeMutableBufferPointer { accumulateHistogram(slice, height: h, width: w, into: $0) }
        case .eventFrame:
            grid.withUnsafeMutableBufferPointer { accumulateEventFrame(slice, height: h, width: w, into: $0) }
        case .timeSurface:
            latest?.add(slice)
        }
    }

    /// The finished grid `[C, H, W]` of the current window.
    public func finish() -> [Float] {
        if spec.kind == .timeSurface, let latest, let window {
            grid.withUnsafeMutableBufferPointer {
                latest.surface(windowEnd: window.tEnd, tauMicroseconds: spec.tauMicroseconds, into: $0)
            }
        }
        if spec.normalization == .e2vid { normalizeE2VID(&grid) }
        return grid
    }
}
