import XCTest
import EventIO
import EventRepresentations

/// Tiny cases computed by hand from method.md §1, including the degenerate windows tonic and
/// DSEC's loaders get wrong (one timestamp, last event of the window).
final class RepresentationHandComputedTests: XCTestCase {
    func packet(_ events: [(x: UInt16, y: UInt16, t: Int64, p: Int8)]) -> EventPacket {
        EventPacket(x: events.map(\.x), y: events.map(\.y), t: events.map(\.t), p: events.map(\.p))
    }

    func testOneEventLandsWholeInBinZero() {
        // t_last == t_first: denominator 1, t* = 0 → V[0] += p.
        let grid = voxelGrid(packet([(1, 0, 500, -1)]), bins: 3, height: 2, width: 2)
        var expected = [Float](repeating: 0, count: 12)
        expected[0 * 4 + 0 * 2 + 1] = -1
        XCTAssertEqual(grid, expected)
    }

    func testAllEventsAtOneTimestampDoNotDivideByZero() {
        let grid = voxelGrid(packet([(0, 0, 7, 1), (0, 0, 7, 1), (1, 1, 7, -1)]), bins: 2, height: 2, width: 2)
        XCTAssertEqual(grid, [2, 0, 0, -1, 0, 0, 0, 0])
        XCTAssertTrue(grid.allSatisfy { $0.isFinite })
    }

    func testEventAtTheWindowEndIsKeptInTheLastBin() {
        // B = 5, t_first = 0, t_last = 100: t* = 4·t/100.
        // t = 0 → bin 0; t = 30 → t* = 1.2: 0.8 to bin 1, 0.2 to bin 2; t = 100 → t* = 4 → bin 4 whole.
        let events = packet([(0, 0, 0, 1), (1, 0, 30, -1), (0, 1, 100, 1)])
        let grid = voxelGrid(events, bins: 5, height: 2, width: 2)
        func v(_ b: Int, _ y: Int, _ x: Int) -> Float { grid[b * 4 + y * 2 + x] }
        XCTAssertEqual(v(0, 0, 0), 1)
        XCTAssertEqual(v(1, 0, 1), -0.8, accuracy: 1e-6)
        XCTAssertEqual(v(2, 0, 1), -0.2, accuracy: 1e-6)
        XCTAssertEqual(v(4, 1, 0), 1, "tonic drops the window's last event; E2VID keeps it")
        XCTAssertEqual(grid.reduce(0, +), 1, accuracy: 1e-6, "total polarity is conserved: 1 − 1 + 1")
    }

    func testEventOnABinBoundaryLeavesTheNextBinExactlyZero() {
        // B = 5 over 0…3 µs: t* = 4t/3, so t = 3 is exactly 4 and nothing else is on a boundary;
        // with B = 4 over 0…3 µs, t* = t: every event sits on a boundary, d = 0 exactly, so the
        // next bin must stay exactly zero (E2VID normalisation counts non-zero entries).
        let events = packet([(0, 0, 0, 1), (1, 0, 1, 1), (0, 1, 2, -1), (1, 1, 3, 1)])
        let grid = voxelGrid(events, bins: 4, height: 2, width: 2)
        var expected = [Float](repeating: 0, count: 16)
        expected[0 * 4 + 0] = 1
        expected[1 * 4 + 1] = 1
        expected[2 * 4 + 2] = -1
        expected[3 * 4 + 3] = 1
        XCTAssertEqual(grid, expected)
        // B = 5 over 0…364 µs: t = 273 gives t* = 3 exactly, but 1092 × (1/364) is
        // 3.0000000000000004 in float64, which would leave 4e-16 in bin 4.
        let boundary = voxelGrid(packet([(0, 0, 0, 1), (1, 0, 273, 1), (0, 0, 364, 1)]), bins: 5, height: 1, width: 2)
        XCTAssertEqual(boundary, [1, 0, 0, 0, 0, 0, 0, 1, 1, 0])
    }

    func testLongWindowsMatchExactRationalBins() {
        // An hour-long window in µs with odd timestamps: i = ⌊q/Δt⌋ and d = (q mod Δt)/Δt by
        // integer arithmetic, against the kernel's multiply-and-correct quotient.
        let tFirst: Int64 = 1_000_003, span: Int64 = 3_600_000_007, bins = 7
        var state: UInt64 = 99
        var events: [(x: UInt16, y: UInt16, t: Int64, p: Int8)] = [(0, 0, tFirst, 1)]
        for _ in 0..<2000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            events.append((0, 0, tFirst + Int64((state >> 11) % UInt64(span)), 1))
        }
        events.append((0, 0, tFirst + span, 1))
        events.sort { $0.t < $1.t }
        var expected = [Double](repeating: 0, count: bins)
        for e in events {
            let q = Int64(bins - 1) * (e.t - tFirst)
            let (i, r) = (Int(q / span), q % span)
            let d = Double(r) / Double(span)
            expected[i] += 1 - d
            if i + 1 < bins { expected[i + 1] += d }
        }
        let grid = voxelGrid(packet(events), bins: bins, height: 1, width: 1)
        for b in 0..<bins { XCTAssertEqual(Double(grid[b]), expected[b], accuracy: 1e-3, "bin \(b)") }
    }

    func testEmptyWindowGivesZeros() {
        XCTAssertEqual(voxelGrid(EventPacket(), bins: 3, height: 2, width: 2), [Float](repeating: 0, count: 12))
        XCTAssertEqual(histogram(EventPacket(), height: 1, width: 2), [0, 0, 0, 0])
        XCTAssertEqual(timeSurface(EventPacket(), height: 1, width: 1, windowEnd: 10, tauMicroseconds: 1), [0, 0])
    }

    func testHistogramEventFrameAndTimeSurfaceByHand() {
        let events = packet([(0, 0, 0, 1), (0, 0, 10, 1), (1, 0, 20, -1), (0, 0, 30, -1)])
        XCTAssertEqual(histogram(events, height: 1, width: 2), [2, 0, 1, 1])
        XCTAssertEqual(eventFrame(events, height: 1, width: 2), [1, -1])
        // Window end 40, τ = 10: ON at (0,0) last at 10 → e^−3; OFF at (0,0) last at 30 → e^−1; OFF at (1,0) at 20 → e^−2.
        let surface = timeSurface(events, height: 1, width: 2, windowEnd: 40, tauMicroseconds: 10)
        XCTAssertEqual(surface[0], Float(exp(-3.0)), accuracy: 1e-7)
        XCTAssertEqual(surface[1], 0)
        XCTAssertEqual(surface[2], Float(exp(-1.0)), accuracy: 1e-7)
        XCTAssertEqual(surface[3], Float(exp(-2.0)), accuracy: 1e-7)
    }

    func testE2VIDNormalisationByHand() {
        // Non-zero entries 1, 3: mean 2, population std 1 → −1, +1; zeros stay zero.
        var grid: [Float] = [0, 1, 0, 3]
        normalizeE2VID(&grid)
        XCTAssertEqual(grid, [0, -1, 0, 1])
        // All non-zero entries equal: std 0 is taken as 1 (E2VID would divide by zero).
        var flat: [Float] = [2, 0, 2]
        normalizeE2VID(&flat)
        XCTAssertEqual(flat, [0, 0, 0])
    }

    /// The multi-core path (private grids per core, summed) against a plain Double loop.
    func testParallelVoxelGridMatchesSerialReference() {
        var rng = SystemRandomNumberGenerator()
        let n = 600_000, (h, w, b) = (6, 7, 4)
        var events = EventPacket(zeroed: n)
        for k in 0..<n {
            events.x[k] = UInt16.random(in: 0..<UInt16(w), using: &rng)
            events.y[k] = UInt16.random(in: 0..<UInt16(h), using: &rng)
            events.t[k] = Int64(k / 3)
            events.p[k] = Bool.random(using: &rng) ? 1 : -1
        }
        var reference = [Double](repeating: 0, count: b * h * w)
        let span = Double(events.t[n - 1] - events.t[0])
        for k in 0..<n {
            let tStar = Double(b - 1) * Double(events.t[k] - events.t[0]) / span
            let i = Int(tStar.rounded(.down)), d = tStar - Double(i)
            let pixel = Int(events.y[k]) * w + Int(events.x[k])
            reference[i * h * w + pixel] += Double(events.p[k]) * (1 - d)
            if i + 1 < b { reference[(i + 1) * h * w + pixel] += Double(events.p[k]) * d }
        }
        let grid = voxelGrid(events, bins: b, height: h, width: w)
        for i in grid.indices {
            // ~3,600 float32 additions of ±1 per cell with partial sums near 60: rounding stays
            // below 1e-3; a lost or doubled private grid would be off by tens.
            XCTAssertEqual(Double(grid[i]), reference[i], accuracy: 1e-2, "cell \(i)")
        }
    }
}
