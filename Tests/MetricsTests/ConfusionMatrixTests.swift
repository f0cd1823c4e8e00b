import XCTest
@testable import Metrics

final class ConfusionMatrixTests: XCTestCase {
    /// Hand-computed: labels [0 0 1 1 2 255], predictions [0 1 1 1 0 2], 4 classes (class 3 absent).
    func testHandComputedScores() throws {
        var matrix = ConfusionMatrix(classes: 4)
        try matrix.add(labels: [0, 0, 1, 1, 2, 255], predictions: [0, 1, 1, 1, 0, 2])
        XCTAssertEqual(matrix[0, 0], 1)
        XCTAssertEqual(matrix[0, 1], 1)
        XCTAssertEqual(matrix[1, 1], 2)
        XCTAssertEqual(matrix[2, 0], 1)
        XCTAssertEqual(matrix.total, 5)
        XCTAssertEqual(matrix.ignoredPixels, 1)
        let iou = matrix.intersectionOverUnion
        XCTAssertEqual(iou[0]!, 1.0 / 3, accuracy: 1e-12)  // 1 / (2 + 2 − 1)
        XCTAssertEqual(iou[1]!, 2.0 / 3, accuracy: 1e-12)  // 2 / (2 + 3 − 2)
        XCTAssertEqual(iou[2]!, 0, accuracy: 1e-12)        // 0 / (1 + 0 − 0)
        XCTAssertNil(iou[3], "a class in neither labels nor predictions has no IoU")
        XCTAssertEqual(matrix.meanIntersectionOverUnion!, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(matrix.pixelAccuracy!, 3.0 / 5, accuracy: 1e-12)
        XCTAssertEqual(matrix.meanClassAccuracy!, (0.5 + 1 + 0) / 3, accuracy: 1e-12)
    }

    func testOutOfRangeValuesAreRejectedWithoutCounting() {
        var matrix = ConfusionMatrix(classes: 3)
        XCTAssertThrowsError(try matrix.add(labels: [0, 1, 7], predictions: [0, 1, 2])) { error in
            XCTAssertEqual(error as? ConfusionMatrix.OutOfRange, .init(index: 2, value: 7, inLabels: true))
        }
        XCTAssertThrowsError(try matrix.add(labels: [0, 1, 2], predictions: [3, 1, 2])) { error in
            XCTAssertEqual(error as? ConfusionMatrix.OutOfRange, .init(index: 0, value: 3, inLabels: false))
        }
        XCTAssertEqual(matrix.total, 0, "a bad run adds nothing")
    }

    /// The multi-core path against a plain count, on more pixels than one core's share.
    func testParallelCountingMatchesAPlainLoop() throws {
        var random = SystemRandomNumberGenerator()
        let n = 500_000
        let labels = (0..<n).map { _ in UInt8.random(in: 0...6, using: &random) }.map { $0 == 6 ? 255 : $0 }
        let predictions = (0..<n).map { _ in UInt8.random(in: 0...5, using: &random) }
        var matrix = ConfusionMatrix(classes: 6)
        try matrix.add(labels: labels, predictions: predictions)
        var expected = [Int64](repeating: 0, count: 36)
        var ignored: Int64 = 0
        for i in 0..<n { if labels[i] == 255 { ignored += 1 } else { expected[Int(labels[i]) * 6 + Int(predictions[i])] += 1 } }
        XCTAssertEqual(matrix.counts, expected)
        XCTAssertEqual(matrix.ignoredPixels, ignored)
    }

    func testReportFormats() throws {
        var matrix = ConfusionMatrix(classes: 2)
        try matrix.add(labels: [0, 1, 1, 255], predictions: [0, 1, 0, 0])
        let report = SegmentationReport(matrix: matrix, classNames: ["road", "car"], images: 1)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        XCTAssertEqual(json["miou"] as! Double, (0.5 + 0.5) / 2, accuracy: 1e-12)
        XCTAssertEqual(json["confusion_matrix"] as? [[Int]], [[1, 0], [1, 1]])
        XCTAssertEqual(json["ignored_pixels"] as? Int, 1)
        XCTAssertEqual(json["num_images"] as? Int, 1)
        XCTAssertTrue(report.markdown.contains("| car | 50.00 |"))
        XCTAssertTrue(report.markdown.contains("| **mIoU** | **50.00** |"))
    }
}
