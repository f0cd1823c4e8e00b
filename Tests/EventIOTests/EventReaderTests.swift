import XCTest
@testable import EventIO
import HDF5

/// Readers against fixture files written by h5py + hdf5plugin (Tools/fixtures/make_reader_fixtures.py),
/// with expected values computed by numpy in the same script (readers/expected.json).
final class EventReaderTests: XCTestCase {
    static let validFiles = ["dsec_blosc.h5", "dsec_blosc_lz4.h5", "dsec_no_offset.h5", "dsec_worked_example.h5",
                             "mvsec.h5", "plain_root.h5", "plain_events_seconds.h5"]

    func expectation(_ name: String) -> [String: Any] {
        (Fixtures.expected["files"] as! [String: Any])[name] as! [String: Any]
    }

    func testEveryValidFixtureReadsExactlyAsNumpySays() throws {
        for name in Self.validFiles {
            let expected = expectation(name)
            let file = try EventFile(path: Fixtures.reader(name))
            XCTAssertEqual(file.layout.rawValue, expected["format"] as? String, name)
            XCTAssertEqual(file.count, expected["count"] as? Int, name)
            XCTAssertEqual(file.sensor, SensorSize(width: expected["width"] as! Int, height: expected["height"] as! Int), name)
            // Read in uneven blocks so seams between reads (and Blosc chunks) are crossed.
            var packet = EventPacket()
            var start = 0
            while start < file.count {
                let end = min(start + 3_001, file.count)
                let block = try file.read(start..<end)
                packet.x += block.x; packet.y += block.y; packet.t += block.t; packet.p += block.p
                start = end
            }
            func event(_ k: Int) -> [Int] { [Int(packet.x[k]), Int(packet.y[k]), Int(packet.t[k]), Int(packet.p[k])] }
            let n = packet.count
            XCTAssertEqual((0..<min(3, n)).map(event), expected["first3"] as? [[Int]], name)
            XCTAssertEqual(((n - min(3, n))..<n).map(event), expected["last3"] as? [[Int]], name)
            XCTAssertEqual(packet.x.reduce(0) { $0 + Int($1) }, expected["sum_x"] as? Int, name)
            XCTAssertEqual(packet.y.reduce(0) { $0 + Int($1) }, expected["sum_y"] as? Int, name)
            // MVSEC's absolute µs sum past Int64 (Python ints do not): exact where it fits, else in Double.
            let sumT = packet.t.reduce(0.0) { $0 + Double($1) }
            if let exact = expected["sum_t"] as? Int, abs(sumT) < 9e18 {
                XCTAssertEqual(packet.t.reduce(0) { $0 + Int($1) }, exact, name)
            } else {
                XCTAssertEqual(sumT, (expected["sum_t"] as! NSNumber).doubleValue, accuracy: 1e-12 * abs(sumT), name)
            }
            XCTAssertEqual(packet.p.filter { $0 > 0 }.count, expected["count_on"] as? Int, name)
            XCTAssertEqual(file.firstTimestamp.map(Int.init), expected["t_first"] as? Int, name)
            XCTAssertEqual(file.lastTimestamp.map(Int.init), expected["t_last"] as? Int, name)
        }
    }

    func testTimeWindowsMatchSearchsorted() throws {
        for name in ["dsec_blosc.h5", "dsec_blosc_lz4.h5", "dsec_no_offset.h5", "mvsec.h5"] {
            let expected = expectation(name)
            let file = try EventFile(path: Fixtures.reader(name))
            var windows = (expected["time_windows"] as? [String: Any])?["windows"] as? [[String: Int]] ?? []
            windows += (expected["extra_windows"] as? [String: Any])?["windows"] as? [[String: Int]] ?? []
            XCTAssertFalse(windows.isEmpty, "\(name) has no expected windows")
            for window in windows {
                XCTAssertEqual(try file.firstIndex(atOrAfter: Int64(window["t0"]!)), window["start"], "\(name) t0 \(window["t0"]!)")
                XCTAssertEqual(try file.firstIndex(atOrAfter: Int64(window["t1"]!)), window["end"], "\(name) t1 \(window["t1"]!)")
            }
        }
    }

    /// DSEC's own worked example of the ms_to_idx invariant (formats.md §1).
    func testDSECWorkedExample() throws {
        let file = try EventFile(path: Fixtures.reader("dsec_worked_example.h5"))
        XCTAssertTrue(file.hasTimeIndex)
        let t: [Int64] = [0, 500, 2100, 5000, 5000, 7100, 7200, 7200, 8100, 9000]
        XCTAssertEqual(try file.read(0..<10).t, t)
        // Every time from before the first to after the last event: index = numpy searchsorted(left).
        for time in Int64(-5)...Int64(9_500) {
            let expected = t.firstIndex { $0 >= time } ?? t.count
            XCTAssertEqual(try file.firstIndex(atOrAfter: time), expected, "t = \(time)")
        }
    }

    func testSensorSizeOverrideAndFormatForcing() throws {
        let file = try EventFile(path: Fixtures.reader("dsec_blosc.h5"), options: EventFileOptions(format: .dsec, width: 1280, height: 720))
        XCTAssertEqual(file.sensor, SensorSize(width: 1280, height: 720))
        XCTAssertEqual(file.sensorSource, "--width/--height")
        // A sensor smaller than the events is bad input that names the coordinate and the remedy.
        let small = try EventFile(path: Fixtures.reader("dsec_blosc.h5"), options: EventFileOptions(width: 100, height: 100))
        XCTAssertThrowsError(try small.read(0..<small.count)) { error in
            XCTAssertTrue("\(error)".contains("--width/--height"), "\(error)")
        }
        // Forcing MVSEC on a DSEC file names what is missing.
        XCTAssertThrowsError(try EventFile(path: Fixtures.reader("dsec_blosc.h5"), options: EventFileOptions(format: .mvsec))) { error in
            XCTAssertEqual((error as? FileError)?.dataset, "/davis/left/events")
        }
    }

    /// Each bad fixture: one clear message naming file, dataset and problem.
    func testBadFilesGiveClearErrors() throws {
        let cases: [(String, String?, String)] = [
            ("bad_missing_p.h5", "/events/p", "dataset missing"),
            ("bad_dtype_x_float.h5", "/events/x", "unsupported dtype <f4"),
            ("bad_dtype_x_string.h5", "/events/x", "unsupported dtype string"),
            ("bad_rank_x.h5", "/events/x", "expected a 1-D column, found shape [250, 2]"),
            ("bad_lengths.h5", "/events/t", "has 499 elements but /events/x has 500"),
            ("bad_x_out_of_range.h5", "/events/x", "index 123: x = 700 outside the sensor (0..<640)"),
            ("bad_decreasing_t.h5", "/events/t", "index 321: timestamps decrease"),
            ("bad_nan_mvsec.h5", "/davis/left/events", "row 77: t is nan"),
            ("bad_inf_mvsec.h5", "/davis/left/events", "row 5: x is inf"),
            ("truncated.h5", nil, "damaged or truncated"),
            ("not_hdf5.h5", nil, "not an HDF5 file"),
            ("prophesee_ecf.h5", "/CD/events", "ECF codec (HDF5 filter 36559)"),
            ("does_not_exist.h5", nil, "no such file"),
        ]
        for (name, dataset, problem) in cases {
            let path = Fixtures.reader(name)
            do {
                let file = try EventFile(path: path)
                _ = try file.read(0..<file.count)
                XCTFail("\(name) was read without error")
            } catch let error as FileError {
                XCTAssertEqual(error.file, path, name)
                XCTAssertEqual(error.dataset, dataset, "\(name): \(error)")
                XCTAssertTrue(error.problem.contains(problem), "\(name): \(error)")
                XCTAssertFalse(error.description.contains("\n"), "one line: \(error)")
            }
        }
    }

    func testMissingBloscPluginNamesThePackage() {
        let advice = HDF5Filter.missingAdvice(HDF5Filter.blosc)
        XCTAssertTrue(advice.contains("hdf5-filter-plugin-blosc-serial"))
        // The plugin is installed on machines that run these tests (Tools/install-deps.sh).
        XCTAssertTrue(HDF5Library.isFilterAvailable(HDF5Filter.blosc))
    }
}
