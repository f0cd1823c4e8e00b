import XCTest
import HDF5

/// Every bad input of the foundation issue: exit status 1, one line on stderr naming the file,
/// the dataset and the problem, and no output file (not even a temporary one) left behind.
final class BadInputTests: XCTestCase {
    func assertCleanFailure(_ arguments: [String], in folder: URL, mentions: [String], environment: [String: String] = [:],
                            file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try CLI.run(arguments, environment: environment)
        XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line on stderr: \(result.stderr)", file: file, line: line)
        for word in mentions {
            XCTAssertTrue(result.stderr.contains(word), "'\(word)' missing from: \(result.stderr)", file: file, line: line)
        }
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(left, [], "no partial output: \(left)", file: file, line: line)
    }

    func convert(_ input: String, _ out: URL, _ extra: [String] = []) -> [String] {
        ["convert", input, "-o", out.appendingPathComponent("out.h5").path, "--window-ms", "10", "--quiet"] + extra
    }

    func testBadRecordingsAreRefusedCleanly() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases: [(String, [String])] = [
            ("does_not_exist.h5", ["does_not_exist.h5", "no such file"]),
            ("not_hdf5.h5", ["not_hdf5.h5", "not an HDF5 file"]),
            ("truncated.h5", ["truncated.h5", "truncated"]),
            ("bad_missing_p.h5", ["/events/p", "dataset missing"]),
            ("bad_dtype_x_float.h5", ["/events/x", "dtype <f4"]),
            ("bad_dtype_x_string.h5", ["/events/x", "dtype string"]),
            ("bad_rank_x.h5", ["/events/x", "1-D", "[250, 2]"]),
            ("bad_lengths.h5", ["/events/t", "499", "500"]),
            ("bad_x_out_of_range.h5", ["/events/x", "index 123", "700", "--width/--height"]),
            ("bad_decreasing_t.h5", ["/events/t", "index 321", "decrease"]),
            ("bad_nan_mvsec.h5", ["/davis/left/events", "row 77", "nan"]),
            ("bad_inf_mvsec.h5", ["/davis/left/events", "row 5", "inf"]),
            ("prophesee_ecf.h5", ["/CD/events", "36559"]),
        ]
        for (name, mentions) in cases {
            try assertCleanFailure(convert(CLI.reader(name), folder), in: folder, mentions: mentions)
            if name != "bad_decreasing_t.h5" {  // inspect reports order instead of failing on it
                try assertCleanFailure(["inspect", CLI.reader(name)], in: folder, mentions: mentions)
            }
        }
    }

    func testEmptyWindowIsAnError() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try assertCleanFailure(convert(CLI.reader("dsec_blosc.h5"), folder, ["--start-ms", "5000", "--end-ms", "6000"]),
                               in: folder, mentions: ["dsec_blosc.h5", "no events in the requested range"])
    }

    func testUnwritableOutputFolder() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for target in ["/nonexistent-evdistill/out.h5", "/sys/out.h5"] {
            try assertCleanFailure(["convert", CLI.reader("dsec_blosc.h5"), "-o", target, "--window-ms", "10", "--quiet"],
                                   in: folder, mentions: [target, "output folder"])
        }
    }

    /// Without the Blosc plugin (HDF5_PLUGIN_PATH pointing at an empty folder) the error names the package.
    func testMissingBloscPluginNamesTheDebianPackage() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: empty) }
        try assertCleanFailure(convert(CLI.reader("dsec_blosc.h5"), folder), in: folder,
                               mentions: ["dsec_blosc.h5", "/events/", "hdf5-filter-plugin-blosc-serial"],
                               environment: ["HDF5_PLUGIN_PATH": empty.path])
    }

    func testUsageErrorsExitWithTwo() throws {
        let both = try CLI.run(["convert", CLI.reader("dsec_blosc.h5"), "-o", "/tmp/x.h5", "--window-ms", "1", "--window-events", "5"])
        XCTAssertEqual(both.status, 2)
        XCTAssertTrue(both.stderr.contains("exactly one of --window-ms or --window-events"), both.stderr)
        let unknown = try CLI.run(["convert", CLI.reader("dsec_blosc.h5"), "-o", "/tmp/x.h5", "--window-ms", "1", "--representation", "nope"])
        XCTAssertEqual(unknown.status, 2)
    }

    /// Ctrl-C during a conversion: exit status 130 (128 + SIGINT) and neither the output nor its
    /// temporary file left behind.
    func testInterruptRemovesThePartialOutput() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // 2 M events over 2 s in the plain layout: 2,000 windows of 1 ms, seconds of work.
        let input = folder.appendingPathComponent("input.h5").path
        let n = 2_000_000
        do {
            let file = try HDF5File(creating: input)
            try file.write((0..<n).map { UInt16($0 % 346) }, to: "/x")
            try file.write((0..<n).map { UInt16($0 / 346 % 260) }, to: "/y")
            try file.write((0..<n).map { Int64($0) }, to: "/t")
            try file.write((0..<n).map { Int8($0 % 2) }, to: "/p")
        }
        let out = folder.appendingPathComponent("out").path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["convert", input, "-o", out + "/out.h5", "--width", "346", "--height", "260", "--window-ms", "1",
                             "--representation", "histogram", "--quiet"]
        process.standardError = Pipe()
        try process.run()
        // Interrupt once the temporary file exists, i.e. once the conversion has started.
        let deadline = Date().addingTimeInterval(30)
        while (try FileManager.default.contentsOfDirectory(atPath: out)).isEmpty && Date() < deadline && process.isRunning {
            usleep(1_000)
        }
        XCTAssertTrue(process.isRunning, "the conversion finished before it could be interrupted")
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), [], "no partial output")
    }
}
