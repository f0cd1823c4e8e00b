import XCTest
import EventIO
import HDF5

final class EventWindowTests: XCTestCase {
    /// Reads every window (slices and all) and returns (window, events seen in its slices).
    func drain(_ reader: WindowedEventReader) throws -> [(EventWindow, EventPacket)] {
        var result: [(EventWindow, EventPacket)] = []
        while let window = try reader.nextWindow() {
            var events = EventPacket()
            while let slice = try reader.nextSlice() {
                let part = slice.packet[slice.range]
                events.x += part.x; events.y += part.y; events.t += part.t; events.p += part.p
            }
            result.append((window, events))
        }
        return result
    }

    func testDurationWindowsMatchNumpyAndCoverEveryEventOnce() throws {
        let expected = ((Fixtures.expected["files"] as! [String: Any])["dsec_blosc.h5"] as! [String: Any])
        let numpyWindows = (expected["time_windows"] as! [String: Any])["windows"] as! [[String: Int]]
        for blockSize in [997, 1 << 20] {  // small blocks force window ends outside the buffer
            let file = try EventFile(path: Fixtures.reader("dsec_blosc.h5"))
            let all = try file.read(0..<file.count)
            let reader = try WindowedEventReader(file: file, spec: .duration(microseconds: 10_000), blockSize: blockSize)
            let windows = try drain(reader)
            XCTAssertEqual(windows.count, reader.windowCount)
            for (k, numpy) in numpyWindows.enumerated() {
                XCTAssertEqual(windows[k].0.tStart, Int64(numpy["t0"]!))
                XCTAssertEqual(windows[k].0.tEnd, Int64(numpy["t1"]!))
                XCTAssertEqual(windows[k].0.events, numpy["start"]!..<numpy["end"]!, "window \(k), block \(blockSize)")
            }
            // Together the windows hold every event exactly once, in order, each inside its window.
            var next = 0
            for (window, events) in windows {
                XCTAssertEqual(window.events.lowerBound, next)
                next = window.events.upperBound
                XCTAssertEqual(events, all[window.events])
                XCTAssertTrue(events.t.allSatisfy { $0 >= window.tStart && $0 < window.tEnd }, "window \(window.index)")
                XCTAssertEqual(window.tFirst, events.t.first)
                XCTAssertEqual(window.tLast, events.t.last)
            }
            XCTAssertEqual(next, file.count)
            XCTAssertEqual(windows.last?.0.tEnd, all.t.last! + 1, "the range ends just after the last event")
        }
    }

    func testEventCountWindowsAndEmptyWindowsInsideARecording() throws {
        // DSEC worked example: t = 0, 500, 2100, 5000, 5000, 7100, 7200, 7200, 8100, 9000.
        let file = try EventFile(path: Fixtures.reader("dsec_worked_example.h5"))
        let byCount = try drain(WindowedEventReader(file: file, spec: .eventCount(4)))
        XCTAssertEqual(byCount.map(\.0.events), [0..<4, 4..<8, 8..<10])
        XCTAssertEqual(byCount.map(\.0.tStart), [0, 5000, 8100])
        XCTAssertEqual(byCount.map(\.0.tEnd), [5001, 7201, 9001])

        let byTime = try drain(WindowedEventReader(file: file, spec: .duration(microseconds: 1000)))
        XCTAssertEqual(byTime.count, 10)  // [0, 9001) in 1 ms windows
        XCTAssertEqual(byTime.map { $0.0.events.count }, [2, 0, 1, 0, 0, 2, 0, 3, 1, 1])
        XCTAssertNil(byTime[1].0.tFirst, "an empty window inside the recording is kept, with no events")
    }

    func testRequestedRangesAndEmptyRangeError() throws {
        let file = try EventFile(path: Fixtures.reader("dsec_worked_example.h5"))
        let ranged = try drain(WindowedEventReader(file: file, spec: .duration(microseconds: 2000), start: 5000, end: 8000))
        XCTAssertEqual(ranged.map(\.0.events), [3..<5, 5..<8])
        XCTAssertEqual(ranged.map(\.0.tStart), [5000, 7000])
        XCTAssertEqual(ranged.map(\.0.tEnd), [7000, 8000])

        XCTAssertThrowsError(try WindowedEventReader(file: file, spec: .duration(microseconds: 1000), start: 2500, end: 4000)) { error in
            XCTAssertTrue("\(error)".contains("no events in the requested range"), "\(error)")
        }
        XCTAssertThrowsError(try WindowedEventReader(file: file, spec: .duration(microseconds: 1000), start: 20_000)) { error in
            XCTAssertTrue("\(error)".contains("empty window"), "\(error)")
        }
    }

    /// Binary search (no ms_to_idx) on the plain layout agrees with a scan of the events.
    func testBinarySearchOnPlainLayout() throws {
        let file = try EventFile(path: Fixtures.reader("plain_root.h5"))
        let t = try file.read(0..<file.count).t
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let time = Int64.random(in: (t.first! - 10)...(t.last! + 10), using: &rng)
            XCTAssertEqual(try file.firstIndex(atOrAfter: time), t.firstIndex { $0 >= time } ?? t.count, "t = \(time)")
        }
    }
}
