import XCTest
import HDF5
import Tensor
@testable import Training

final class BatchLoaderTests: XCTestCase {
    var path: String!

    /// A split whose pixels encode their own position: image value = x + 12·y (/255 after
    /// loading), label = (x + y) % 5, so every crop, flip and pad can be checked exactly.
    override func setUpWithError() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("evd-split-\(UUID().uuidString).h5").path
        let file = try HDF5File(creating: path)
        let (n, h, w) = (5, 10, 12)  // 10×12: not multiples of 8
        var images = [UInt8](), labels = [UInt8](), events = [Float]()
        for s in 0..<n { for y in 0..<h { for x in 0..<w { images.append(UInt8(x + 12 * y)); labels.append(UInt8((x + y + s) % 5)) } } }
        for s in 0..<n { for c in 0..<2 { for y in 0..<h { for x in 0..<w { events.append(Float(s * 1000 + c * 100 + y * 10 + x)) } } } }
        try file.write(images, to: "/images", shape: [n, h, w])
        try file.write(labels, to: "/labels", shape: [n, h, w])
        try file.write(events, to: "/events", shape: [n, 2, h, w])
        try file.attributes().set("classes", strings: ["a", "b", "c", "d", "e"])
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: path) }

    func testPaddingToMultiplesOf8KeepsEveryPixelAndIgnoresThePad() throws {
        let dataset = try SegmentationDataset(path: path, modality: .images, requireLabels: true)
        XCTAssertEqual([dataset.count, dataset.channels, dataset.height, dataset.width], [5, 1, 10, 12])
        XCTAssertEqual(dataset.classNames, ["a", "b", "c", "d", "e"])
        let batch = try BatchLoader(dataset: dataset, options: BatchOptions(batchSize: 2, shuffle: false)).batch(0, epoch: 0)
        XCTAssertEqual(batch.input.shape, [2, 1, 16, 16])
        XCTAssertEqual(batch.indices, [0, 1])
        for y in 0..<16 {
            for x in 0..<16 {
                let inside = y < 10 && x < 12
                XCTAssertEqual(batch.input[1, 0, y, x], inside ? Float(x + 12 * y) / 255 : 0, accuracy: 1e-7)
                XCTAssertEqual(batch.targets[256 + y * 16 + x], inside ? (x + y + 1) % 5 : 255)
            }
        }
    }

    func testCropAndFlipMoveInputAndLabelsTogether() throws {
        let dataset = try SegmentationDataset(path: path, modality: .images, requireLabels: true)
        let loader = BatchLoader(dataset: dataset, options: BatchOptions(batchSize: 5, shuffle: true, seed: 4,
                                                                        cropHeight: 8, cropWidth: 8, horizontalFlip: true))
        var flipped = 0
        for epoch in 0..<4 {
            let batch = try loader.batch(0, epoch: epoch)
            XCTAssertEqual(batch.input.shape, [5, 1, 8, 8])
            for (slot, sample) in batch.indices.enumerated() {
                // Recover (x, y) of each output pixel from the image value, check its label.
                var columns: [Int] = []
                for y in 0..<8 {
                    for x in 0..<8 {
                        let code = Int((batch.input[slot, 0, y, x] * 255).rounded())
                        let (sy, sourceX) = (code / 12, code % 12)
                        XCTAssertEqual(batch.targets[(slot * 8 + y) * 8 + x], (sourceX + sy + sample) % 5, "label follows its pixel")
                        if y == 0 { columns.append(sourceX) }
                    }
                }
                XCTAssertTrue(columns == columns.sorted() || columns == columns.sorted().reversed(), "a crop is contiguous")
                if columns.first! > columns.last! { flipped += 1 }
            }
        }
        XCTAssertGreaterThan(flipped, 2, "about half the samples are mirrored")
        XCTAssertLessThan(flipped, 18)
        // Same (seed, epoch, batch) → the same batch: what resuming relies on.
        XCTAssertEqual(try loader.batch(0, epoch: 2).input, try loader.batch(0, epoch: 2).input)
    }

    func testShuffleVisitsEverySampleOncePerEpoch() throws {
        let dataset = try SegmentationDataset(path: path, modality: .events, requireLabels: false, normalizeEvents: false)
        XCTAssertEqual(dataset.channels, 2)
        let loader = BatchLoader(dataset: dataset, options: BatchOptions(batchSize: 2, shuffle: true, seed: 9))
        XCTAssertEqual(loader.batchesPerEpoch, 3)
        let first = loader.order(epoch: 0), second = loader.order(epoch: 1)
        XCTAssertEqual(first.sorted(), [0, 1, 2, 3, 4])
        XCTAssertNotEqual(first, second)
        let seen = try (0..<3).flatMap { try loader.batch($0, epoch: 0).indices }
        XCTAssertEqual(seen, first)
        let batch = try loader.batch(0, epoch: 0)
        XCTAssertEqual(batch.input[0, 1, 3, 4], Float(first[0] * 1000 + 100 + 34), "events are read as stored")
    }

    func testMissingDatasetsAreClearErrors() throws {
        let eventsOnly = FileManager.default.temporaryDirectory.appendingPathComponent("evd-ev-\(UUID().uuidString).h5").path
        defer { try? FileManager.default.removeItem(atPath: eventsOnly) }
        let file = try HDF5File(creating: eventsOnly)
        try file.write([Float](repeating: 0, count: 64), to: "/events", shape: [1, 1, 8, 8])
        XCTAssertThrowsError(try SegmentationDataset(path: eventsOnly, modality: .images, requireLabels: false)) { error in
            XCTAssertTrue("\(error)".contains("/images: dataset missing (the file holds events)"), "\(error)")
        }
        XCTAssertThrowsError(try SegmentationDataset(path: eventsOnly, modality: .events, requireLabels: true)) { error in
            XCTAssertTrue("\(error)".contains("/labels: dataset missing"), "\(error)")
        }
    }
}
