import XCTest
import EventIO
import HDF5
@testable import Simulation

/// The generated benchmark: the layout of formats.md §3 and determinism for a seed.
final class BenchmarkSplitTests: XCTestCase {
    func writeSplit(_ path: String, seed: UInt64, withImages: Bool = true, withEvents: Bool = true, withLabels: Bool = true) throws {
        var spec = BenchmarkSpec()
        spec.width = 32
        spec.height = 16
        spec.sceneSeconds = 0.3
        spec.seed = seed
        let writer = try SplitWriter(path: path, spec: spec, withImages: withImages, withEvents: withEvents,
                                     withLabels: withLabels, paired: withImages && withEvents, description: "test")
        let scene = DrivingScene(width: 32, height: 16, duration: 0.3, seed: seed)
        try DatasetGenerator.generate(scene: scene, spec: spec, sceneIndex: 2) { try writer.append($0, scene: 2) }
        try writer.finish()
    }

    func testSplitLayoutAndDeterminism() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evd-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a.h5").path, b = folder.appendingPathComponent("b.h5").path
        try writeSplit(a, seed: 11)
        try writeSplit(b, seed: 11)

        let file = try HDF5File(path: a)
        let images = try file.openDataset("/images"), events = try file.openDataset("/events")
        let labels = try file.openDataset("/labels"), timestamps = try file.openDataset("/timestamps")
        XCTAssertEqual(images.shape, [6, 16, 32])  // 0.3 s at 20 Hz: frames at 50, 100, ..., 300 ms
        XCTAssertEqual(images.elementType.description, "<u1")
        XCTAssertEqual(events.shape, [6, 5, 16, 32])
        XCTAssertEqual(events.elementType.description, "<f4")
        XCTAssertEqual(labels.shape, [6, 16, 32])
        XCTAssertEqual(labels.elementType.description, "<u1")
        XCTAssertEqual(timestamps.elementType.description, "<i8")
        let t: [Int64] = try timestamps.readAll()
        XCTAssertEqual(t, (1...6).map { 200_000_000 + Int64($0) * 50_000 })
        let labelValues: [UInt8] = try labels.readAll()
        XCTAssertTrue(labelValues.allSatisfy { $0 < 6 }, "class ids 0–5")
        let attributes = try file.attributes()
        XCTAssertEqual(attributes.strings("classes"), ["flat", "background", "object", "vegetation", "human", "vehicle"])
        XCTAssertEqual(attributes.int("height"), 16)
        XCTAssertEqual(attributes.int("width"), 32)
        XCTAssertEqual(attributes.string("representation"), "voxel_grid")
        XCTAssertEqual(attributes.int("bins"), 5)
        XCTAssertEqual(attributes.double("window_ms"), 50)
        XCTAssertEqual(attributes.int("paired"), 1)

        // Same seed → the same bytes in every dataset.
        let other = try HDF5File(path: b)
        for name in ["/images", "/labels", "/timestamps", "/lighting"] {
            XCTAssertEqual(try file.openDataset(name).readAll(as: Int64.self), try other.openDataset(name).readAll(as: Int64.self), name)
        }
        XCTAssertEqual(try events.readAll(as: Float.self), try other.openDataset("/events").readAll(as: Float.self))

        // Unpaired: events only, no labels.
        let eventsOnly = folder.appendingPathComponent("e.h5").path
        try writeSplit(eventsOnly, seed: 12, withImages: false, withLabels: false)
        let unpaired = try HDF5File(path: eventsOnly)
        XCTAssertFalse(unpaired.exists("/images"))
        XCTAssertFalse(unpaired.exists("/labels"))
        XCTAssertEqual(try unpaired.attributes().int("paired"), 0)
    }
}
