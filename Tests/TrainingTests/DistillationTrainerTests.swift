import XCTest
import HDF5
import Models
import Tensor
@testable import Training

/// Distillation end to end on a tiny paired task: blobs seen as frames and as "events"
/// (a two-channel view of the same blob), labels never shown to the student.
final class DistillationTrainerTests: XCTestCase {
    var folder: URL!
    var path: String { folder.appendingPathComponent("paired.h5").path }

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("evd-distill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var generator = SeededGenerator(seed: 21)
        let (n, h, w) = (24, 16, 16)
        var images = [UInt8](), labels = [UInt8](), events = [Float]()
        for _ in 0..<n {
            let cx = generator.nextUnitFloat() * 16, cy = generator.nextUnitFloat() * 16, r = 3 + generator.nextUnitFloat() * 4
            var inside = [Bool]()
            for y in 0..<h {
                for x in 0..<w {
                    let dx: Float = Float(x) - cx, dy: Float = Float(y) - cy
                    let d: Float = (dx * dx + dy * dy).squareRoot()
                    inside.append(d < r)
                    images.append(d < r ? 200 : 50)
                    labels.append(d < r ? 1 : 0)
                }
            }
            // Event channels: +1 inside and a noisy ring at the border (another view of the same blob).
            for channel in 0..<2 {
                for i in 0..<(h * w) {
                    let noise: Float = (generator.nextUnitFloat() - 0.5) * 0.4
                    events.append(channel == 0 ? (inside[i] ? 1 : -1) + noise : noise)
                }
            }
        }
        let file = try HDF5File(creating: path)
        try file.write(images, to: "/images", shape: [n, h, w])
        try file.write(labels, to: "/labels", shape: [n, h, w])
        try file.write(events, to: "/events", shape: [n, 2, h, w])
        try file.attributes().set("classes", strings: ["background", "blob"])
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func teacher() throws -> String {
        var config = TrainingConfig(modality: .images, train: path, val: path, epochs: 8, batchSize: 4, learningRate: 0.01, seed: 1)
        config.widths = [4, 8, 8, 8]
        let run = folder.appendingPathComponent("teacher").path
        try SegmentationTrainer(config: config, folder: run, resume: false).run()
        return run + "/model.safetensors"
    }

    func config(teacher: String, epochs: Int) -> DistillationConfig {
        var config = DistillationConfig(teacher: teacher, images: path, events: path, val: path, paired: true,
                                        losses: [.kd, .affinity, .ds], epochs: epochs, batchSize: 4, learningRate: 0.01, seed: 5)
        config.labelFraction = 0  // the student never sees a label: everything it learns comes from the teacher
        config.widths = [4, 8, 8, 8]
        return config
    }

    func testDistillationWithoutLabelsTeachesTheStudent() throws {
        let teacherPath = try teacher()
        let trainer = try DistillationTrainer(config: config(teacher: teacherPath, epochs: 8), folder: folder.appendingPathComponent("kd").path, resume: false)
        let before = try SegmentationTrainer.evaluate(trainer.student, on: trainer.val, batchSize: 4).meanIntersectionOverUnion ?? 0
        var epochs: [DistillationMetrics] = []
        try trainer.run(onEpoch: { epochs.append($0) })
        let kd = epochs.map { $0.terms["kd"] ?? .nan }
        XCTAssertLessThan(kd.last!, kd.first! * 0.7, "the KD loss falls: \(kd)")
        XCTAssertNil(epochs.first!.terms["task"], "no labels were used")
        let after = try XCTUnwrap(trainer.state.bestMIoU)
        XCTAssertGreaterThan(after, before + 0.2, "the distilled student beats the untrained one (\(before) → \(after))")
        XCTAssertGreaterThan(after, 0.6)
    }

    func testDistillationResumesExactly() throws {
        let teacherPath = try teacher()
        let straight = try DistillationTrainer(config: config(teacher: teacherPath, epochs: 2), folder: folder.appendingPathComponent("a").path, resume: false)
        straight.recordStepLosses = true
        var a: [[Double]] = []
        try straight.run(onEpoch: { a.append($0.stepLosses ?? []) })

        let run = folder.appendingPathComponent("b").path
        let first = try DistillationTrainer(config: config(teacher: teacherPath, epochs: 2), folder: run, resume: false)
        first.recordStepLosses = true
        var b: [[Double]] = []
        do { try first.run(onEpoch: { b.append($0.stepLosses ?? []); throw CancellationError() }) } catch is CancellationError {}
        let resumed = try DistillationTrainer(config: config(teacher: teacherPath, epochs: 2), folder: run, resume: true)
        resumed.recordStepLosses = true
        try resumed.run(onEpoch: { b.append($0.stepLosses ?? []) })
        XCTAssertEqual(a, b)
        XCTAssertEqual(straight.student.stateDict().map(\.value), resumed.student.stateDict().map(\.value))
    }
}
