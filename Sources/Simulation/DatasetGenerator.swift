import AtomicFiles
import EventIO
import EventRepresentations
import Foundation
import HDF5

/// How a synthetic benchmark is made (`evdistill simulate --scenes`).
public struct BenchmarkSpec: Sendable {
    public var width = 256
    public var height = 128
    public var sceneSeconds = 3.0
    /// Internal render and simulation rate; frames are kept at `imageRate`.
    public var internalRate = 500
    public var imageRate = 20
    public var bins = 5
    public var simulator = SimulatorConfig()
    public var seed: UInt64 = 0

    public init() {
        simulator.noiseRateOn = 0.05
        simulator.noiseRateOff = 0.05
        simulator.refractoryMicroseconds = 100
    }

    /// Events of the `1/imageRate` s before each frame form its voxel grid.
    public var windowMicroseconds: Int64 { Int64(1_000_000 / imageRate) }
    public var framesPerImage: Int { internalRate / imageRate }
}

/// One labelled moment: the camera frame, the voxel grid of the events just before it, labels.
public struct BenchmarkSample {
    public var image: [UInt8]        // [H·W], what a frame camera records (may be dark, blurred, saturated)
    public var labels: [UInt8]       // [H·W], class ids
    public var events: [Float]       // [B·H·W], E2VID voxel grid of the window ending at `timestamp`
    public var eventCount: Int
    public var timestamp: Int64      // µs
    public var lighting: Lighting
}

public enum DatasetGenerator {
    /// Renders one scene at the internal rate, simulates events from every internal frame, and
    /// calls `body` for each kept frame (every `framesPerImage` internal frames after the first
    /// full event window). `sceneIndex` offsets timestamps so scenes never overlap in time.
    /// `rawEvents` receives every simulated event, in order (e.g. to write the recording itself).
    public static func generate(scene: DrivingScene, spec: BenchmarkSpec, sceneIndex: Int, progress: () -> Void = {},
                                rawEvents: ((EventPacket) throws -> Void)? = nil,
                                _ body: (BenchmarkSample) throws -> Void) throws {
        let (w, h) = (scene.width, scene.height)
        var config = spec.simulator
        config.seed = spec.seed &+ UInt64(sceneIndex) &* 7_919
        let simulator = EventSimulator(width: w, height: h, config: config)
        var noise = SeededRandom(seed: config.seed ^ 0xA5A5_A5A5)
        var irradiance = [Float](repeating: 0, count: w * h)
        var labels = [UInt8](repeating: 0, count: w * h)
        var recent: [[Float]] = []  // the last internal frames, for the camera's exposure
        var pending = EventPacket()
        let offset = Int64(sceneIndex) * 100_000_000
        let frames = Int(scene.duration * Double(spec.internalRate))
        for frame in 0...frames {
            let seconds = Double(frame) / Double(spec.internalRate)
            let time = offset + Int64((seconds * 1e6).rounded())
            scene.render(at: seconds, irradiance: &irradiance, labels: &labels)
            let events = try simulator.addFrame(irradiance, at: time)
            try rawEvents?(events)
            pending.x += events.x; pending.y += events.y; pending.t += events.t; pending.p += events.p
            recent.append(irradiance)
            if recent.count > 12 { recent.removeFirst() }
            progress()
            guard frame > 0, frame % spec.framesPerImage == 0 else { continue }
            // Events of [time − window, time): earlier ones were used by the previous sample.
            let cut = pending.firstIndex(atOrAfter: time)
            let start = pending.firstIndex(atOrAfter: time - spec.windowMicroseconds)
            let window = pending[start..<cut]
            pending = pending[cut..<pending.count]
            let lighting = scene.lighting(at: seconds).kind
            let image = cameraFrame(recent, lighting: lighting, noise: &noise)
            try body(BenchmarkSample(image: image, labels: labels, events: voxelGrid(window, bins: spec.bins, height: h, width: w),
                                     eventCount: window.count, timestamp: time, lighting: lighting))
        }
    }

    /// What an 8-bit frame camera records: exposure over recent internal frames (long in the
    /// dark, hence motion blur), a limited auto-exposure gain, read noise, clipping, quantisation.
    static func cameraFrame(_ recent: [[Float]], lighting: Lighting, noise: inout SeededRandom) -> [UInt8] {
        let exposureFrames = lighting == .dark ? 12 : (lighting == .overexposed ? 1 : 2)
        let used = recent.suffix(exposureFrames)
        let n = recent[0].count
        var mean = [Float](repeating: 0, count: n)
        for frame in used { for i in 0..<n { mean[i] += frame[i] } }
        let scale = 1 / Float(used.count)
        var total: Float = 0
        for i in 0..<n { mean[i] *= scale; total += mean[i] }
        let autoExposure = min(4, max(0.5, 0.45 / max(total / Float(n), 1e-6)))
        return mean.map { value in
            let noisy = value * autoExposure + Float(noise.normal()) * 0.02
            return UInt8(max(0, min(255, (noisy * 255).rounded())))
        }
    }
}

/// Writes one split in the dataset layout of formats.md §3, sample by sample, atomically.
public final class SplitWriter {
    public let path: String
    let output: AtomicOutput
    var file: HDF5File?
    var images: HDF5Dataset?, labels: HDF5Dataset?, events: HDF5Dataset?
    var timestamps: [Int64] = [], lighting: [UInt8] = [], scenes: [Int32] = [], eventCounts: [Int64] = []
    public private(set) var count = 0

    /// - Parameters: `withImages/withEvents/withLabels` choose the datasets (unpaired splits hold some).
    public init(path: String, spec: BenchmarkSpec, withImages: Bool, withEvents: Bool, withLabels: Bool, paired: Bool,
                description: String) throws {
        self.path = path
        do { output = try AtomicOutput(path: path) } catch let error as AtomicOutputError {
            throw FileError(file: path, problem: error.problem)
        }
        let file = try HDF5File(creating: output.temporaryPath)
        self.file = file
        let (h, w) = (spec.height, spec.width)
        if withImages {
            images = try file.createDataset("/images", of: UInt8.self, shape: [0, h, w], chunk: [1, h, w], gzipLevel: 4, extendible: true)
        }
        if withLabels {
            labels = try file.createDataset("/labels", of: UInt8.self, shape: [0, h, w], chunk: [1, h, w], gzipLevel: 4, extendible: true)
        }
        if withEvents {
            events = try file.createDataset("/events", of: Float.self, shape: [0, spec.bins, h, w], chunk: [1, spec.bins, h, w],
                                             gzipLevel: 4, extendible: true)
        }
        let root = try file.attributes()
        try root.set("classes", strings: DrivingClass.names)
        try root.set("height", h)
        try root.set("width", w)
        try root.set("representation", "voxel_grid")
        try root.set("bins", spec.bins)
        try root.set("window_ms", Double(spec.windowMicroseconds) / 1000)
        try root.set("normalization", "none")
        try root.set("paired", paired)
        try root.set("seed", Int(truncatingIfNeeded: spec.seed))
        try root.set("description", description)
        try root.set("evdistill_version", evdistillVersion)
    }

    public func append(_ sample: BenchmarkSample, scene: Int) throws {
        try sample.image.withUnsafeBufferPointer { try images?.append($0) }
        try sample.labels.withUnsafeBufferPointer { try labels?.append($0) }
        try sample.events.withUnsafeBufferPointer { try events?.append($0) }
        timestamps.append(sample.timestamp)
        lighting.append(sample.lighting.rawValue)
        scenes.append(Int32(scene))
        eventCounts.append(Int64(sample.eventCount))
        count += 1
    }

    public func finish() throws {
        guard let file else { return }
        try file.write(timestamps, to: "/timestamps")
        try file.write(lighting, to: "/lighting")
        try file.write(scenes, to: "/scene")
        try file.write(eventCounts, to: "/event_counts")
        let root = try file.attributes()
        try root.set("lighting_classes", strings: ["normal", "dark", "overexposed"])
        try file.flush()
        images = nil; labels = nil; events = nil
        self.file = nil
        do { try output.commit() } catch let error as AtomicOutputError {
            throw FileError(file: path, problem: error.problem)
        }
    }
}
