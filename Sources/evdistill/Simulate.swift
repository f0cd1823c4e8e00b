import ArgumentParser
import ConsoleProgress
import EventIO
import Foundation
import HDF5
import Imaging
import Simulation

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate events from your frames, or generate the labelled driving benchmark.",
        discussion: """
        From frames:  evdistill simulate --frames DIR -o events.h5
          DIR holds PNG frames (grey or colour; read as grey in [0, 1]) and timestamps.txt: one line per \
        frame in the order of the file names sorted lexicographically, each '<t_us>' or '<file name> <t_us>', \
        integer microseconds, strictly increasing. Output: the DSEC layout (events/x,y,t,p, ms_to_idx, \
        t_offset = first frame's time, width/height attributes).

        Benchmark:    evdistill simulate --scenes N --seed S -o DIR
          Renders N training scenes (plus --val-scenes, --test-scenes, and two unpaired sets) of a procedural \
        driving world with the 6 DDD17 classes, at 500 Hz internally, simulates events from every internal \
        frame, keeps 20 Hz camera frames (dark stretches: long exposure, noise; over-exposed: clipping) with \
        labels, and writes DIR/train.h5, val.h5, test.h5 (paired images/events/labels), \
        DIR/unpaired_images.h5 (images + labels) and DIR/unpaired_events.h5 (events only, other scenes). \
        Events: E2VID voxel grid of the 50 ms before each frame.

        Simulator (method.md §7): L = log(1e-3 + I); per-pixel thresholds ~ N(C, σ²) clamped ≥ 0.01; linear \
        interpolation of L and of event times between frames; optional refractory period, background noise \
        and hot pixels. Deterministic for a seed.
        """
    )

    @Option(help: "Folder of PNG frames with timestamps.txt.")
    var frames: String?

    @Option(help: "Timestamps file (default: FRAMES/timestamps.txt).")
    var timestamps: String?

    @Option(help: "Training scenes of the generated benchmark.")
    var scenes: Int?

    @Option(help: "Validation scenes (default: max(1, scenes/4)).")
    var valScenes: Int?

    @Option(help: "Test scenes (default: max(1, scenes/4)).")
    var testScenes: Int?

    @Option(help: "Scenes in each unpaired set (default: max(1, scenes/2)).")
    var unpairedScenes: Int?

    @Option(help: "Seconds per scene.")
    var sceneSeconds: Double = 3

    @Option(help: "Frame height of the benchmark.")
    var height: Int = 128

    @Option(help: "Frame width of the benchmark.")
    var width: Int = 256

    @Option(help: "Voxel-grid bins of the benchmark's event windows.")
    var bins: Int = 5

    @Option(help: "With --scenes: also write the raw events of the first training scene here (DSEC layout).")
    var recording: String?

    @Option(name: .shortAndLong, help: "Output: events .h5 (--frames) or a folder (--scenes).")
    var output: String

    @Option(help: "Mean contrast threshold C (ON and OFF).")
    var contrast: Float = 0.2

    @Option(help: "Per-pixel threshold mismatch σ.")
    var thresholdSigma: Float = 0.03

    @Option(help: "Refractory period in µs (default: 0 from frames, 100 for the benchmark).")
    var refractoryUs: Int64?

    @Option(help: "Background noise events per second per pixel, each polarity (default: 0 from frames, 0.05 for the benchmark).")
    var noiseHz: Double?

    @Option(help: "Fraction of hot pixels (fire ON at 200 Hz).")
    var hotPixels: Double = 0

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        if (frames == nil) == (scenes == nil) { throw ValidationError("give exactly one of --frames or --scenes") }
        if let scenes, scenes < 1 { throw ValidationError("--scenes must be at least 1") }
        if height % 8 != 0 || width % 8 != 0 || height < 16 || width < 16 {
            throw ValidationError("--height and --width must be multiples of 8, at least 16 (the U-Net pools three times)")
        }
        if !(sceneSeconds >= 0.2) { throw ValidationError("--scene-seconds must be at least 0.2") }
        if !(contrast > 0) { throw ValidationError("--contrast must be positive") }
    }

    func simulatorConfig(benchmark: Bool) -> SimulatorConfig {
        var config = SimulatorConfig()
        config.contrastOn = contrast
        config.contrastOff = contrast
        config.thresholdSigma = thresholdSigma
        config.refractoryMicroseconds = refractoryUs ?? (benchmark ? 100 : 0)
        config.noiseRateOn = noiseHz ?? (benchmark ? 0.05 : 0)
        config.noiseRateOff = config.noiseRateOn
        config.hotPixelFraction = hotPixels
        config.seed = seed
        return config
    }

    func run() throws {
        if let frames { try simulateFrames(frames) } else { try generateBenchmark() }
    }

    func simulateFrames(_ folder: String) throws {
        let input = try FrameFolder(folder: folder, timestampsFile: timestamps)
        let first = try input.intensities(0)
        let simulator = EventSimulator(width: first.width, height: first.height, config: simulatorConfig(benchmark: false))
        let writer = try DSECEventWriter(path: output, sensor: SensorSize(width: first.width, height: first.height),
                                         timeOffset: input.frames[0].time)
        let bar = ProgressBar(label: "simulate", total: input.frames.count, unit: "frames", quiet: quiet)
        for index in input.frames.indices {
            let frame = index == 0 ? first : try input.intensities(index, width: first.width, height: first.height)
            do {
                try writer.append(try simulator.addFrame(frame.values, at: input.frames[index].time))
            } catch let error as SimulationError {
                throw FileError(file: input.frames[index].path, problem: error.description)
            }
            bar.advance(note: "\(grouped(writer.eventCount)) events")
        }
        try writer.finish()
        bar.finish()
        if !quiet { FileHandle.standardError.write(Data("\(output): \(grouped(writer.eventCount)) events (DSEC layout)\n".utf8)) }
    }

    func generateBenchmark() throws {
        let train = scenes ?? 1
        var spec = BenchmarkSpec()
        spec.width = width
        spec.height = height
        spec.sceneSeconds = sceneSeconds
        spec.bins = bins
        spec.seed = seed
        spec.simulator = simulatorConfig(benchmark: true)
        let plan: [(name: String, scenes: Int, images: Bool, events: Bool, labels: Bool, paired: Bool, what: String)] = [
            ("train", train, true, true, true, true, "paired images, events and labels"),
            ("val", valScenes ?? max(1, train / 4), true, true, true, true, "paired images, events and labels"),
            ("test", testScenes ?? max(1, train / 4), true, true, true, true, "paired images, events and labels"),
            ("unpaired_images", unpairedScenes ?? max(1, train / 2), true, false, true, false, "labelled images; scenes not in unpaired_events"),
            ("unpaired_events", unpairedScenes ?? max(1, train / 2), false, true, false, false, "unlabelled events; scenes not in unpaired_images"),
        ]
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let framesPerScene = Int(sceneSeconds * Double(spec.internalRate)) + 1
        let bar = ProgressBar(label: "simulate", total: plan.reduce(0) { $0 + $1.scenes } * framesPerScene, unit: "frames", quiet: quiet)
        var sceneIndex = 0
        for split in plan {
            let writer = try SplitWriter(path: output + "/\(split.name).h5", spec: spec, withImages: split.images,
                                         withEvents: split.events, withLabels: split.labels, paired: split.paired,
                                         description: split.what)
            for _ in 0..<split.scenes {
                // Every split draws its own scenes: seeds never repeat across splits.
                let scene = DrivingScene(width: width, height: height, duration: sceneSeconds, seed: seed &* 1_000_003 &+ UInt64(sceneIndex))
                let recorder = try recording.flatMap { path in
                    sceneIndex == 0 ? try DSECEventWriter(path: path, sensor: SensorSize(width: width, height: height), timeOffset: 0) : nil
                }
                try DatasetGenerator.generate(scene: scene, spec: spec, sceneIndex: sceneIndex, progress: { bar.advance() },
                                              rawEvents: recorder.map { writer in { try writer.append($0) } }) { sample in
                    try writer.append(sample, scene: sceneIndex)
                }
                try recorder?.finish()
                sceneIndex += 1
            }
            try writer.finish()
            if !quiet {
                FileHandle.standardError.write(Data("\n\(writer.path): \(writer.count) samples from \(split.scenes) scenes (\(split.what))\n".utf8))
            }
        }
        bar.finish()
    }
}
