import XCTest

/// `evdistill score` against an independent numpy scoring (Tools/fixtures/make_score_goldens.py).
final class ScoreCommandTests: XCTestCase {
    func score(_ name: String) -> String { CLI.fixtures.appendingPathComponent("score/\(name)").path }

    func testScoreMatchesNumpy() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = folder.appendingPathComponent("report.json").path
        let png = folder.appendingPathComponent("confusion.png").path
        let result = try CLI.run(["score", "--predictions", score("predictions.h5"), "--labels", score("labels.h5"),
                                  "--json", json, "--confusion-png", png])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("| **mIoU** |"), result.stdout)
        let ours = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let numpy = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: score("expected.json")))) as? [String: Any])
        for key in ["miou", "pixel_accuracy", "mean_class_accuracy"] {
            XCTAssertEqual(ours[key] as! Double, numpy[key] as! Double, accuracy: 1e-9, key)
        }
        XCTAssertEqual(ours["confusion_matrix"] as? [[Int]], numpy["confusion_matrix"] as? [[Int]])
        XCTAssertEqual(ours["ignored_pixels"] as? Int, numpy["ignored_pixels"] as? Int)
        XCTAssertEqual(ours["num_images"] as? Int, 4)
        let perClass = try XCTUnwrap(ours["per_class_iou"] as? [String: Any]), expected = try XCTUnwrap(numpy["per_class_iou"] as? [String: Any])
        for (name, value) in expected {
            if value is NSNull { XCTAssertTrue(perClass[name] is NSNull, "\(name) is absent: null") }
            else { XCTAssertEqual(perClass[name] as! Double, value as! Double, accuracy: 1e-9, name) }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: png))
    }

    func testBadScoringInputs() throws {
        let cases: [([String], [String])] = [
            (["--predictions", score("predictions_wrong_n.h5"), "--labels", score("labels.h5")], ["[3, 24, 40]", "[4, 24, 40]"]),
            (["--predictions", score("predictions.h5"), "--labels", score("labels_bad_value.h5")],
             ["labels_bad_value.h5", "/labels", "image 2, row 5, column 7", "value 9"]),
            (["--predictions", score("labels.h5"), "--labels", score("labels.h5")], ["/predictions", "dataset missing"]),
        ]
        for (arguments, mentions) in cases {
            let result = try CLI.run(["score"] + arguments)
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            for word in mentions { XCTAssertTrue(result.stderr.contains(word), "'\(word)' not in \(result.stderr)") }
        }
    }
}
