import Foundation
import ParallelLoops

/// The three products of a 2-D convolution layer (groups = 1) over a batch of NCHW images, as
/// im2col + sgemm on tiles of output rows × input channels.
///
/// Why tiles: the column matrix of a whole image is `kH·kW` times larger than the image (9× for
/// 3×3), e.g. 28 MB for one 48-channel 128×128 image, so building it whole streams it through
/// main memory twice. Instead each task takes a band of output rows (at least
/// `minimumBandColumns` output pixels, so each sgemm call is long enough to amortise its
/// overheads) and walks the input channels in groups small enough that the group's columns fit
/// in L2 (`tileColumnFloats`): unfold a group, multiply it by the matching slice of the weights
/// and add into the band's output (sgemm beta = 1 after the first group), while the columns
/// are still in cache. Nothing of them is kept: backward unfolds again. Tasks (image × band) are
/// spread over the cores, each calling single-threaded OpenBLAS (`BLAS.withThreadCount(1)`),
/// which for these short, wide products beats one multi-threaded call per image.
///
/// Every task writes its own output block, and sums over images are formed per task and added
/// in task order, so results do not depend on the number of cores.
///
/// `forward` and `weightGradient` hand 3×3 stride-1 convolutions where Winograd pays to
/// `Winograd` (see `usesWinograd`); everything else runs as described here.
public enum Convolution {
    /// Target size of one tile's column matrix, in floats (192 KB: under half of a Zen 3 core's
    /// L2, leaving room for OpenBLAS's packed copies). With `minimumBandColumns` measured best of
    /// 256/384/512/1024 pixels × 48/64/96/128 K floats on the reference U-Net (differences of
    /// 5–10 %, near the noise of a shared machine).
    public static let tileColumnFloats = 3 << 14
    /// Fewest output pixels per band (unless the image has fewer): each sgemm call packs its
    /// weights and reads and writes its output block, which on bands of one 32-pixel row would
    /// cost more than the product.
    public static let minimumBandColumns = 256

    /// The two ways a convolution runs here.
    public enum Algorithm: String, Sendable {
        case im2col, winograd
    }

    /// Forces one algorithm wherever it applies (Winograd only where `Winograd.supports`), for
    /// tests and benchmarks: `Convolution.$forcedAlgorithm.withValue(.winograd) { ... }` or
    /// `EVDISTILL_CONV=im2col|winograd` in the environment. nil: Winograd where it pays.
    @TaskLocal public static var forcedAlgorithm: Algorithm? =
        ProcessInfo.processInfo.environment["EVDISTILL_CONV"].flatMap(Algorithm.init(rawValue:))

    /// Whether a convolution of geometry `g` into `o` channels (its weight gradient when
    /// `weightGradient`) runs by Winograd.
    public static func usesWinograd(_ g: ConvGeometry, outputChannels o: Int, weightGradient: Bool = false) -> Bool {
        switch forcedAlgorithm {
        case .im2col: false
        case .winograd: Winograd.supports(g)
        case nil: Winograd.pays(g, outputChannels: o, weightGradient: weightGradient)
        }
    }

    /// The output-row bands of one image: whole rows, at least `minimumBandColumns` pixels.
    public static func bands(_ g: ConvGeometry) -> [Range<Int>] {
        let width = max(g.outputWidth, 1)
        let rowsPerBand = min(max((minimumBandColumns + width - 1) / width, 1), max(g.outputHeight, 1))
        return stride(from: 0, to: g.outputHeight, by: rowsPerBand).map { $0..<min($0 + rowsPerBand, g.outputHeight) }
    }

    /// The fewest input-channel groups whose columns for a band of `bandColumns` pixels fit
    /// `tileColumnFloats` (at least one channel each), of near-equal sizes (16 channels where 14
    /// fit make 8 + 8, not 14 + 2: a 2-channel product is mostly overhead).
    public static func channelGroups(_ g: ConvGeometry, bandColumns: Int) -> [Range<Int>] {
        let perChannel = max(g.kernelHeight * g.kernelWidth * bandColumns, 1)
        let fit = max(tileColumnFloats / perChannel, 1)
        let count = max((g.channels + fit - 1) / fit, 1)
        return (0..<count).map { (g.channels * $0 / count)..<(g.channels * ($0 + 1) / count) }
    }

    /// `output_n [O, P] = W [O, K] · im2col(input_n) [K, P] (+ bias)` for each image n, where
    /// K = C·kH·kW and P = outH·outW. With `accumulate` the product is added to `output`
    /// (sgemm beta = 1), else it overwrites it. With `relu`, each band's result (after the bias)
    /// goes through max(·, 0) while still in cache.
    ///
    /// Shapes: `input` [N, C, H, W], `weights` [O, K] (an [O, C, kH, kW] weight as is),
    /// `bias` [O] or nil, `output` [N, O, outH, outW].
    ///
    /// With `moments`, a Winograd convolution also returns its output channels' moments
    /// (`Winograd.forward`); nil otherwise, and the caller computes them if it needs them.
    @discardableResult
    public static func forward(
        input: UnsafePointer<Float>, batch n: Int, geometry g: ConvGeometry,
        weights: UnsafePointer<Float>, outputChannels o: Int, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, accumulate: Bool, relu: Bool = false, moments: Bool = false
    ) -> ChannelMoments? {
        if usesWinograd(g, outputChannels: o) {
            return Winograd.forward(input: input, batch: n, geometry: g, weights: weights, outputChannels: o, bias: bias,
                                    output: output, accumulate: accumulate, relu: relu, moments: moments)
        }
        let k = g.columnRows, p = g.columnCount, outW = g.outputWidth, taps = g.kernelHeight * g.kernelWidth
        let plane = g.height * g.width, imageSize = g.channels * plane
        let bands = Self.bands(g)
        guard n > 0, o > 0, let widest = bands.first else { return nil }
        let groups = channelGroups(g, bandColumns: widest.count * outW)
        let scratch = g.isPointwise ? 0 : (groups.map(\.count).max() ?? 0) * taps * widest.count * outW
        BLAS.withThreadCount(1) {
            parallelFor(n * bands.count) { task in
                let image = task / bands.count, rows = bands[task % bands.count]
                let bandP = rows.count * outW
                let source = input + image * imageSize
                let destination = output + image * o * p + rows.lowerBound * outW
                if g.isPointwise {
                    BLAS.sgemm(transposeA: false, transposeB: false, m: o, n: bandP, k: k,
                               a: weights, lda: k, b: source + rows.lowerBound * outW, ldb: p,
                               beta: accumulate ? 1 : 0, c: destination, ldc: p)
                } else {
                    BufferPool.shared.withScratch(count: scratch) { columns in
                        for group in groups {
                            im2col(image: source + group.lowerBound * plane, geometry: g, channelRange: 0..<group.count,
                                   outputRows: rows, columns: columns)
                            BLAS.sgemm(transposeA: false, transposeB: false, m: o, n: bandP, k: group.count * taps,
                                       a: weights + group.lowerBound * taps, lda: k, b: columns, ldb: bandP,
                                       beta: accumulate || group.lowerBound > 0 ? 1 : 0, c: destination, ldc: p)
                        }
                    }
                }
                if bias != nil || relu {
                    for channel in 0..<o {
                        let b = bias?[channel] ?? 0, row = destination + channel * p
                        if relu {
                            for i in 0..<bandP {
                                let v = row[i] + b
                                row[i] = v > 0 ? v : 0
                            }
                        } else {
                            for i in 0..<bandP { row[i] += b }
                        }
                    }
                }
            }
        }
        return nil
    }

    /// `∂W [O, K] (+)= Σ_n ∂out_n [O, P] · im2col(input_n)ᵀ [P, K]`, unfolding the input again tile
    /// by tile. Each task (a fixed share of one image's bands) sums into its own [O, K] partial;
    /// the partials are added in task order.
    public static func weightGradient(
        input: UnsafePointer<Float>, batch n: Int, geometry g: ConvGeometry,
        gradOutput: UnsafePointer<Float>, outputChannels o: Int,
        weightGradient: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        if usesWinograd(g, outputChannels: o, weightGradient: true) {
            Winograd.weightGradient(input: input, batch: n, geometry: g, gradOutput: gradOutput, outputChannels: o,
                                    weightGradient: weightGradient, accumulate: accumulate)
            return
        }
        let k = g.columnRows, p = g.columnCount, outW = g.outputWidth, taps = g.kernelHeight * g.kernelWidth
        let plane = g.height * g.width, imageSize = g.channels * plane
        let bands = Self.bands(g)
        let weightCount = o * k
        guard weightCount > 0 else { return }
        guard n > 0, let widest = bands.first else {
            if !accumulate { weightGradient.update(repeating: 0, count: weightCount) }
            return
        }
        let groups = channelGroups(g, bandColumns: widest.count * outW)
        let scratch = g.isPointwise ? 0 : (groups.map(\.count).max() ?? 0) * taps * widest.count * outW
        // At least 4 tasks whatever the batch, so small batches still use every core; the split
        // depends only on the shapes.
        let groupsPerImage = min(bands.count, max(1, (4 + n - 1) / n))
        let tasks = n * groupsPerImage
        BufferPool.shared.withScratch(count: tasks * weightCount) { partials in
            BLAS.withThreadCount(1) {
                parallelFor(tasks) { task in
                    let image = task / groupsPerImage, share = task % groupsPerImage
                    let partial = partials + task * weightCount
                    let firstBand = bands.count * share / groupsPerImage
                    let endBand = bands.count * (share + 1) / groupsPerImage
                    let source = input + image * imageSize
                    BufferPool.shared.withScratch(count: scratch) { columns in
                        for b in firstBand..<endBand {
                            let rows = bands[b], bandP = rows.count * outW
                            let gradient = gradOutput + image * o * p + rows.lowerBound * outW
                            if g.isPointwise {
                                // partial [O, C] (+)= ∂out band [O, bandP] · x bandᵀ [bandP, C]
                                BLAS.sgemm(transposeA: false, transposeB: true, m: o, n: k, k: bandP,
                                           a: gradient, lda: p, b: source + rows.lowerBound * outW, ldb: p,
                                           beta: b == firstBand ? 0 : 1, c: partial, ldc: k)
                                continue
                            }
                            for group in groups {
                                im2col(image: source + group.lowerBound * plane, geometry: g, channelRange: 0..<group.count,
                                       outputRows: rows, columns: columns)
                                // partial[:, group's columns] (+)= ∂out band [O, bandP] · columnsᵀ [bandP, group·k²]
                                BLAS.sgemm(transposeA: false, transposeB: true, m: o, n: group.count * taps, k: bandP,
                                           a: gradient, lda: p, b: columns, ldb: bandP,
                                           beta: b == firstBand ? 0 : 1, c: partial + group.lowerBound * taps, ldc: k)
                            }
                        }
                    }
                }
            }
            parallelChunks(weightCount) { range in
                for i in range {
                    var total = accumulate ? weightGradient[i] : 0
                    for task in 0..<tasks { total += partials[task * weightCount + i] }
                    weightGradient[i] = total
                }
            }
        }
    }

    /// `∂x_n (+)= col2im(Wᵀ · ∂out_n)` (the adjoint of `forward`), for any stride, padding and
    /// dilation. Callers with stride 1 use the faster `forward` with `inputGradientGeometry` and
    /// `flippedWeights` instead. `inputGradient` is added to, so it must hold values (zeros for
    /// a fresh gradient). One task per image: bands of one image overlap in the input.
    public static func inputGradientByCol2im(
        gradOutput: UnsafePointer<Float>, batch n: Int, geometry g: ConvGeometry,
        weights: UnsafePointer<Float>, outputChannels o: Int, inputGradient: UnsafeMutablePointer<Float>
    ) {
        let k = g.columnRows, p = g.columnCount, outW = g.outputWidth
        let imageSize = g.channels * g.height * g.width
        let bands = Self.bands(g)
        guard let widest = bands.first else { return }
        BLAS.withThreadCount(1) {
            parallelFor(n) { image in
                BufferPool.shared.withScratch(count: k * widest.count * outW) { columns in
                    for rows in bands {
                        let bandP = rows.count * outW
                        // columns [K, bandP] = Wᵀ [K, O] · ∂out band [O, bandP]
                        BLAS.sgemm(transposeA: true, transposeB: false, m: k, n: bandP, k: o,
                                   a: weights, lda: k, b: gradOutput + image * o * p + rows.lowerBound * outW, ldb: p,
                                   beta: 0, c: columns, ldc: bandP)
                        col2imAccumulate(columns: columns, geometry: g, channelRange: 0..<g.channels, outputRows: rows,
                                         image: inputGradient + image * imageSize)
                    }
                }
            }
        }
    }

    /// The weights of the convolution that computes ∂x from ∂out when stride is 1 (see
    /// `ConvGeometry.inputGradientGeometry`): `W' [C, O·k·k]` with
    /// `W'[c, (o·k + i)·k + j] = W[o, c, k−1−i, k−1−j]` (input and output channels swapped,
    /// kernel rotated by 180°). `weights` is [O, C, k, k].
    public static func flippedWeights(_ weights: UnsafePointer<Float>, outputChannels o: Int, inputChannels c: Int,
                                      kernelSize k: Int, into flipped: UnsafeMutablePointer<Float>) {
        // Output channels over the cores (each writes its own kernels): on one core this gather
        // was 0.3 % of a train step with the other core idle.
        parallelRanges(o, minimumPart: 16) { _, outputs in
            for oc in outputs {
                for ic in 0..<c {
                    for i in 0..<k {
                        for j in 0..<k {
                            flipped[ic * o * k * k + (oc * k + i) * k + j] = weights[((oc * c + ic) * k + (k - 1 - i)) * k + (k - 1 - j)]
                        }
                    }
                }
            }
        }
    }
}

extension ConvGeometry {
    /// With stride 1, ∂x is itself a convolution of ∂out: `∂x[c, y, x] = Σ_{o,i,j} ∂out[o,
    /// y + p − d·i, x + p − d·j] · W[o, c, i, j]`, i.e. the kernel rotated by 180° with
    /// input/output channels swapped, padding d·(k − 1) − p and the same dilation. Returns that
    /// convolution's geometry (input [O, outH, outW], output [C, H, W]) when it applies: stride
    /// 1, a square kernel and p ≤ d·(k − 1); else nil.
    public func inputGradientGeometry(outputChannels o: Int) -> ConvGeometry? {
        guard stride == 1, kernelHeight == kernelWidth, padding <= dilation * (kernelHeight - 1) else { return nil }
        let transposed = try? ConvGeometry(
            channels: o, height: outputHeight, width: outputWidth, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
            stride: 1, padding: dilation * (kernelHeight - 1) - padding, dilation: dilation)
        guard let transposed, transposed.outputHeight == height, transposed.outputWidth == width else { return nil }
        return transposed
    }
}
