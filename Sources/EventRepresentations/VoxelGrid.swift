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
    let count = slice.count
    // Private grids per core pay off only when events outnumber the voxels to sum afterwards.
    let parts = count >= max(1 << 17, 2 * bins * plane) ? parallelPartCount(count, minimumPart: 1 << 16) : 1
    if parts == 1 {
        voxelKernel(slice, slice.range, tFirst: tFirst, tLast: tLast, bins: bins, plane: plane, width: width, into: grid.baseAddress!)
        return
    }
    let size = bins * plane
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: size * (parts - 1))
    partials.initialize(repeating: 0, count: size * (parts - 1))
    defer { partials.deallocate() }
    let output = grid.baseAddress!
    parallelRanges(count, minimumPart: 1 << 16) { part, range in
        let target = part == 0 ? output : partials + (part - 1) * size
        let shifted = (slice.range.lowerBound + range.lowerBound)..<(slice.range.lowerBound + range.upperBound)
        voxelKernel(slice, shifted, tFirst: tFirst, tLast: tLast, bins: bins, plane: plane, width: width, into: target)
    }
    // Sum the private grids into the output, split over cores by voxel.
    parallelRanges(size, minimumPart: 1 << 15) { _, voxels in
        for part in 1..<parts {
            let source = partials + (part - 1) * size
            for v in voxels { output[v] += source[v] }
        }
    }
}

@inline(__always)
private func voxelKernel(_ slice: EventSlice, _ range: Range<Int>, tFirst: Int64, tLast: Int64, bins: Int, plane: Int, width: Int,
                         into grid: UnsafeMutablePointer<Float>) {
    // E2VID's own order of operations: (B − 1)(t − t_first) first, then ÷ Δt, all in float64, so
    // the window's last event gets t* = B − 1 exactly.
    let span = Double(tLast == tFirst ? 1 : tLast - tFirst)
    let scale = Double(bins - 1)
    let lastBin = bins - 1
    slice.packet.x.withUnsafeBufferPointer { x in
    slice.packet.y.withUnsafeBufferPointer { y in
    slice.packet.t.withUnsafeBufferPointer { t in
    slice.packet.p.withUnsafeBufferPointer { p in
        for k in range {
            let tStar = scale * Double(t[k] &- tFirst) / span
            let floorT = tStar.rounded(.down)
            // Clamp guards events outside [tFirst, tLast]; inside, i + 1 = B only when d = 0.
            let i = min(max(Int(floorT), 0), lastBin)
            let d = Float(tStar - floorT)
            let polarity = Float(p[k])
            let pixel = Int(y[k]) &* width &+ Int(x[k])
            grid[i &* plane &+ pixel] += polarity * (1 - d)
            grid[min(i &+ 1, lastBin) &* plane &+ pixel] += polarity * d
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
