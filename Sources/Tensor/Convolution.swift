import ParallelLoops

/// The three products of a 2-D convolution layer (groups = 1) over a batch of NCHW images, as
/// im2col + sgemm on bands of output rows.
///
/// Why bands: the column matrix of a whole image is `C·kH·kW` times larger than the image
/// (9× for 3×3), e.g. 28 MB for one 48-channel 128×128 image, so building it whole streams it
/// through main memory twice. A band of output rows whose columns fit in the core's L2 cache
/// (`bandColumnFloats`) is unfolded and consumed by sgemm while still in cache, and nothing
/// of it is kept: backward unfolds again. Bands of all images are independent tasks spread
/// over the cores, each calling single-threaded OpenBLAS (`BLAS.withThreadCount(1)`), which
/// for these short, wide products beats one multi-threaded call per image.
///
/// Every task writes its own output block, and sums over images are formed per task and added
/// in task order, so results do not depend on the number of cores.
public enum Convolution {
    /// Target size of one band's column matrix, in floats (256 KB: half of a Zen 3 core's L2,
    /// leaving room for OpenBLAS's packed copies).
    public static let bandColumnFloats = 1 << 16
    /// Fewest output columns per band (unless the image has fewer): each sgemm call packs the
    /// weights again and reads and writes its [O, band] output block, which for the wide layers
    /// (K = 1,728) would cost more than the product itself on bands of one 32-pixel row.
    public static let minimumBandColumns = 512

    /// The output-row bands of one image for a column matrix of `columnRows` rows: as many rows
    /// as fit `bandColumnFloats`, but at least `minimumBandColumns` columns.
    public static func bands(_ g: ConvGeometry, columnRows: Int) -> [Range<Int>] {
        let width = max(g.outputWidth, 1)
        let byCache = bandColumnFloats / max(columnRows * width, 1)
        let byOverhead = (minimumBandColumns + width - 1) / width
        let rowsPerBand = min(max(byCache, byOverhead, 1), max(g.outputHeight, 1))
        return stride(from: 0, to: g.outputHeight, by: rowsPerBand).map { $0..<min($0 + rowsPerBand, g.outputHeight) }
    }

    /// `output_n [O, P] = W [O, K] · im2col(input_n) [K, P] (+ bias)` for each image n, where
    /// K = C·kH·kW and P = outH·outW. With `accumulate` the product is added to `output`
    /// (sgemm beta = 1), else it overwrites it.
    ///
    /// Shapes: `input` [N, C, H, W], `weights` [O, K] (an [O, C, kH, kW] weight as is),
    /// `bias` [O] or nil, `output` [N, O, outH, outW].
    public static func forward(
        input: UnsafePointer<Float>, batch n: Int, geometry g: ConvGeometry,
        weights: UnsafePointer<Float>, outputChannels o: Int, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let k = g.columnRows, p = g.columnCount, outW = g.outputWidth
        let imageSize = g.channels * g.height * g.width
        let bands = Self.bands(g, columnRows: k)
        guard n > 0, o > 0, !bands.isEmpty else { return }
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
                    BufferPool.shared.withScratch(count: k * bandP) { columns in
                        im2col(image: source, geometry: g, channelRange: 0..<g.channels, outputRows: rows, columns: columns)
                        BLAS.sgemm(transposeA: false, transposeB: false, m: o, n: bandP, k: k,
                                   a: weights, lda: k, b: columns, ldb: bandP,
                                   beta: accumulate ? 1 : 0, c: destination, ldc: p)
                    }
                }
                if let bias {
                    for channel in 0..<o {
                        let b = bias[channel], row = destination + channel * p
                        for i in 0..<bandP { row[i] += b }
                    }
                }
            }
        }
    }

    /// `∂W [O, K] (+)= Σ_n ∂out_n [O, P] · im2col(input_n)ᵀ [P, K]`, unfolding the input again band
    /// by band. Each task (a fixed share of the images' bands) sums into its own [O, K] partial;
    /// the partials are added in task order.
    public static func weightGradient(
        input: UnsafePointer<Float>, batch n: Int, geometry g: ConvGeometry,
        gradOutput: UnsafePointer<Float>, outputChannels o: Int,
        weightGradient: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let k = g.columnRows, p = g.columnCount, outW = g.outputWidth
        let imageSize = g.channels * g.height * g.width
        let bands = Self.bands(g, columnRows: k)
        let weightCount = o * k
        guard weightCount > 0 else { return }
        guard n > 0, !bands.isEmpty else {
            if !accumulate { weightGradient.update(repeating: 0, count: weightCount) }
            return
        }
        // At least 4 tasks whatever the batch, so small batches still use every core; the split
        // depends only on the shapes.
        let groupsPerImage = min(bands.count, max(1, (4 + n - 1) / n))
        let tasks = n * groupsPerImage
        BufferPool.shared.withScratch(count: tasks * weightCount) { partials in
            BLAS.withThreadCount(1) {
                parallelFor(tasks) { task in
                    let image = task / groupsPerImage, group = task % groupsPerImage
                    let partial = partials + task * weightCount
                    let firstBand = bands.count * group / groupsPerImage
                    let endBand = bands.count * (group + 1) / groupsPerImage
                    let source = input + image * imageSize
                    BufferPool.shared.withScratch(count: g.isPointwise ? 0 : k * (bands.first?.count ?? 0) * outW) { columns in
                        for b in firstBand..<endBand {
                            let rows = bands[b], bandP = rows.count * outW
                            let gradient = gradOutput + image * o * p + rows.lowerBound * outW
                            let (matrix, ld): (UnsafePointer<Float>, Int)
                            if g.isPointwise {
                                (matrix, ld) = (source + rows.lowerBound * outW, p)
                            } else {
                                im2col(image: source, geometry: g, channelRange: 0..<g.channels, outputRows: rows, columns: columns)
                                (matrix, ld) = (UnsafePointer(columns), bandP)
                            }
                            // partial [O, K] (+)= ∂out band [O, bandP] · columnsᵀ [bandP, K]
                            BLAS.sgemm(transposeA: false, transposeB: true, m: o, n: k, k: bandP,
                                       a: gradient, lda: p, b: matrix, ldb: ld,
                                       beta: b == firstBand ? 0 : 1, c: partial, ldc: k)
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
        let bands = Self.bands(g, columnRows: k)
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
        for oc in 0..<o {
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
