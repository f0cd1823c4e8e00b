import EventIO
import Foundation
import ParallelLoops

/// Parameters of the ESIM-style simulator (method.md §7).
public struct SimulatorConfig: Sendable, Equatable {
    /// Mean ON / OFF contrast thresholds (log intensity).
    public var contrastOn: Float = 0.2
    public var contrastOff: Float = 0.2
    /// Per-pixel mismatch: each pixel's thresholds are drawn once from N(C, σ²), clamped ≥ minimum.
    public var thresholdSigma: Float = 0.03
    public var minimumThreshold: Float = 0.01
    /// After an event a pixel stays silent this long (its reference still follows the signal).
    public var refractoryMicroseconds: Int64 = 0
    /// Background-activity noise, events per second per pixel.
    public var noiseRateOn: Double = 0
    public var noiseRateOff: Double = 0
    /// A fraction of pixels that fire ON events at `hotPixelRate` regardless of the scene.
    public var hotPixelFraction: Double = 0
    public var hotPixelRate: Double = 200
    /// L = log(ε + I), I ∈ [0, 1] (brighter irradiance is allowed: event pixels do not saturate).
    public var epsilon: Float = 1e-3
    public var seed: UInt64 = 0

    public init() {}
}

/// ESIM (Rebecq et al. 2018) per pixel: between consecutive frames the log intensity is
/// interpolated linearly in time; each crossing of the pixel's reference ± its threshold emits
/// an event with the interpolated timestamp and moves the reference by one threshold.
///
/// Streaming: `addFrame` returns the events of one frame interval, sorted by (t, y, x); memory is
/// a few per-pixel arrays whatever the length of the video. Deterministic for a seed.
public final class EventSimulator {
    public let width: Int
    public let height: Int
    public let config: SimulatorConfig
    /// Each pixel's thresholds, `[H·W]`, fixed at creation.
    public let thresholdsOn: [Float]
    public let thresholdsOff: [Float]
    /// The log intensity each pixel last fired at (its reference), `[H·W]`.
    public private(set) var reference: [Float]
    private var previousLog: [Float]
    private var previousTime: Int64?
    private var lastEventTime: [Int64]
    private let hotPixels: [Int]
    private var random: SeededRandom

    public init(width: Int, height: Int, config: SimulatorConfig = SimulatorConfig()) {
        self.width = width
        self.height = height
        self.config = config
        var random = SeededRandom(seed: config.seed)
        let n = width * height
        var on = [Float](repeating: 0, count: n), off = [Float](repeating: 0, count: n)
        for i in 0..<n {
            on[i] = max(config.minimumThreshold, config.contrastOn + config.thresholdSigma * Float(random.normal()))
            off[i] = max(config.minimumThreshold, config.contrastOff + config.thresholdSigma * Float(random.normal()))
        }
        thresholdsOn = on
        thresholdsOff = off
        let hotCount = Int((Double(n) * config.hotPixelFraction).rounded())
        hotPixels = (0..<hotCount).map { _ in Int(random.next() % UInt64(max(n, 1))) }
        self.random = random
        reference = [Float](repeating: 0, count: n)
        previousLog = [Float](repeating: 0, count: n)
        lastEventTime = [Int64](repeating: .min / 2, count: n)
    }

    /// Feeds the next frame (`[H·W]` intensities, row-major) taken at `time` µs and returns the
    /// events since the previous frame. The first frame only sets the references.
    public func addFrame(_ intensity: [Float], at time: Int64) throws -> EventPacket {
        precondition(intensity.count == width * height, "frame has \(intensity.count) pixels, expected \(width * height)")
        let epsilon = config.epsilon
        var logFrame = [Float](repeating: 0, count: intensity.count)
        intensity.withUnsafeBufferPointer { source in
            logFrame.withUnsafeMutableBufferPointer { target in
                parallelRanges(source.count, minimumPart: 1 << 14) { _, range in
                    for i in range { target[i] = Foundation.log(epsilon + max(source[i], 0)) }
                }
            }
        }
        guard let start = previousTime else {
            reference = logFrame
            previousLog = logFrame
            previousTime = time
            return EventPacket()
        }
        guard time > start else {
            throw SimulationError.timestampsNotIncreasing(previous: start, next: time)
        }
        let rows = crossings(from: previousLog, to: logFrame, start: start, end: time)
        var events = rows.flatMap { $0 }
        addNoise(into: &events, start: start, end: time)
        events.sort { ($0.t, $0.pixel, $0.p) < ($1.t, $1.pixel, $1.p) }
        previousLog = logFrame
        previousTime = time
        var packet = EventPacket(zeroed: events.count)
        for (k, event) in events.enumerated() {
            packet.x[k] = UInt16(event.pixel % width)
            packet.y[k] = UInt16(event.pixel / width)
            packet.t[k] = event.t
            packet.p[k] = event.p
        }
        return packet
    }

    struct RawEvent { var t: Int64; var pixel: Int; var p: Int8 }

    /// Threshold crossings of every pixel, computed in bands of rows on all cores.
    private func crossings(from start: [Float], to end: [Float], start t0: Int64, end t1: Int64) -> [[RawEvent]] {
        // Contiguous bands of rows per core (one task per row costs more in scheduling than it saves).
        let bands = parallelPartCount(height, minimumPart: 4)
        var rows = [[RawEvent]](repeating: [], count: bands)
        let span = Double(t1 - t0)
        let refractory = config.refractoryMicroseconds
        let width = width
        rows.withUnsafeMutableBufferPointer { rows in
        reference.withUnsafeMutableBufferPointer { reference in
        lastEventTime.withUnsafeMutableBufferPointer { lastEvent in
        thresholdsOn.withUnsafeBufferPointer { on in
        thresholdsOff.withUnsafeBufferPointer { off in
        start.withUnsafeBufferPointer { l0 in
        end.withUnsafeBufferPointer { l1 in
            parallelRanges(height, minimumPart: 4) { band, bandRows in
                var events: [RawEvent] = []
                for pixel in (bandRows.lowerBound * width)..<(bandRows.upperBound * width) {
                    let from = l0[pixel], to = l1[pixel], change = to - from
                    guard change != 0 else { continue }
                    var ref = reference[pixel]
                    let polarity: Int8 = change > 0 ? 1 : -1
                    let step = change > 0 ? on[pixel] : -off[pixel]
                    // Fire while the signal is at least one threshold past the reference.
                    while change > 0 ? to - ref >= step : ref - to >= -step {
                        ref += step
                        let fraction = Double(ref - from) / Double(change)
                        let t = t0 + Int64((span * min(max(fraction, 0), 1)).rounded())
                        if t - lastEvent[pixel] >= refractory || refractory == 0 {
                            events.append(RawEvent(t: t, pixel: pixel, p: polarity))
                            lastEvent[pixel] = t
                        }
                    }
                    reference[pixel] = ref
                }
                rows[band] = events
            }
        }}}}}}}
        return rows
    }

    /// Background activity and hot pixels: Poisson counts, uniform times in (t0, t1].
    private func addNoise(into events: inout [RawEvent], start t0: Int64, end t1: Int64) {
        let seconds = Double(t1 - t0) / 1e6
        let pixels = width * height
        for (rate, polarity) in [(config.noiseRateOn, Int8(1)), (config.noiseRateOff, Int8(-1))] where rate > 0 {
            for _ in 0..<random.poisson(rate * seconds * Double(pixels)) {
                let pixel = Int(random.next() % UInt64(pixels))
                events.append(RawEvent(t: t0 + 1 + Int64(random.uniform() * Double(t1 - t0 - 1)), pixel: pixel, p: polarity))
            }
        }
        for pixel in hotPixels {
            for _ in 0..<random.poisson(config.hotPixelRate * seconds) {
                events.append(RawEvent(t: t0 + 1 + Int64(random.uniform() * Double(t1 - t0 - 1)), pixel: pixel, p: 1))
            }
        }
    }
}

public enum SimulationError: Error, CustomStringConvertible, Equatable {
    case timestampsNotIncreasing(previous: Int64, next: Int64)

    public var description: String {
        switch self {
        case .timestampsNotIncreasing(let previous, let next):
            return "frame timestamps must increase (\(next) µs after \(previous) µs)"
        }
    }
}
