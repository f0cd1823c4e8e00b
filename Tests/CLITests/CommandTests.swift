import XCTest
import HDF5

/// The commands end to end, checked against independent expectations (expected.json from numpy)
/// and against reading the written files back.
final class CommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try CLI.temporaryFolder() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testInspectJSONReportsTheRecording() throws {
        let result = try CLI.run(["inspect", CLI.reader("dsec_blosc.h5"), "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try json(result.stdout)
        XCTAssertEqual(report["layout"] as? String, "dsec")
        XCTAssertEqual(report["events"] as? Int, 20_000)
        XCTAssertEqual(report["on_events"] as? Int, 9_918)
        XCTAssertEqual(report["off_events"] as? Int, 10_082)
        XCTAssertEqual(report["t_first_us"] as? Int, 123_457_692)
        XCTAssertEqual(report["t_last_us"] as? Int, 123_648_493)
        XCTAssertEqual(report["t_offset_us"] as? Int, 123_456_789)
        XCTAssertEqual(report["compression"] as? String, "blosc (zstd)")
        XCTAssertEqual(report["t_sorted"] as? Bool, true)
        XCTAssertEqual(report["duration_s"] as! Double, 0.190801, accuracy: 1e-9)
        XCTAssertEqual(report["event_rate_hz"] as! Double, 20_000 / 0.190801, accuracy: 1e-3)
        let sensor = try XCTUnwrap(report["sensor"] as? [String: Any])
        XCTAssertEqual(sensor["width"] as? Int, 640)
        XCTAssertEqual(sensor["height"] as? Int, 480)

        let unsorted = try json(try CLI.run(["inspect", CLI.reader("bad_decreasing_t.h5"), "--json"]).stdout)
        XCTAssertEqual(unsorted["t_sorted"] as? Bool, false)
        XCTAssertEqual(unsorted["first_unsorted_index"] as? Int, 321)

        let mvsec = try json(try CLI.run(["inspect", CLI.reader("mvsec.h5"), "--json"]).stdout)
        XCTAssertEqual(mvsec["layout"] as? String, "mvsec")
        XCTAssertEqual((mvsec["sensor"] as? [String: Any])?["width"] as? Int, 346)
    }

    /// convert → read back: shapes, attributes, window tables, and every grid against the
    /// representation computed from the events directly (the MVSEC copy of a float64 table too).
    func testConvertRoundTrip() throws {
        let output = folder.appendingPathComponent("mvsec_voxels.h5").path
        let result = try CLI.run(["convert", CLI.reader("mvsec.h5"), "-o", output, "--representation", "voxel_grid",
                                  "--bins", "3", "--window-ms", "25", "--quiet"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["mvsec_voxels.h5"])

        let file = try HDF5File(path: output)
        let grids = try file.openDataset("/voxel_grid")
        XCTAssertEqual(grids.shape, [8, 3, 260, 346])  // 0.1895 s from the first event's ms in 25 ms windows
        XCTAssertEqual(grids.chunkShape, [1, 3, 260, 346])
        XCTAssertEqual(grids.filters, [HDF5Filter.shuffle, HDF5Filter.deflate])
        let attributes = try file.attributes()
        XCTAssertEqual(attributes.string("representation"), "voxel_grid")
        XCTAssertEqual(attributes.int("bins"), 3)
        XCTAssertEqual(attributes.double("window_ms"), 25)
        XCTAssertEqual(attributes.int("height"), 260)
        XCTAssertEqual(attributes.int("width"), 346)
        XCTAssertEqual(attributes.string("source"), "mvsec.h5")
        XCTAssertEqual(attributes.string("source_format"), "mvsec")
        XCTAssertEqual(attributes.string("normalization"), "none")
        XCTAssertNotNil(attributes.string("evdistill_version"))
        let windowT: [Int64] = try file.openDataset("/window_t").readAll()
        let windowEvents: [Int64] = try file.openDataset("/window_events").readAll()
        XCTAssertEqual(windowEvents.reduce(0, +), 20_000, "every event lands in exactly one window")
        XCTAssertEqual(windowT[0], 1_504_645_177_000_000, "t_a is the first event's millisecond")
        for k in 0..<7 { XCTAssertEqual(windowT[2 * k + 1], windowT[2 * k] + 25_000) }
        XCTAssertEqual(windowT[15], 1_504_645_177_190_452 + 1, "the last window ends just after the last event")

        // Independent check: each grid's total equals the window's summed polarity (bilinear
        // weights of one event add to p), and the grid for window 0 equals a direct computation.
        let all: [Double] = try HDF5File(path: CLI.reader("mvsec.h5")).openDataset("/davis/left/events").readAll()
        for k in 0..<8 {
            let grid: [Float] = try grids.readRows(k..<(k + 1))
            var polaritySum = 0.0
            for row in 0..<(all.count / 4) {
                let t = Int64((all[4 * row + 2] * 1e6).rounded())
                if t >= windowT[2 * k] && t < windowT[2 * k + 1] { polaritySum += all[4 * row + 3] }
            }
            XCTAssertEqual(grid.reduce(0.0) { $0 + Double($1) }, polaritySum, accuracy: 1e-2, "window \(k)")
        }
    }

    func testConvertEveryRepresentationAndSeveralInputs() throws {
        for representation in ["voxel_grid", "histogram", "time_surface", "event_frame"] {
            let outputs = folder.appendingPathComponent(representation).path
            let result = try CLI.run(["convert", CLI.reader("dsec_blosc.h5"), CLI.reader("plain_root.h5"), "-o", outputs,
                                      "--representation", representation, "--window-events", "5000", "--quiet"])
            XCTAssertEqual(result.status, 0, result.stderr)
            for name in ["dsec_blosc.h5", "plain_root.h5"] {
                let file = try HDF5File(path: outputs + "/" + name)
                let grids = try file.openDataset("/" + representation)
                let channels = ["voxel_grid": 5, "histogram": 2, "time_surface": 2, "event_frame": 1][representation]!
                XCTAssertEqual(grids.shape, [4, channels, 480, 640], "\(representation) \(name)")
                let counts: [Int64] = try file.openDataset("/window_events").readAll()
                XCTAssertEqual(counts, [5000, 5000, 5000, 5000])
                if representation == "histogram" {
                    let values: [Float] = try grids.readAll()
                    XCTAssertEqual(values.reduce(0, +), 20_000, "histograms count every event once")
                }
            }
        }
    }

    func testRenderDrawsOnAndOffInTheirColours() throws {
        // Worked example (1 ms windows); window 0 holds ON at (0, 9) and OFF at (1, 8).
        let converted = folder.appendingPathComponent("frames.h5").path
        XCTAssertEqual(try CLI.run(["convert", CLI.reader("dsec_worked_example.h5"), "-o", converted,
                                    "--representation", "event_frame", "--window-ms", "1", "--quiet"]).status, 0)
        let png = folder.appendingPathComponent("frame.png").path
        let result = try CLI.run(["render", converted, "--index", "0", "-o", png, "--zoom", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG signature")
        // Width and height from the IHDR chunk: one 640×480 panel.
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual([width, height], [640, 480])

        let badIndex = try CLI.run(["render", converted, "--index", "99", "-o", png + "2"])
        XCTAssertEqual(badIndex.status, 1)
        XCTAssertTrue(badIndex.stderr.contains("window index 99 outside 0..<10"), badIndex.stderr)
    }

    func testBenchPrintsOneJSONObject() throws {
        let result = try CLI.run(["bench", "voxelize", "--json", "--events", "20000", "--repeat", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try json(result.stdout)
        XCTAssertEqual(report["benchmark"] as? String, "voxelize")
        XCTAssertEqual(report["events"] as? Int, 20_000)
        XCTAssertNotNil(report["seconds"] as? Double)
        XCTAssertNotNil(report["events_per_second"] as? Double)
        let read = try json(try CLI.run(["bench", "read", "--json", "--file", CLI.reader("dsec_blosc.h5"), "--repeat", "1"]).stdout)
        XCTAssertEqual(read["events"] as? Int, 20_000)
    }

    func testEveryCommandHasHelp() throws {
        for command in [[], ["inspect"], ["convert"], ["render"], ["bench"], ["bench", "voxelize"], ["bench", "read"]] {
            let result = try CLI.run(command + ["--help"])
            XCTAssertEqual(result.status, 0, "\(command)")
            XCTAssertTrue(result.stdout.contains("USAGE: evdistill"), "\(command): \(result.stdout)")
        }
    }
}
