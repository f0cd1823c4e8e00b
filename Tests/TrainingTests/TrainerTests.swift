import XCTest
import HDF5
import Models
import Tensor
@testable import Training

/// Training end to end on a tiny, learnable task, and exact resume.
final class TrainerTests: XCTestCase {
    var folder: URL!
    var trainPath: String { folder.appendingPathComponent("train.h5").path }
    var valPath: String { folder.appendingPathComponent("val.h5").path }

    /// Blobs: label 1 where the image is bright (a smoothed random field above 0.5), else 0;
    /// pixels at the blob borders are labelled 255 (ignored).
    func writeSplit(_ path: String, samples: Int, seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let (h, w) = (16, 16)
        var images = [UInt8](), labels = [UInt8]()
        for _ in 0..<samples {
            let cx = Float(generator.nextUnitFloat() * 16), cy = Float(generator.nextUnitFloat() * 16), r = 3 + generator.nextUnitFloat() * 4
            for y in 0..<h {
                for x in 0..<w {
                    let dx: Float = Float(x) - cx, dy: Float = Float(y) - cy
                    let d: Float = (dx * dx + dy * dy).squareRoot()
                    let value: Float = d < r ? 0.8 : 0.2
                    let noisy: Float = (value + (generator.nextUnitFloat() - 0.5) * 0.2) * 255
                    images.append(UInt8(max(0, min(255, noisy))))
                    labels.append(abs(d - r) < 0.7 ? 255 : (d < r ? 1 : 0))
                }
            }
        }
        let file = try HDF5File(creating: path)
        try file.write(images, to: "/images", shape: [samples, h, w])
        try file.write(labels, to: "/labels", shape: [samples, h, w])
        try file.attributes().set("classes", strings: ["background", "blob"])
    }

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("evd-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try writeSplit(trainPath, samples: 24, seed: 1)
        try writeSplit(valPath, samples: 8, seed: 2)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func config(epochs: Int) -> TrainingConfig {
        var config = TrainingConfig(modality: .images, train: trainPath, val: valPath, epochs: epochs, batchSize: 4, learningRate: 0.01, seed: 3)
        config.widths = [4, 8, 8, 8]
        return config
    }

    func testTrainingLearnsTheTaskAndWritesTheRun() throws {
        let run = folder.appendingPathComponent("run").path
        let trainer = try SegmentationTrainer(config: config(epochs: 12), folder: run, resume: false)
        let untrained = try trainer.evaluate(trainer.val).meanIntersectionOverUnion ?? 0
        var epochs: [EpochMetrics] = []
        try trainer.run(onEpoch: { epochs.append($0) })
        XCTAssertEqual(epochs.count, 12)
        XCTAssertLessThan(epochs.last!.trainLoss, epochs.first!.trainLoss * 0.5, "the loss falls")
        let best = try XCTUnwrap(trainer.state.bestMIoU)
        XCTAssertGreaterThan(best, 0.8, "blobs are easy: the best validation mIoU exceeds 80 % (untrained: \(untrained))")
        for name in ["model.safetensors", "last.safetensors", "optimizer.safetensors", "state.json", "run.json", "metrics.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/" + name), name)
        }
        XCTAssertEqual(try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").count, 12)
        // The best checkpoint reproduces the best score.
        let reloaded = try UNet(checkpoint: run + "/model.safetensors")
        let score = try SegmentationTrainer.evaluate(reloaded, on: trainer.val, batchSize: 4).meanIntersectionOverUnion
        XCTAssertEqual(try XCTUnwrap(score), best, accuracy: 1e-9)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "no temporary files remain")
    }

    /// 3 epochs straight = 2 epochs, stop, resume for the third: the same losses, step by step,
    /// and the same weights.
    func testResumeGivesTheSameRunAsNoInterruption() throws {
        let straight = folder.appendingPathComponent("straight").path, interrupted = folder.appendingPathComponent("interrupted").path
        let a = try SegmentationTrainer(config: config(epochs: 3), folder: straight, resume: false)
        a.recordStepLosses = true
        var lossesA: [[Double]] = []
        try a.run(onEpoch: { lossesA.append($0.losses ?? []) })

        // The interrupted run is planned for 3 epochs (the schedule depends on it) but stops after 2.
        let b = try SegmentationTrainer(config: config(epochs: 3), folder: interrupted, resume: false)
        b.recordStepLosses = true
        var lossesB: [[Double]] = []
        do {
            try b.run(onEpoch: { metrics in
                lossesB.append(metrics.losses ?? [])
                if metrics.epoch == 2 { throw CancellationError() }
            })
        } catch is CancellationError {}
        let resumed = try SegmentationTrainer(config: config(epochs: 3), folder: interrupted, resume: true)
        resumed.recordStepLosses = true
        XCTAssertEqual(resumed.state.epochsDone, 2)
        try resumed.run(onEpoch: { lossesB.append($0.losses ?? []) })

        XCTAssertEqual(lossesA.count, 3)
        XCTAssertEqual(lossesA, lossesB, "every step's loss is identical")
        XCTAssertEqual(a.model.stateDict().map(\.value), resumed.model.stateDict().map(\.value), "the same weights and statistics")
    }

    func testResumeWithoutARunIsAClearError() {
        XCTAssertThrowsError(try SegmentationTrainer(config: config(epochs: 1), folder: folder.appendingPathComponent("none").path, resume: true)) { error in
            XCTAssertTrue("\(error)".contains("run.json missing: nothing to resume"), "\(error)")
        }
    }
}
