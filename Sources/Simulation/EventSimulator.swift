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
/// Most pixels cross nothing between two frames at 500 Hz. Each pixel therefore keeps the two
/// intensities at which it would next fire, exp(L_ref ± C) − ε, and a frame costs one compare
/// per pixel; logarithms and the exact crossing test run only for pixels past a bound (bounds
/// are widened by a few ulps, so no crossing is missed and results equal the plain algorithm).
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
    private var previousIntensity: [Float]
    /// Intensities at which each pixel fires its next ON / OFF event (widened).
    private var upperBound: [Float]
    private var lowerBound: [Float]
    private var previousTime: Int64?
    private var lastEventTime: [Int64]
    private let hotPixels: [Int]
    private var random: SeededRandom
    /// Per-band event buffers, reused across frames.
    private var bandEvents: [[RawEvent]] = []

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
        previousIntensity = [Float](repeating: 0, count: n)
        upperBound = [Float](repeating: 0, count: n)
        lowerBound = [Float](repeating: 0, count: n)
        lastEventTime = [Int64](repeating: .min / 2, count: n)
    }

    @inline(__always)
    private static func logIntensity(_ intensity: Float, _ epsilon: Float) -> Float {
        Foundation.log(epsilon + max(intensity, 0))
    }

    /// The intensities at which a pixel with reference `ref` fires next, widened by 1e-5
    /// relative so float rounding in exp/log can never hide a crossing.
    @inline(__always)
    private static func bounds(reference ref: Float, on: Float, off: Float, epsilon: Float) -> (upper: Float, lower: Float) {
        let upper = Foundation.exp(ref + on) - epsilon
        let lower = Foundation.exp(ref - off) - epsilon
        return (upper * (1 - 1e-5) - 1e-7, lower * (1 + 1e-5) + 1e-7)
    }

    /// Feeds the next frame (`[H·W]` intensities, row-major) taken at `time` µs and returns the
    /// events since the previous frame. The first frame only sets the references.
    public func addFrame(_ intensity: [Float], at time: Int64) throws -> EventPacket {
        precondition(intensity.count == width * height, "frame has \(intensity.count) pixels, expected \(width * height)")
        guard let start = previousTime else {
            initialise(intensity)
            previousTime = time
            return EventPacket()
        }
        guard time > start else {
            throw SimulationError.timestampsNotIncreasing(previous: start, next: time)
        }
        var events = crossings(to: intensity, start: start, end: time)
        addNoise(into: &events, start: start, end: time)
        previousTime = time
        return sortedPacket(events, start: start, span: Int(time - start))
    }

    /// Orders an interval's events by (t, y, x, p) with a counting sort on t − t₀: crossings
    /// arrive in pixel order already, so only buckets holding noise events need a local sort.
    private func sortedPacket(_ events: [RawEvent], start: Int64, span: Int) -> EventPacket {
        var offsets = [Int](repeating: 0, count: span + 2)
        for event in events { offsets[Int(event.t - start) + 1] += 1 }
        for k in 1..<offsets.count { offsets[k] += offsets[k - 1] }
        var order = [Int](repeating: 0, count: events.count)
        var next = offsets
        for (index, event) in events.enumerated() {
            let bucket = Int(event.t - start)
            order[next[bucket]] = index
            next[bucket] += 1
        }
        for bucket in 0...span where offsets[bucket + 1] - offsets[bucket] > 1 {
            let range = offsets[bucket]..<offsets[bucket + 1]
            let inOrder = range.dropFirst().allSatisfy { events[order[$0 - 1]].pixel <= events[order[$0]].pixel }
            if !inOrder {
                order[range].sort { (events[$0].pixel, events[$0].p) < (events[$1].pixel, events[$1].p) }
            }
        }
        var packet = EventPacket()
        packet.resizeForOverwrite(events.count)
        let width = width
        for (k, index) in order.enumerated() {
            let event = events[index]
            packet.x[k] = UInt16(event.pixel % width)
            packet.y[k] = UInt16(event.pixel / width)
            packet.t[k] = event.t
            packet.p[k] = event.p
        }
        return packet
    }

    private func initialise(_ intensity: [Float]) {
        let epsilon = config.epsilon
        for i in intensity.indices {
            let ref = Self.logIntensity(intensity[i], epsilon)
            reference[i] = ref
            (upperBound[i], lowerBound[i]) = Self.bounds(reference: ref, on: thresholdsOn[i], off: thresholdsOff[i], epsilon: epsilon)
        }
        previousIntensity = intensity
    }

    struct RawEvent { var t: Int64; var pixel: Int; var p: Int8 }

    /// Threshold crossings of every pixel, in bands of rows on all cores.
    private func crossings(to frame: [Float], start t0: Int64, end t1: Int64) -> [RawEvent] {
        // Bands only for large frames: at 500 Hz a small frame's work is shorter than waking a core.
        let rowsPerBand = max(1, (1 << 18) / max(width, 1))
        let bands = parallelPartCount(height, minimumPart: rowsPerBand)
        if bandEvents.count != bands { bandEvents = Array(repeating: [], count: bands) }
        let span = Double(t1 - t0)
        let refractory = config.refractoryMicroseconds
        let epsilon = config.epsilon
        let width = width
        bandEvents.withUnsafeMutableBufferPointer { bandEvents in
        reference.withUnsafeMutableBufferPointer { reference in
        upperBound.withUnsafeMutableBufferPointer { upper in
        lowerBound.withUnsafeMutableBufferPointer { lower in
        lastEventTime.withUnsafeMutableBufferPointer { lastEvent in
        thresholdsOn.withUnsafeBufferPointer { on in
        thresholdsOff.withUnsafeBufferPointer { off in
        previousIntensity.withUnsafeBufferPointer { previous in
        frame.withUnsafeBufferPointer { current in
            parallelRanges(height, minimumPart: rowsPerBand) { band, rows in
                var events = bandEvents[band]
                bandEvents[band] = []  // unique reference: removeAll keeps the capacity
                events.removeAll(keepingCapacity: true)
                let (now, up, down) = (current.baseAddress!, upper.baseAddress!, lower.baseAddress!)
                // The per-pixel work, for the few pixels past one of their bounds.
                func fire(_ pixel: Int) {
                    let value = now[pixel]
                    guard value >= up[pixel] || value <= down[pixel] else { return }
                    // A candidate: the exact ESIM test in log space.
                    let from = Self.logIntensity(previous[pixel], epsilon), to = Self.logIntensity(value, epsilon)
                    let change = to - from
                    guard change != 0 else { return }
                    var ref = reference[pixel]
                    let polarity: Int8 = change > 0 ? 1 : -1
                    let step = change > 0 ? on[pixel] : -off[pixel]
                    // Fire while the signal is at least one threshold past the reference.
                    while change > 0 ? to - ref >= step : ref - to >= -step {
                        ref += step
                        let fraction = Double(ref - from) / Double(change)
                        let t = t0 + Int64((span * min(max(fraction, 0), 1)).rounded())
                        if refractory == 0 || t - lastEvent[pixel] >= refractory {
                            events.append(RawEvent(t: t, pixel: pixel, p: polarity))
                            lastEvent[pixel] = t
                        }
                    }
                    reference[pixel] = ref
                    (up[pixel], down[pixel]) = Self.bounds(reference: ref, on: on[pixel], off: off[pixel], epsilon: epsilon)
                }
                // Scan eight pixels at a time; most groups have no candidate.
                let first = rows.lowerBound * width, end = rows.upperBound * width
                var pixel = first
                while pixel + 8 <= end {
                    let v = UnsafeRawPointer(now + pixel).loadUnaligned(as: SIMD8<Float>.self)
                    let u = UnsafeRawPointer(up + pixel).loadUnaligned(as: SIMD8<Float>.self)
                    let d = UnsafeRawPointer(down + pixel).loadUnaligned(as: SIMD8<Float>.self)
                    if any((v .>= u) .| (v .<= d)) {
                        for k in pixel..<(pixel + 8) { fire(k) }
                    }
                    pixel += 8
                }
                while pixel < end {
                    fire(pixel)
                    pixel += 1
                }
                bandEvents[band] = events
            }
        }}}}}}}}}
        previousIntensity = frame
        return bandEvents.count == 1 ? bandEvents[0] : bandEvents.flatMap { $0 }
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
