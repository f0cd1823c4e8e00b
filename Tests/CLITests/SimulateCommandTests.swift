import XCTest
import HDF5
import Imaging

final class SimulateCommandTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CLI.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// Frames of a bright bar moving right over a dark background, 1 ms apart.
    func makeFrames(_ dir: URL, count: Int = 6, timestamps: [Int64]? = nil, width: Int = 32) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for k in 0..<count {
            var pixels = [UInt8](repeating: 20, count: width * 8)
            for y in 0..<8 { for x in (2 + 3 * k)..<(6 + 3 * k) where x < width { pixels[y * width + x] = 230 } }
            try PNGFile.writeGray(pixels, width: width, height: 8, to: dir.appendingPathComponent(String(format: "frame_%03d.png", k)).path)
        }
        let times = timestamps ?? (0..<count).map { 5_000_000 + Int64($0) * 1000 }
        try times.map(String.init).joined(separator: "\n").write(to: dir.appendingPathComponent("timestamps.txt"), atomically: true, encoding: .utf8)
    }

    func testFramesBecomeADSECRecording() throws {
        let frames = folder.appendingPathComponent("frames")
        try makeFrames(frames)
        let output = folder.appendingPathComponent("events.h5").path
        let result = try CLI.run(["simulate", "--frames", frames.path, "-o", output, "--quiet", "--threshold-sigma", "0"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let inspect = try CLI.run(["inspect", output, "--json"])
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["layout"] as? String, "dsec")
        XCTAssertEqual(report["t_sorted"] as? Bool, true)
        XCTAssertEqual(report["t_offset_us"] as? Int, 5_000_000)
        XCTAssertEqual((report["sensor"] as? [String: Any])?["width"] as? Int, 32)
        // Each frame step brightens 3 columns × 8 rows and darkens 3 × 8: ⌊ΔL/0.2⌋ events each.
        let on = report["on_events"] as! Int, off = report["off_events"] as! Int
        let dark = 20.0 / 255, bright = 230.0 / 255
        let perPixel = Int(((log(1e-3 + bright) - log(1e-3 + dark)) / 0.2).rounded(.down))
        XCTAssertEqual(on, 5 * 3 * 8 * perPixel)
        XCTAssertEqual(off, 5 * 3 * 8 * perPixel)
    }

    func testBadFramesAreRefusedCleanly() throws {
        let output = folder.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let target = output.appendingPathComponent("events.h5").path
        func expectFailure(_ dir: URL, _ mentions: [String], line: UInt = #line) throws {
            let result = try CLI.run(["simulate", "--frames", dir.path, "-o", target, "--quiet"])
            XCTAssertEqual(result.status, 1, result.stderr, line: line)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr, line: line)
            for word in mentions { XCTAssertTrue(result.stderr.contains(word), "'\(word)' not in \(result.stderr)", line: line) }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output.path), [], "no partial output", line: line)
        }
        let missing = folder.appendingPathComponent("missing-timestamps")
        try makeFrames(missing)
        try FileManager.default.removeItem(at: missing.appendingPathComponent("timestamps.txt"))
        try expectFailure(missing, ["timestamps.txt", "missing"])

        let count = folder.appendingPathComponent("count")
        try makeFrames(count, timestamps: [1, 2, 3])
        try expectFailure(count, ["3 timestamps for 6 PNG frames"])

        let order = folder.appendingPathComponent("order")
        try makeFrames(order, timestamps: [10, 20, 30, 30, 40, 50])
        try expectFailure(order, ["timestamps not increasing at frame 3"])

        let size = folder.appendingPathComponent("size")
        try makeFrames(size)
        try PNGFile.writeGray([UInt8](repeating: 0, count: 16 * 8), width: 16, height: 8, to: size.appendingPathComponent("frame_004.png").path)
        try expectFailure(size, ["frame_004.png", "16×8", "32×8"])

        let broken = folder.appendingPathComponent("broken")
        try makeFrames(broken)
        try Data("not a png".utf8).write(to: broken.appendingPathComponent("frame_002.png"))
        try expectFailure(broken, ["frame_002.png", "cannot read PNG"])
    }
}
