import EventIO
import Foundation

/// Exponentially decayed time of the latest event per pixel and polarity, `[2, H, W]`
/// (channel 0 ON, channel 1 OFF): exp(−(t_end − t_last(x, y)) / τ) at the window end, 0 where
/// the pixel had no event of that polarity in the window.
public func timeSurface(_ events: EventPacket, height: Int, width: Int, windowEnd: Int64, tauMicroseconds: Double) -> [Float] {
    var latest = LatestEventTimes(height: height, width: width)
    latest.add(EventSlice(events))
    return latest.surface(windowEnd: windowEnd, tauMicroseconds: tauMicroseconds)
}

/// The latest timestamp per pixel and polarity seen so far — the state a time surface needs
/// while a window is streamed in blocks.
public struct LatestEventTimes {
    public let height: Int
    public let width: Int
    /// `[2, H, W]`, `Int64.min` where no event was seen.
    public private(set) var times: [Int64]

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
        times = [Int64](repeating: .min, count: 2 * height * width)
    }

    public mutating func reset() {
        times.withUnsafeMutableBufferPointer { $0.update(repeating: .min) }
    }

    /// Events are sorted by t, so the last write per pixel is the latest.
    public mutating func add(_ slice: EventSlice) {
        let plane = height * width, width = width
        times.withUnsafeMutableBufferPointer { times in
        slice.packet.x.withUnsafeBufferPointer { x in
        slice.packet.y.withUnsafeBufferPointer { y in
        slice.packet.t.withUnsafeBufferPointer { t in
        slice.packet.p.withUnsafeBufferPointer { p in
            for k in slice.range {
                times[(p[k] > 0 ? 0 : plane) &+ Int(y[k]) &* width &+ Int(x[k])] = t[k]
            }
        }}}}}
    }

    public func surface(windowEnd: Int64, tauMicroseconds: Double) -> [Float] {
        var grid = [Float](repeating: 0, count: times.count)
        grid.withUnsafeMutableBufferPointer { surface(windowEnd: windowEnd, tauMicroseconds: tauMicroseconds, into: $0) }
        return grid
    }

    public func surface(windowEnd: Int64, tauMicroseconds: Double, into grid: UnsafeMutableBufferPointer<Float>) {
        for index in times.indices {
            let last = times[index]
            grid[index] = last == .min ? 0 : Float(exp(-Double(windowEnd - last) / tauMicroseconds))
        }
    }
}
