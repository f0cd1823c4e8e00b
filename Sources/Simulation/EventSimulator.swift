import EventIO
import FastMath
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
/// are widened by 1e-5 relative, so no crossing is missed and results equal the plain
/// algorithm).
///
/// Pixels are independent, so `addFrames` gives each core bands of rows for a whole batch of
/// frames and then sorts the frames' events in parallel: two synchronisations per batch, where
/// one frame at 500 Hz is too little work to wake the other cores for.
///
/// Streaming: each call returns the events of its frame intervals, sorted by (t, y, x); memory
/// is a few per-pixel arrays whatever the length of the video. Deterministic for a seed, and the
/// same events whether frames come one at a time or in batches.
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
    /// Bands of rows for large frames (more bands than cores, because events, and so work,
    /// gather in a few rows of a scene); one band for small ones, whose work is shorter than
    /// waking a core.
    private let bands: Int
    /// Event buffers, `[frame of the batch][band]` plus the noise after the last band; reused.
    private var buffers: [[RawEventBuffer]] = []

    public init(width: Int, height: Int, config: SimulatorConfig = SimulatorConfig()) {
        self.width = width
        self.height = height
        self.config = config
        bands = width * height >= 1 << 15 ? min(height, 16 * availableCores) : 1
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

    deinit {
        for frame in buffers { for buffer in frame { buffer.deallocate() } }
    }

    @inline(__always)
    private static func logIntensity(_ intensity: Float, _ epsilon: Float) -> Float {
        Foundation.log(epsilon + max(intensity, 0))
    }

    /// A pixel's bounds from exp(ref + C_on) and exp(ref − C_off), widened by 1e-5 relative: far
    /// more than the rounding of exp and log, so no crossing is missed. The bounds only choose
    /// which pixels get the exact test, so how exp is computed cannot change any event.
    @inline(__always)
    private static func bounds(expUp: Float, expDown: Float, epsilon: Float) -> (upper: Float, lower: Float) {
        ((expUp - epsilon) * (1 - 1e-5) - 1e-7, (expDown - epsilon) * (1 + 1e-5) + 1e-7)
    }

    /// Feeds the next frame (`[H·W]` intensities, row-major) taken at `time` µs and returns the
    /// events since the previous frame. The first frame only sets the references.
    public func addFrame(_ intensity: [Float], at time: Int64) throws -> EventPacket {
        try addFrames([intensity], at: [time])[0]
    }

    /// Feeds frames in order and returns one packet per frame: the events since the frame
    /// before it (the very first frame only sets the references and gets an empty packet).
    public func addFrames(_ frames: [[Float]], at times: [Int64]) throws -> [EventPacket] {
        precondition(frames.count == times.count, "\(frames.count) frames but \(times.count) timestamps")
        for frame in frames {
            precondition(frame.count == width * height, "frame has \(frame.count) pixels, expected \(width * height)")
        }
        var previous = previousTime
        for time in times {
            if let previous, time <= previous { throw SimulationError.timestampsNotIncreasing(previous: previous, next: time) }
            previous = time
        }
        guard !frames.isEmpty else { return [] }
        var packets: [EventPacket] = []
        var (frames, times) = (frames[...], times[...])
        if previousTime == nil {
            initialise(frames.removeFirst())
            previousTime = times.removeFirst()
            packets.append(EventPacket())
        }
        guard let start = previousTime, !frames.isEmpty else { return packets }
        let intervals = Array(zip([start] + times.dropLast(), times))
        crossings(Array(frames), intervals: intervals)
        for (frame, (t0, t1)) in intervals.enumerated() { addNoise(start: t0, end: t1, into: &buffers[frame][buffers[frame].count - 1]) }
        previousIntensity = frames.last!
        previousTime = times.last!
        return packets + sortedPackets(intervals: intervals)
    }

    private func initialise(_ intensity: [Float]) {
        let (n, epsilon) = (width * height, config.epsilon)
        var exps = [Float](repeating: 0, count: 2 * n)
        for i in 0..<n {
            reference[i] = Self.logIntensity(intensity[i], epsilon)
            (exps[i], exps[n + i]) = (reference[i] + thresholdsOn[i], reference[i] - thresholdsOff[i])
        }
        exps.withUnsafeMutableBufferPointer { exponentials($0.baseAddress!, $0.baseAddress!, count: 2 * n) }
        for i in 0..<n { (upperBound[i], lowerBound[i]) = Self.bounds(expUp: exps[i], expDown: exps[n + i], epsilon: epsilon) }
        previousIntensity = intensity
    }

    /// Crossings of every pixel over `frames`, band by band on all cores, into `buffers`.
    private func crossings(_ frames: [[Float]], intervals: [(Int64, Int64)]) {
        while buffers.count < frames.count { buffers.append((0...bands).map { _ in RawEventBuffer() }) }
        let refractory = config.refractoryMicroseconds
        let epsilon = config.epsilon
        let (width, height) = (width, height)
        let previousFrame = previousIntensity
        buffers.withUnsafeMutableBufferPointer { buffers in
        reference.withUnsafeMutableBufferPointer { reference in
        upperBound.withUnsafeMutableBufferPointer { upper in
        lowerBound.withUnsafeMutableBufferPointer { lower in
        lastEventTime.withUnsafeMutableBufferPointer { lastEvent in
        thresholdsOn.withUnsafeBufferPointer { on in
        thresholdsOff.withUnsafeBufferPointer { off in
            let (up, down) = (upper.baseAddress!, lower.baseAddress!)
            parallelFor(bands) { band in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: width) { moved in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * width) { exps in
                let (moved, exps) = (moved.baseAddress!, exps.baseAddress!)
                for (frameIndex, (t0, t1)) in intervals.enumerated() {
                    var events = buffers[frameIndex][band]
                    events.removeAll()
                    let span = Double(t1 - t0)
                    (frameIndex == 0 ? previousFrame : frames[frameIndex - 1]).withUnsafeBufferPointer { previous in
                    frames[frameIndex].withUnsafeBufferPointer { current in
                        let now = current.baseAddress!
                        // Pixels whose reference moved in this row; their new bounds are computed
                        // together at the row's end (`exponentials` is vectorised).
                        var movedCount = 0
                        func updateBounds() {
                            for j in 0..<movedCount {
                                let pixel = moved[j]
                                (exps[j], exps[movedCount &+ j]) = (reference[pixel] + on[pixel], reference[pixel] - off[pixel])
                            }
                            exponentials(exps, exps, count: 2 &* movedCount)
                            for j in 0..<movedCount {
                                (up[moved[j]], down[moved[j]]) = Self.bounds(expUp: exps[j], expDown: exps[movedCount &+ j], epsilon: epsilon)
                            }
                            movedCount = 0
                        }
                        // The per-pixel work, for the few pixels past one of their bounds.
                        func fire(_ pixel: Int, x: Int, y: Int) {
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
                                // Rounded half up (the product is ≥ 0): libm's round is a call per event.
                                let t = t0 &+ Int64(span * min(max(fraction, 0), 1) + 0.5)
                                if refractory == 0 || t - lastEvent[pixel] >= refractory {
                                    events.append(RawEvent(t: t, x: UInt16(truncatingIfNeeded: x), y: UInt16(truncatingIfNeeded: y), p: polarity))
                                    lastEvent[pixel] = t
                                }
                            }
                            reference[pixel] = ref
                            moved[movedCount] = pixel
                            movedCount &+= 1
                        }
                        for y in (height * band / bands)..<(height * (band + 1) / bands) {
                            defer { updateBounds() }
                            // Eight pixels at a time; most groups have no candidate.
                            let rowStart = y &* width
                            var x = 0
                            while x &+ 8 <= width {
                                let pixel = rowStart &+ x
                                let v = UnsafeRawPointer(now + pixel).loadUnaligned(as: SIMD8<Float>.self)
                                let u = UnsafeRawPointer(up + pixel).loadUnaligned(as: SIMD8<Float>.self)
                                let d = UnsafeRawPointer(down + pixel).loadUnaligned(as: SIMD8<Float>.self)
                                if any((v .>= u) .| (v .<= d)) {
                                    for k in 0..<8 { fire(pixel &+ k, x: x &+ k, y: y) }
                                }
                                x &+= 8
                            }
                            while x < width {
                                fire(rowStart &+ x, x: x, y: y)
                                x &+= 1
                            }
                        }
                    }}
                    buffers[frameIndex][band] = events
                }
                }}
            }
        }}}}}}}
    }

    /// Orders each interval's events by (t, y, x, p), the intervals in parallel, with a
    /// counting sort on t − t₀ straight into the packet's columns. Crossings arrive in (y, x)
    /// order (bands in row order) and the sort is stable, so only buckets that received a noise
    /// event need a local sort.
    private func sortedPackets(intervals: [(Int64, Int64)]) -> [EventPacket] {
        var packets = [EventPacket](repeating: EventPacket(), count: intervals.count)
        let width = width
        buffers.withUnsafeBufferPointer { buffers in
        packets.withUnsafeMutableBufferPointer { packets in
            parallelFor(intervals.count) { frame in
                let (start, span) = (intervals[frame].0, Int(intervals[frame].1 - intervals[frame].0))
                let sources = buffers[frame]
                let total = sources.reduce(0) { $0 + $1.count }
                var packet = EventPacket()
                packet.resizeForOverwrite(total)
                guard total > 0 else { packets[frame] = packet; return }
                // Frames far apart with few events (a slide show): one bucket per µs would cost
                // more than sorting the events themselves, which gives the same order.
                guard span <= 4 &* total &+ 65_536 else {
                    let sorted = sources.flatMap { Array($0.events) }.sorted { ($0.t, $0.y, $0.x, $0.p) < ($1.t, $1.y, $1.x, $1.p) }
                    for (k, event) in sorted.enumerated() {
                        (packet.x[k], packet.y[k], packet.t[k], packet.p[k]) = (event.x, event.y, event.t, event.p)
                    }
                    packets[frame] = packet
                    return
                }
                withUnsafeTemporaryAllocation(of: Int.self, capacity: span + 2) { next in
                    next.initialize(repeating: 0)
                    for source in sources {
                        for event in source.events { next[Int(event.t &- start) &+ 1] &+= 1 }
                    }
                    // Prefix sums: next[b] = first slot of bucket b.
                    for b in 1..<(span + 2) { next[b] &+= next[b &- 1] }
                    packet.x.withUnsafeMutableBufferPointer { x in
                    packet.y.withUnsafeMutableBufferPointer { y in
                    packet.t.withUnsafeMutableBufferPointer { t in
                    packet.p.withUnsafeMutableBufferPointer { p in
                        for source in sources {
                            for event in source.events {
                                let bucket = Int(event.t &- start)
                                let slot = next[bucket]
                                next[bucket] = slot &+ 1
                                (x[slot], y[slot], t[slot], p[slot]) = (event.x, event.y, event.t, event.p)
                            }
                        }
                    }}}}
                    // next[b] is now the end of bucket b, i.e. the start of bucket b + 1.
                    var sortedBuckets = Set<Int>()
                    for event in sources[sources.count - 1].events {
                        let bucket = Int(event.t &- start)
                        let range = (bucket == 0 ? 0 : next[bucket &- 1])..<next[bucket]
                        guard range.count > 1, sortedBuckets.insert(bucket).inserted else { continue }
                        // One timestamp: order by (pixel, p).
                        let sorted = range.map { k in
                            (key: (Int(packet.y[k]) &* width &+ Int(packet.x[k])) &* 2 &+ (packet.p[k] > 0 ? 1 : 0),
                             x: packet.x[k], y: packet.y[k], p: packet.p[k])
                        }.sorted { $0.key < $1.key }
                        for (k, event) in zip(range, sorted) { (packet.x[k], packet.y[k], packet.p[k]) = (event.x, event.y, event.p) }
                    }
                }
                packets[frame] = packet
            }
        }}
        return packets
    }

    /// Background activity and hot pixels: Poisson counts, uniform times in (t0, t1].
    private func addNoise(start t0: Int64, end t1: Int64, into noise: inout RawEventBuffer) {
        noise.removeAll()
        let seconds = Double(t1 - t0) / 1e6
        let pixels = width * height
        func append(_ pixel: Int, _ polarity: Int8) {
            let t = t0 + 1 + Int64(random.uniform() * Double(t1 - t0 - 1))
            noise.append(RawEvent(t: t, x: UInt16(pixel % width), y: UInt16(pixel / width), p: polarity))
        }
        for (rate, polarity) in [(config.noiseRateOn, Int8(1)), (config.noiseRateOff, Int8(-1))] where rate > 0 {
            for _ in 0..<random.poisson(rate * seconds * Double(pixels)) {
                append(Int(random.next() % UInt64(pixels)), polarity)
            }
        }
        for pixel in hotPixels {
            for _ in 0..<random.poisson(config.hotPixelRate * seconds) { append(pixel, 1) }
        }
    }
}

struct RawEvent { var t: Int64; var x: UInt16; var y: UInt16; var p: Int8 }

/// A growable array of events the simulator reuses across frames. Not an `Array`: appending to
/// an array in the crossing loop checked its uniqueness on every event, which cost more than
/// the event. Its owner deallocates it.
struct RawEventBuffer {
    private var base: UnsafeMutablePointer<RawEvent>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    var events: UnsafeBufferPointer<RawEvent> { UnsafeBufferPointer(start: base, count: count) }

    @inline(__always)
    mutating func append(_ event: RawEvent) {
        if count == capacity { grow() }
        base[count] = event
        count &+= 1
    }

    private mutating func grow() {
        let larger = UnsafeMutablePointer<RawEvent>.allocate(capacity: 2 * capacity)
        larger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = larger
        capacity *= 2
    }

    mutating func removeAll() { count = 0 }
    func deallocate() { base.deallocate() }
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
