import XCTest
import EventIO
import HDF5
import FastMath
@testable import Simulation

/// The simulator's physics against analytic expectations (method.md §7).
final class EventSimulatorTests: XCTestCase {
    func exactConfig(_ contrast: Float = 0.2) -> SimulatorConfig {
        var config = SimulatorConfig()
        config.contrastOn = contrast
        config.contrastOff = contrast
        config.thresholdSigma = 0  // no mismatch: every pixel has exactly C
        return config
    }

    /// A brightness step between two frames: each pixel fires ⌊ΔL/C⌋ events at the times the
    /// interpolated log intensity crosses L₀ + kC, i.e. t_k = t₀ + (t₁ − t₀)·kC/ΔL.
    func testIntensityStepGivesTheAnalyticEvents() throws {
        let simulator = EventSimulator(width: 1, height: 1, config: exactConfig())
        XCTAssertTrue(try simulator.addFrame([0.1], at: 0).isEmpty, "the first frame only sets the reference")
        let deltaL = log(1e-3 + 0.8) - log(1e-3 + 0.1)  // ≈ 2.0740
        let events = try simulator.addFrame([0.8], at: 10_000)
        let n = Int((deltaL / 0.2).rounded(.down))
        XCTAssertEqual(n, 10)
        XCTAssertEqual(events.count, n)
        XCTAssertTrue(events.p.allSatisfy { $0 == 1 })
        for k in 1...n {
            let expected = 10_000 * Double(k) * 0.2 / deltaL
            XCTAssertEqual(Double(events.t[k - 1]), expected, accuracy: 1.0, "event \(k)")  // µs rounding
        }
        // Back down: the same number of OFF events (the reference sits at L₀ + nC, L₁ − L₀ < (n+1)C).
        let down = try simulator.addFrame([0.1], at: 20_000)
        XCTAssertEqual(down.count, n)
        XCTAssertTrue(down.p.allSatisfy { $0 == -1 })
    }

    /// An edge moving right at v px/frame over a dark→bright step: every pixel it passes fires
    /// ⌊ΔL/C⌋ ON events, all after the edge reaches it; pixels it never reaches stay silent.
    func testMovingEdgeFiresOncePerPixelItCrosses() throws {
        let width = 40
        let simulator = EventSimulator(width: width, height: 1, config: exactConfig(0.25))
        let (dark, bright): (Float, Float) = (0.05, 0.6)
        func frame(edge: Double) -> [Float] {
            // Pixel x is bright when the edge (moving right) has passed its centre; linear ramp over one pixel.
            (0..<width).map { x in
                let cover = Float(min(max(edge - Double(x), 0), 1))
                return dark + (bright - dark) * cover
            }
        }
        _ = try simulator.addFrame(frame(edge: 0), at: 0)
        var all = EventPacket()
        for step in 1...60 {  // the edge advances 0.5 px per 1 ms frame: reaches x = 30
            let events = try simulator.addFrame(frame(edge: Double(step) * 0.5), at: Int64(step) * 1000)
            all.x += events.x; all.t += events.t; all.p += events.p; all.y += events.y
        }
        let expected = Int(((log(1e-3 + Double(bright)) - log(1e-3 + Double(dark))) / 0.25).rounded(.down))
        for x in 0..<width {
            let mine = all.x.indices.filter { all.x[$0] == x }
            XCTAssertEqual(mine.count, x < 30 ? expected : 0, "pixel \(x)")
            for k in mine {
                XCTAssertEqual(all.p[k], 1)
                // The edge reaches pixel x at step 2x (1000 µs per 0.5 px) and covers it by step 2x + 2.
                XCTAssertGreaterThanOrEqual(all.t[k], Int64(2 * x) * 1000, "pixel \(x) fired before the edge arrived")
                XCTAssertLessThanOrEqual(all.t[k], Int64(2 * x + 2) * 1000)
            }
        }
        XCTAssertEqual(all.t, all.t.sorted(), "events come out sorted by time")
    }

    /// Σ C·p per pixel tracks the log-intensity change to within one threshold (per-pixel C).
    func testSummedEventsReproduceTheLogChange() throws {
        var config = SimulatorConfig()
        config.seed = 3
        let (w, h) = (16, 12)
        let simulator = EventSimulator(width: w, height: h, config: config)
        var random = SeededRandom(seed: 99)
        let first = (0..<(w * h)).map { _ in Float(random.uniform()) }
        _ = try simulator.addFrame(first, at: 0)
        var sum = [Double](repeating: 0, count: w * h)
        var frame = first
        for step in 1...50 {
            frame = frame.map { min(1, max(0, $0 + Float(random.normal()) * 0.1)) }
            let events = try simulator.addFrame(frame, at: Int64(step) * 2000)
            for k in 0..<events.count {
                let pixel = Int(events.y[k]) * w + Int(events.x[k])
                sum[pixel] += Double(events.p[k] > 0 ? simulator.thresholdsOn[pixel] : simulator.thresholdsOff[pixel]) * Double(events.p[k])
            }
        }
        for pixel in 0..<(w * h) {
            let change = log(1e-3 + Double(frame[pixel])) - log(1e-3 + Double(first[pixel]))
            let bound = Double(max(simulator.thresholdsOn[pixel], simulator.thresholdsOff[pixel]))
            XCTAssertLessThan(abs(change - sum[pixel]), bound + 1e-5, "pixel \(pixel)")
        }
    }

    func testThresholdMismatchNoiseAndRefractoryPeriod() throws {
        var config = SimulatorConfig()
        config.seed = 5
        let simulator = EventSimulator(width: 100, height: 100, config: config)
        let mean = simulator.thresholdsOn.reduce(0, +) / Float(10_000)
        let variance = simulator.thresholdsOn.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(10_000)
        XCTAssertEqual(mean, 0.2, accuracy: 0.002)
        XCTAssertEqual(variance.squareRoot(), 0.03, accuracy: 0.002)
        XCTAssertTrue(simulator.thresholdsOn.allSatisfy { $0 >= 0.01 })

        // Noise only: a static scene at 10 Hz per pixel for 1 s gives about 10 events per pixel.
        config.noiseRateOn = 10
        let noisy = EventSimulator(width: 50, height: 50, config: config)
        let still = [Float](repeating: 0.5, count: 2_500)
        _ = try noisy.addFrame(still, at: 0)
        let events = try noisy.addFrame(still, at: 1_000_000)
        XCTAssertEqual(Double(events.count), 25_000, accuracy: 5 * 25_000.0.squareRoot())
        XCTAssertTrue(events.p.allSatisfy { $0 == 1 })

        // A refractory period longer than the frame interval allows one event per pixel per step.
        var slow = exactConfig()
        slow.refractoryMicroseconds = 50_000
        let refractory = EventSimulator(width: 1, height: 1, config: slow)
        _ = try refractory.addFrame([0.01], at: 0)
        XCTAssertEqual(try refractory.addFrame([1.0], at: 1_000).count, 1)
        XCTAssertThrowsError(try refractory.addFrame([1.0], at: 1_000)) { error in
            XCTAssertEqual(error as? SimulationError, .timestampsNotIncreasing(previous: 1_000, next: 1_000))
        }
    }

    func testSameSeedSameEvents() throws {
        func run(seed: UInt64) throws -> [EventPacket] {
            var config = SimulatorConfig()
            config.seed = seed
            config.noiseRateOn = 5
            config.hotPixelFraction = 0.01
            let scene = DrivingScene(width: 32, height: 16, duration: 0.1, seed: seed)
            let simulator = EventSimulator(width: 32, height: 16, config: config)
            var irradiance = [Float](repeating: 0, count: 512), labels = [UInt8](repeating: 0, count: 512)
            return try (0...20).map { frame in
                scene.render(at: Double(frame) / 200, irradiance: &irradiance, labels: &labels)
                return try simulator.addFrame(irradiance, at: Int64(frame) * 5_000)
            }
        }
        let a = try run(seed: 7), b = try run(seed: 7), c = try run(seed: 8)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertGreaterThan(a.reduce(0) { $0 + $1.count }, 100, "the scene moves, so it makes events")
    }

    /// Frames of a driving scene at 500 Hz, `[H·W]` each, and their times in µs.
    func drivingFrames(width: Int, height: Int, count: Int, seed: UInt64) -> ([[Float]], [Int64]) {
        let scene = DrivingScene(width: width, height: height, duration: Double(count) / 500, seed: seed)
        var irradiance = [Float](repeating: 0, count: width * height), labels = [UInt8](repeating: 0, count: width * height)
        let frames = (0..<count).map { k -> [Float] in
            scene.render(at: Double(k) / 500, irradiance: &irradiance, labels: &labels)
            return irradiance
        }
        return (frames, (0..<count).map { Int64($0) * 2_000 })
    }

    /// The plain algorithm: every pixel's log intensity every frame, ESIM's crossing loop in the
    /// simulator's float expressions, events sorted by (t, y, x, p). The simulator's bounds,
    /// bands and counting sort must give exactly these events.
    func testEventsEqualThePlainPerPixelAlgorithm() throws {
        let (frames, times) = drivingFrames(width: 64, height: 48, count: 40, seed: 4)
        let events = try assertEventsEqualPlainAlgorithm(frames, times, width: 64, height: 48, seed: 11)
        XCTAssertGreaterThan(events, 1000, "the scene moves, so it makes events")
    }

    /// Runs the simulator (no noise) and the plain algorithm on the same frames and compares
    /// every packet; returns the number of events.
    @discardableResult
    func assertEventsEqualPlainAlgorithm(_ frames: [[Float]], _ times: [Int64], width w: Int, height h: Int, seed: UInt64,
                                         file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        var config = SimulatorConfig()
        config.seed = seed
        let simulator = EventSimulator(width: w, height: h, config: config)
        let actual = try frames.indices.map { try simulator.addFrame(frames[$0], at: times[$0]) }

        func logIntensity(_ v: Float) -> Float { log(config.epsilon + max(v, 0)) }
        var reference = frames[0].map(logIntensity)
        for k in 1..<frames.count {
            var expected: [(t: Int64, y: UInt16, x: UInt16, p: Int8)] = []
            let span = Double(times[k] - times[k - 1])
            for pixel in 0..<(w * h) {
                let from = logIntensity(frames[k - 1][pixel]), to = logIntensity(frames[k][pixel])
                let change = to - from
                guard change != 0 else { continue }
                let step = change > 0 ? simulator.thresholdsOn[pixel] : -simulator.thresholdsOff[pixel]
                while change > 0 ? to - reference[pixel] >= step : reference[pixel] - to >= -step {
                    reference[pixel] += step
                    let fraction = min(max(Double(reference[pixel] - from) / Double(change), 0), 1)
                    let t = times[k - 1] + Int64((span * fraction).rounded())
                    expected.append((t, UInt16(pixel / w), UInt16(pixel % w), change > 0 ? 1 : -1))
                }
            }
            expected.sort { ($0.t, $0.y, $0.x, $0.p) < ($1.t, $1.y, $1.x, $1.p) }
            XCTAssertEqual(actual[k].t, expected.map(\.t), "frame \(k)", file: file, line: line)
            XCTAssertEqual(actual[k].y, expected.map(\.y), "frame \(k)", file: file, line: line)
            XCTAssertEqual(actual[k].x, expected.map(\.x), "frame \(k)", file: file, line: line)
            XCTAssertEqual(actual[k].p, expected.map(\.p), "frame \(k)", file: file, line: line)
        }
        return actual.reduce(0) { $0 + $1.count }
    }

    /// Frames in batches (bands of rows on all cores, frames sorted in parallel) give exactly
    /// the events of frames one at a time, noise, hot pixels and refractory period included, on
    /// a frame large enough to be split into bands.
    func testBatchesGiveTheSameEventsAsSingleFrames() throws {
        var config = SimulatorConfig()
        config.seed = 21
        config.noiseRateOn = 20
        config.noiseRateOff = 20
        config.hotPixelFraction = 0.001
        config.refractoryMicroseconds = 300
        let (w, h) = (256, 128)
        let (frames, times) = drivingFrames(width: w, height: h, count: 23, seed: 9)
        let single = EventSimulator(width: w, height: h, config: config)
        let one = try frames.indices.map { try single.addFrame(frames[$0], at: times[$0]) }
        let batched = EventSimulator(width: w, height: h, config: config)
        var many: [EventPacket] = []
        for start in stride(from: 0, to: frames.count, by: 7) {
            let end = min(start + 7, frames.count)
            many += try batched.addFrames(Array(frames[start..<end]), at: Array(times[start..<end]))
        }
        XCTAssertEqual(many.count, one.count)
        for k in one.indices { XCTAssertEqual(many[k], one[k], "frame \(k)") }
        XCTAssertGreaterThan(one.reduce(0) { $0 + $1.count }, 1000)
        XCTAssertThrowsError(try batched.addFrames([frames[0], frames[1]], at: [times.last! + 10, times.last! + 10]))
    }

    /// The bounds' exponential stays within a few ulp of libm's: far inside the 1e-5 widening
    /// that keeps the bounds conservative.
    func testVectorisedExponentialIsWithinAFewUlp() {
        let inputs = stride(from: -80.0 as Float, through: 80, by: 0.0137).map { $0 }
        var outputs = [Float](repeating: 0, count: inputs.count)
        inputs.withUnsafeBufferPointer { i in outputs.withUnsafeMutableBufferPointer { o in
            exponentials(i.baseAddress!, o.baseAddress!, count: i.count)
        }}
        for (x, y) in zip(inputs, outputs) {
            let exact = exp(Double(x))
            XCTAssertLessThan(abs(Double(y) - exact) / exact, 4e-7, "exp(\(x))")
        }
    }

    /// Frames an hour apart (far more µs than events) are sorted without a bucket per µs: the
    /// events still equal the plain algorithm's, and with noise they still come out sorted.
    func testFramesFarApartGiveSortedEvents() throws {
        let (w, h) = (64, 48)
        let (frames, _) = drivingFrames(width: w, height: h, count: 3, seed: 2)
        let hour: Int64 = 3_600_000_000
        let events = try assertEventsEqualPlainAlgorithm(frames, [0, hour, 2 * hour], width: w, height: h, seed: 4)
        XCTAssertGreaterThan(events, 10)

        var config = SimulatorConfig()
        config.seed = 4
        config.noiseRateOn = 0.01
        let noisy = try EventSimulator(width: w, height: h, config: config).addFrames(frames, at: [0, hour, 2 * hour])
        for packet in noisy.dropFirst() {
            let keys = (0..<packet.count).map { [packet.t[$0], Int64(packet.y[$0]), Int64(packet.x[$0]), Int64(packet.p[$0])] }
            XCTAssertEqual(keys, keys.sorted { $0.lexicographicallyPrecedes($1) })
            XCTAssertGreaterThan(packet.count, events / 2, "noise of 0.01 Hz over an hour is in there too")
        }
    }
}
