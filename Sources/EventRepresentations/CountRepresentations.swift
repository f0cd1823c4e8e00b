import EventIO
import ParallelLoops

/// Event counts per polarity, `[2, H, W]`: channel 0 ON events, channel 1 OFF events.
public func histogram(_ events: EventPacket, height: Int, width: Int) -> [Float] {
    var grid = [Float](repeating: 0, count: 2 * height * width)
    grid.withUnsafeMutableBufferPointer { accumulateHistogram(EventSlice(events), height: height, width: width, into: $0) }
    return grid
}

/// Signed polarity sum per pixel, `[1, H, W]`.
public func eventFrame(_ events: EventPacket, height: Int, width: Int) -> [Float] {
    var grid = [Float](repeating: 0, count: height * width)
    grid.withUnsafeMutableBufferPointer { accumulateEventFrame(EventSlice(events), height: height, width: width, into: $0) }
    return grid
}

public func accumulateHistogram(_ slice: EventSlice, height: Int, width: Int, into grid: UnsafeMutableBufferPointer<Float>) {
    precondition(grid.count >= 2 * height * width, "histogram buffer too small")
    let plane = height * width
    scatter(slice, size: 2 * plane, into: grid.baseAddress!) { x, y, p, grid in
        // ON → channel 0, OFF → channel 1.
        grid[(p > 0 ? 0 : plane) &+ y &* width &+ x] += 1
    }
}

public func accumulateEventFrame(_ slice: EventSlice, height: Int, width: Int, into grid: UnsafeMutableBufferPointer<Float>) {
    precondition(grid.count >= height * width, "event frame buffer too small")
    scatter(slice, size: height * width, into: grid.baseAddress!) { x, y, p, grid in
        grid[y &* width &+ x] += Float(p)
    }
}

/// Runs a per-event scatter over `slice`, on private grids per core when the events outnumber
/// the cells, then sums the grids.
@inline(__always)
private func scatter(_ slice: EventSlice, size: Int, into output: UnsafeMutablePointer<Float>,
                     _ add: (Int, Int, Int8, UnsafeMutablePointer<Float>) -> Void) {
    let count = slice.count
    guard count > 0 else { return }
    let parts = count >= max(1 << 17, 2 * size) ? parallelPartCount(count, minimumPart: 1 << 16) : 1
    let partials = parts > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: size * (parts - 1)) : nil
    partials?.initialize(repeating: 0, count: size * (parts - 1))
    defer { partials?.deallocate() }
    slice.packet.x.withUnsafeBufferPointer { x in
    slice.packet.y.withUnsafeBufferPointer { y in
    slice.packet.p.withUnsafeBufferPointer { p in
        func run(_ target: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
            for k in range { add(Int(x[k]), Int(y[k]), p[k], target) }
        }
        if parts == 1 {
            run(output, slice.range)
            return
        }
        parallelRanges(count, minimumPart: 1 << 16) { part, range in
            let target = part == 0 ? output : partials! + (part - 1) * size
            run(target, (slice.range.lowerBound + range.lowerBound)..<(slice.range.lowerBound + range.upperBound))
        }
    }}}
    if let partials {
        parallelRanges(size, minimumPart: 1 << 15) { _, cells in
            for part in 1..<parts {
                let source = partials + (part - 1) * size
                for c in cells { output[c] += source[c] }
            }
        }
    }
}
