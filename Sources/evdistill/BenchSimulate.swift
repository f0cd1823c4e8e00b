import ArgumentParser
import EventIO
import Foundation
import HDF5
import Simulation

extension Bench {
    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Event simulator throughput on rendered driving frames (pixel-frames/s and events/s).",
            discussion: """
            Renders --frames frames of a driving scene at 500 Hz (or loads them with --load-frames), then times \
            only the simulator over all of them. --save-frames writes the frames (float32 [T, H, W] 'frames', \
            int64 [T] 'timestamps') so another implementation can run on exactly the same input.
            """
        )
        @Option(help: "Frames to simulate.")
        var frames: Int = 500
        @Option(help: "Frame width.")
        var width: Int = 346
        @Option(help: "Frame height.")
        var height: Int = 260
        @Option(help: "Scene seed.")
        var seed: UInt64 = 1
        @Option(help: "Write the frames to this HDF5 file.")
        var saveFrames: String?
        @Option(help: "Read frames from this HDF5 file instead of rendering.")
        var loadFrames: String?
        @Option(help: "Frames per addFrames call (1: frame by frame, as a live stream would).")
        var batch: Int = 25
        @Option(help: "Timed runs (after one warm-up); the median is reported.")
        var `repeat`: Int = 3
        @Flag(help: "Print one JSON object.")
        var json = false

        func run() throws {
            var images: [[Float]] = []
            var times: [Int64] = []
            var (w, h) = (width, height)
            if let loadFrames {
                let file = try HDF5File(path: loadFrames)
                let dataset = try file.openDataset("/frames")
                guard dataset.rank == 3 else { throw FileError(file: loadFrames, dataset: "/frames", problem: "expected [T, H, W]") }
                (h, w) = (dataset.shape[1], dataset.shape[2])
                for k in 0..<dataset.rowCount { images.append(try dataset.readRows(k..<(k + 1))) }
                times = try file.openDataset("/timestamps").readAll()
            } else {
                let scene = DrivingScene(width: w, height: h, duration: Double(frames) / 500, seed: seed)
                var irradiance = [Float](repeating: 0, count: w * h), labels = [UInt8](repeating: 0, count: w * h)
                for k in 0..<frames {
                    scene.render(at: Double(k) / 500, irradiance: &irradiance, labels: &labels)
                    images.append(irradiance)
                    times.append(Int64(k) * 2_000)
                }
            }
            if let saveFrames {
                let file = try HDF5File(creating: saveFrames)
                try file.write(images.flatMap { $0 }, to: "/frames", shape: [images.count, h, w])
                try file.write(times, to: "/timestamps")
            }
            var config = SimulatorConfig()
            config.seed = seed
            var events = 0
            let seconds = try medianSeconds(repeat: `repeat`) {
                let simulator = EventSimulator(width: w, height: h, config: config)
                events = 0
                for start in stride(from: 0, to: images.count, by: max(batch, 1)) {
                    let end = min(start + max(batch, 1), images.count)
                    events += try simulator.addFrames(Array(images[start..<end]), at: Array(times[start..<end])).reduce(0) { $0 + $1.count }
                }
            }
            let pixelFrames = Double(w * h * max(images.count - 1, 0))
            if json {
                var object = JSONObject()
                object.add("benchmark", "simulate")
                object.add("frames", images.count)
                object.add("width", w)
                object.add("height", h)
                object.add("events", events)
                object.add("seconds", seconds)
                object.add("pixel_frames_per_second", pixelFrames / seconds)
                object.add("events_per_second", Double(events) / seconds)
                object.add("batch", batch)
                print(object.rendered)
            } else {
                print(String(format: "simulate: %d frames %d×%d, %@ events in %.3f s = %.1f M pixel-frames/s, %.2f M events/s",
                             images.count, w, h, grouped(events), seconds, pixelFrames / seconds / 1e6, Double(events) / seconds / 1e6))
            }
        }
    }
}
