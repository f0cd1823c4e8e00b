import CPUHints
import EventIO
import ParallelLoops

/// E2VID voxel grid (Rebecq et al. 2019; `events_to_voxel_grid` in rpg_e2vid), `[B, H, W]`.
///
/// t*_k = (B − 1)(t_k − t_first)/(t_last − t_first) (denominator 1 when all events share one
/// timestamp), i = ⌊t*⌋, d = t* − i; V[i] += p(1 − d) and V[i + 1] += p·d when i + 1 < B.
/// Unlike tonic, the last event of the window lands in bin B − 1 rather than being dropped.
public func voxelGrid(_ events: EventPacket, bins: Int, height: Int, width: Int) -> [Float] {
    var grid = [Float](repeating: 0, count: bins * height * width)
    guard let first = events.t.first, let last = events.t.last else { return grid }
    grid.withUnsafeMutableBufferPointer { grid in
        accumulateVoxelGrid(EventSlice(events), tFirst: first, tLast: last, bins: bins, height: height, width: width, into: grid)
    }
    return grid
}

/// Adds `slice` to a voxel grid whose window runs from `tFirst` to `tLast` (the window's first
/// and last events, which may lie outside this slice when a window is streamed in blocks).
public func accumulateVoxelGrid(_ slice: EventSlice, tFirst: Int64, tLast: Int64, bins: Int, height: Int, width: Int,
                                into grid: UnsafeMutableBufferPointer<Float>) {
    precondition(grid.count >= bins * height * width, "voxel grid buffer too small")
    guard bins > 0, slice.count > 0 else { return }
    let plane = height * width
    let size = bins * plane
    let count = slice.count
    let output = grid.baseAddress!
    // Few events: scatter straight into the [B, H, W] output.
    guard count >= max(1 << 16, 2 * size) else {
        voxelKernel(slice, slice.range, tFirst: tFirst, tLast: tLast, bins: bins, width: width,
                    pixelStride: 1, binStride: plane, into: output)
        return
    }
    // Many events: each core scatters into a private grid laid out [H, W, B], so an event's two
    // updates share a cache line (the scatter is bound by cache misses on a grid larger than L2),
    // then the grids are summed and transposed into [B, H, W] in one pass.
    let parts = parallelPartCount(count, minimumPart: 1 << 16)
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: size * parts)
    defer { partials.deallocate() }
    parallelRanges(count, minimumPart: 1 << 16) { part, range in
        let target = partials + part * size
        target.initialize(repeating: 0, count: size)
        let shifted = (slice.range.lowerBound + range.lowerBound)..<(slice.range.lowerBound + range.upperBound)
        voxelKernel(slice, shifted, tFirst: tFirst, tLast: tLast, bins: bins, width: width,
                    pixelStride: bins, binStride: 1, into: target)
    }
    parallelRanges(plane, minimumPart: 1 << 12) { _, pixels in
        for part in 0..<parts {
            let source = partials + part * size
            for b in 0..<bins {
                let row = output + b * plane
                for pixel in pixels { row[pixel] += source[pixel * bins + b] }
            }
        }
    }
}

/// Scatters events `range` into `grid[pixel * pixelStride + bin * binStride]`.
///
/// The bin index is exact integer arithmetic: with q = (B − 1)(t − t_first) and Δt = t_last −
/// t_first, i = ⌊q / Δt⌋ and d = (q mod Δt)/Δt, which is E2VID's float64 t* split into its whole
/// and fractional parts (d = 0 exactly on bin boundaries, so no bin gets a spurious tiny value).
/// The quotient is estimated with one multiply by 1/Δt and corrected by ±1 rather than divided:
/// a 64-bit division or a libm `floor` call per event costs more than the whole scatter.
/// Events outside [t_first, t_last] (never the case inside a window) count at the nearer end.
@inline(__always)
private func voxelKernel(_ slice: EventSlice, _ range: Range<Int>, tFirst: Int64, tLast: Int64, bins: Int, width: Int,
                         pixelStride: Int, binStride: Int, into grid: UnsafeMutablePointer<Float>) {
    let maxDelta = max(tLast &- tFirst, 0)
    let span = max(maxDelta, 1)
    let inverseSpan = 1.0 / Double(span)
    let scale = Int64(bins - 1)
    let lastBin = bins - 1
    let lookahead = 16
    let prefetchEnd = max(range.lowerBound, range.upperBound - lookahead)
    slice.packet.x.withUnsafeBufferPointer { x in
    slice.packet.y.withUnsafeBufferPointer { y in
    slice.packet.t.withUnsafeBufferPointer { t in
    slice.packet.p.withUnsafeBufferPointer { p in
        let x = x.baseAddress!, y = y.baseAddress!, t = t.baseAddress!, p = p.baseAddress!
        for k in range {
            if k < prefetchEnd {
                let ahead = k &+ lookahead
                evd_prefetch_write(grid + (Int(y[ahead]) &* width &+ Int(x[ahead])) &* pixelStride)
            }
            let q = scale &* min(max(t[k] &- tFirst, 0), maxDelta)
            var i = Int64(Double(q) * inverseSpan)
            var r = q &- i &* span
            if r < 0 { i &-= 1; r &+= span } else if r >= span { i &+= 1; r &-= span }
            let d = Float(Double(r) * inverseSpan)
            let bin = Int(i)
            let polarity = Float(p[k])
            let pixel = (Int(y[k]) &* width &+ Int(x[k])) &* pixelStride
            // i = B − 1 only for the last timestamp, where d = 0: its second update adds zero.
            grid[pixel &+ bin &* binStride] += polarity * (1 - d)
            grid[pixel &+ min(bin &+ 1, lastBin) &* binStride] += polarity * d
        }
    }}}}
}

/// E2VID normalisation of one grid: over the non-zero entries, v ← (v − mean)/std; zeros stay
/// zero. A grid whose non-zero entries are all equal (std 0) is only centred (std taken as 1),
/// where E2VID would divide by zero.
public func normalizeE2VID(_ grid: UnsafeMutableBufferPointer<Float>) {
    var sum = 0.0, sumSquares = 0.0, nonZero = 0
    for v in grid where v != 0 {
        sum += Double(v)
        sumSquares += Double(v) * Double(v)
        nonZero += 1
    }
    guard nonZero > 0 else { return }
    let mean = sum / Double(nonZero)
    let variance = max(sumSquares / Double(nonZero) - mean * mean, 0)
    let std = variance > 0 ? variance.squareRoot() : 1
    for index in grid.indices where grid[index] != 0 {
        grid[index] = Float((Double(grid[index]) - mean) / std)
    }
}

public func normalizeE2VID(_ grid: inout [Float]) {
    grid.withUnsafeMutableBufferPointer { normalizeE2VID($0) }
}
