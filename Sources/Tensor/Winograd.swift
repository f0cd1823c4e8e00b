import CWinogradKernels
import ParallelLoops

/// 3×3 convolutions with stride 1 and dilation 1 by Winograd's minimal filtering F(4×4, 3×3)
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016).
///
/// Each 4×4 block of outputs is `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` over the 6×6 input tile d
/// under it, summed over input channels. The sum over channels of the element-wise products is,
/// for each of the 36 tile positions ξ, a matrix product `M_ξ [tiles × O] = V_ξ [tiles × C] ·
/// U_ξ [C × O]`: 36·C·O multiplies per 16 outputs instead of im2col's 9·16·C·O, a quarter of
/// the arithmetic, at the price of transforming tiles in and out (linear in C and in O).
///
/// Backward:
/// - ∂x is again a 3×3 stride-1 convolution (of ∂out with the rotated kernel, padding 2 − p),
///   so it runs through `forward` (see `ConvGeometry.inputGradientGeometry`);
/// - ∂g is the adjoint of the forward formula: `∂U_ξ [C × O] = Σ_tiles V_ξᵀ · (A ∂Y Aᵀ)_ξ`,
///   then `∂g = Gᵀ ∂U G`. The products run over tiles (K = tiles of a band), so they are long.
///
/// Work is split into units (`Plan`): bands of tile rows of one image, or several small images,
/// sized so that a unit's transformed tiles (36 · tiles · (C + O) floats) stay near the core's
/// cache; each unit transforms, multiplies (one product per position, units on all cores) and
/// transforms back while the data is warm. The products are our own AVX2 kernel (`wg_product`),
/// not OpenBLAS: they are short, and OpenBLAS spent a third of their time packing operands. The
/// tile transforms are AVX2 kernels in C (CWinogradKernels) with 8 channels in the lanes (tiles
/// come from channel-interleaved strips of input rows, transposed 8×8 in registers), so C and O
/// are padded to multiples of 8 inside the transformed matrices. Without AVX2 and FMA,
/// `supports` is false and im2col runs.
///
/// Floating point: the transforms scale terms by up to 8 (output) and 5 (input) before summing,
/// so results differ from a float64 sum by up to ≈ 1e-5 of the outputs' scale (im2col: ≈ 1e-6),
/// which the tests bound. Results do not depend on the core count: units are fixed by the
/// shapes, and the weight gradient sums fixed shares of the units in order.
public enum Winograd {
    /// Tile positions: the number of matrix products.
    static let positions = 36
    /// Channels per SIMD vector.
    static let lanes = 8
    /// Target floats of one unit's transformed input and output tiles (`36 · tiles · (C + O)`):
    /// 256 K floats, 1 MB, twice a Zen 3 core's L2, measured best of 64 K–1 M on the reference
    /// U-Net with OpenBLAS products (`bench conv`: 64 K 199 ms, 128–256 K 185 ms); with
    /// `wg_product`, 128 K and 256 K within the host's noise of each other, 64 K and 32 K slower
    /// (the weight gradient's products get too short), and a smaller budget for the forward
    /// alone no better.
    public static let bandFloats = 1 << 18
    /// Most partial sums of the weight gradient (each 36 · C · O floats): fixed, not the core
    /// count, so that the summation order and the result do not depend on the machine.
    static let weightGradientShares = 8

    /// Whether `forward`/`weightGradient` apply: a 3×3 kernel, stride 1, dilation 1, padding at
    /// most 2 (so that ∂x, padding 2 − p, applies too), at least one tile.
    public static func supports(_ g: ConvGeometry) -> Bool {
        cpuSupported && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.dilation == 1 && g.padding <= 2
            && g.outputHeight > 0 && g.outputWidth > 0 && g.channels > 0
    }

    /// Where Winograd beat im2col in `evdistill bench conv` (reference U-Net, batch 8, with
    /// `wg_product`): at least 4 input and 8 output channels (the 5-channel first layer's weight
    /// gradient 4.0 → 2.5 ms, its forward equal), and at least 16 tiles (16×16 outputs) per image
    /// for a forward or ∂x convolution (the 16×16 layers: forward 2.8 → 1.9 and 5.1 → 3.5 ms).
    /// A weight gradient needs 64 tiles (32×32 outputs) per image when it runs by units (at 16×16
    /// those products are 16 tiles long and each reads and writes all of ∂U: no faster than
    /// im2col), 16 when it runs by position (the 16×16 layers' backward 5.6 → 3.9 and 10.1 →
    /// 7.2 ms).
    public static func pays(_ g: ConvGeometry, outputChannels o: Int, weightGradient: Bool = false) -> Bool {
        let tiles = ((g.outputHeight + 3) / 4) * ((g.outputWidth + 3) / 4)
        let unitsOnly = weightGradient && !weightGradientRunsByPosition(channels: g.channels, outputChannels: o)
        return supports(g) && g.channels >= 4 && o >= 8 && tiles >= (unitsOnly ? 64 : 16)
    }

    /// Whether the weight gradient runs by position (`transformedWeightGradientByPosition`) rather
    /// than by units: ∂U is read and written by every product, and when it is larger than a
    /// unit's transformed tiles, streaming it past each unit costs more than keeping all tiles'
    /// transforms and running each position's product once over all of them.
    static func weightGradientRunsByPosition(channels c: Int, outputChannels o: Int) -> Bool {
        positions * ((c + lanes - 1) / lanes * lanes) * ((o + lanes - 1) / lanes * lanes) > bandFloats
    }

    /// The tile kernels (CWinogradKernels) need AVX2 and FMA; without them convolutions use im2col.
    static let cpuSupported = wg_supported() != 0

    /// How one convolution's tiles are split into units of work: a unit is a band of tile rows
    /// of one image or, when whole images are small, several whole images. A unit's tiles form
    /// the rows of its 36 products, so units should be long (each product of the weight gradient
    /// reads and writes all of ∂U_ξ) but their transformed tiles, 36 · tiles · (C + O) floats,
    /// should stay in cache.
    struct Plan {
        let g: ConvGeometry
        let outputChannels: Int
        let tilesY: Int, tilesX: Int
        /// C and O rounded up to multiples of `lanes`.
        let paddedChannels: Int, paddedOutputs: Int
        /// Each unit's images and tile rows (all rows when it has several images).
        let units: [(images: Range<Int>, rows: Range<Int>)]

        init(_ g: ConvGeometry, outputChannels o: Int, batch n: Int) {
            self.g = g
            outputChannels = o
            let tilesY = (g.outputHeight + 3) / 4, tilesX = (g.outputWidth + 3) / 4
            (self.tilesY, self.tilesX) = (tilesY, tilesX)
            paddedChannels = (g.channels + lanes - 1) / lanes * lanes
            paddedOutputs = (o + lanes - 1) / lanes * lanes
            let budgetTiles = max(bandFloats / (positions * (paddedChannels + paddedOutputs)), 1)
            if tilesY * tilesX <= budgetTiles {
                // Whole images per unit, but at least 4 units when the batch allows, so both
                // cores have work (the split depends on the batch only, not on the core count).
                let perUnit = max(min(budgetTiles / (tilesY * tilesX), (n + 3) / 4), 1)
                units = stride(from: 0, to: n, by: perUnit).map { ($0..<min($0 + perUnit, n), 0..<tilesY) }
            } else {
                let rowsPerBand = min(max(budgetTiles / tilesX, 1), tilesY)
                let bands = stride(from: 0, to: tilesY, by: rowsPerBand).map { $0..<min($0 + rowsPerBand, tilesY) }
                units = (0..<n).flatMap { image in bands.map { (image..<image + 1, $0) } }
            }
        }

        func tiles(of unit: (images: Range<Int>, rows: Range<Int>)) -> Int { unit.images.count * unit.rows.count * tilesX }
        var largestUnitTiles: Int { units.map { tiles(of: $0) }.max() ?? 0 }
        var stripFloats: Int { wg_scratch_floats(Int32(tilesX)) }

        /// Floats from one position's matrix [tiles][channels] to the next: the matrix rounded up
        /// to an odd number of 64-byte lines. The transforms read or write all 36 positions of a
        /// tile at once; 36 addresses a multiple of 2 KB apart (tiles · channels usually is)
        /// would fall into one or two sets of L1 and L2 and evict each other.
        static func positionStride(tiles: Int, channels: Int) -> Int { ((tiles * channels + 15) / 16 | 1) * 16 }

        /// Scratch floats of one unit: transformed inputs, transformed outputs (or ∂out), a strip.
        var unitScratch: Int {
            positions * (Self.positionStride(tiles: largestUnitTiles, channels: paddedChannels)
                + Self.positionStride(tiles: largestUnitTiles, channels: paddedOutputs)) + stripFloats
        }

        /// Where image k of `unit` starts among the unit's tiles.
        func firstTile(of k: Int, in unit: (images: Range<Int>, rows: Range<Int>)) -> Int { k * unit.rows.count * tilesX }

        /// V [36][tiles][Cp] of `unit`'s input tiles; `input` is the whole batch. The unit's tiles
        /// are rows `base ..<` of matrices `positionStride` floats apart (default: the unit's own).
        func transformInput(_ input: UnsafePointer<Float>, unit: (images: Range<Int>, rows: Range<Int>),
                            strip: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>,
                            base: Int = 0, positionStride: Int? = nil) {
            let imageSize = g.channels * g.height * g.width
            let stride = positionStride ?? Self.positionStride(tiles: tiles(of: unit), channels: paddedChannels)
            for (k, image) in unit.images.enumerated() {
                wg_transform_input(input + image * imageSize, Int32(g.channels), Int32(g.height), Int32(g.width),
                                   Int32(g.padding), Int32(unit.rows.lowerBound), Int32(unit.rows.count), Int32(tilesX),
                                   base + firstTile(of: k, in: unit), stride, Int32(paddedChannels), strip, v)
            }
        }

        /// Ŷ [36][tiles][Op] = A ∂Y Aᵀ of `unit`'s output tiles; `gradOutput` is the whole batch.
        /// `base` and `positionStride` as for `transformInput`.
        func transformGradOutput(_ gradOutput: UnsafePointer<Float>, unit: (images: Range<Int>, rows: Range<Int>),
                                 strip: UnsafeMutablePointer<Float>, into dy: UnsafeMutablePointer<Float>,
                                 base: Int = 0, positionStride: Int? = nil) {
            let stride = positionStride ?? Self.positionStride(tiles: tiles(of: unit), channels: paddedOutputs)
            for (k, image) in unit.images.enumerated() {
                wg_transform_grad_output(gradOutput + image * outputSize, Int32(outputChannels), Int32(g.outputHeight),
                                         Int32(g.outputWidth), Int32(unit.rows.lowerBound), Int32(unit.rows.count),
                                         Int32(tilesX), base + firstTile(of: k, in: unit), stride, Int32(paddedOutputs),
                                         strip, dy)
            }
        }

        /// `unit`'s outputs Aᵀ M A (+ bias, ReLU) from M [36][tiles][Op] into `output`, the whole
        /// batch (`bias`: nil or `paddedOutputs` values).
        func transformOutput(_ m: UnsafePointer<Float>, unit: (images: Range<Int>, rows: Range<Int>),
                             bias: UnsafePointer<Float>?, accumulate: Bool, relu: Bool, strip: UnsafeMutablePointer<Float>,
                             output: UnsafeMutablePointer<Float>, moments: UnsafeMutablePointer<Double>? = nil) {
            for (k, image) in unit.images.enumerated() {
                wg_transform_output(m, Int32(outputChannels), Int32(g.outputHeight), Int32(g.outputWidth),
                                    Int32(unit.rows.lowerBound), Int32(unit.rows.count), Int32(tilesX),
                                    firstTile(of: k, in: unit), Self.positionStride(tiles: tiles(of: unit), channels: paddedOutputs),
                                    Int32(paddedOutputs), bias,
                                    accumulate ? 1 : 0, relu ? 1 : 0, strip, output + image * outputSize, moments)
            }
        }

        /// The weight gradient by position's chunks: consecutive units of at most
        /// `byPositionChunkFloats` transformed floats (at least one unit each).
        var weightGradientChunks: [Range<Int>] {
            let perTile = positions * (paddedChannels + paddedOutputs)
            var chunks: [Range<Int>] = [], start = 0, tiles = 0
            for (index, unit) in units.enumerated() {
                if index > start, (tiles + self.tiles(of: unit)) * perTile > byPositionChunkFloats {
                    chunks.append(start..<index)
                    (start, tiles) = (index, 0)
                }
                tiles += self.tiles(of: unit)
            }
            chunks.append(start..<units.count)
            return chunks
        }

        /// See `Winograd.weightGradientRunsByPosition`.
        var weightGradientByPosition: Bool { weightGradientRunsByPosition(channels: g.channels, outputChannels: outputChannels) }

        /// Floats of one image's output.
        var outputSize: Int { outputChannels * g.outputHeight * g.outputWidth }
    }

    // MARK: Forward

    /// `output_n = conv3×3(input_n, weights) (+ bias)` for each image, as `Convolution.forward`
    /// (same shapes and flags: `accumulate` adds to `output`, `relu` clamps the sum).
    /// `weights` is [O, C, 3, 3]. With `moments`, also returns each output channel's mean and
    /// squared deviations over the batch, taken from each tile row as it is written (while in
    /// cache) and merged per unit, then over units in order.
    @discardableResult
    public static func forward(
        input: UnsafePointer<Float>, batch n: Int, geometry g: ConvGeometry,
        weights: UnsafePointer<Float>, outputChannels o: Int, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, accumulate: Bool, relu: Bool = false, moments: Bool = false
    ) -> ChannelMoments? {
        precondition(supports(g), "Winograd.forward: needs a 3×3 kernel, stride 1, dilation 1, padding ≤ 2")
        guard n > 0, o > 0 else { return nil }
        let plan = Plan(g, outputChannels: o, batch: n)
        // (count, mean, M2) per padded channel per unit; count 0 until a unit's first block.
        let momentCount = moments ? plan.units.count * plan.paddedOutputs * 3 : 0
        let unitMoments = UnsafeMutablePointer<Double>.allocate(capacity: max(momentCount, 1))
        unitMoments.initialize(repeating: 0, count: momentCount)
        defer { unitMoments.deallocate() }
        let cp = plan.paddedChannels, op = plan.paddedOutputs
        let su = Plan.positionStride(tiles: cp, channels: op)
        BufferPool.shared.withScratch(count: positions * su + op) { u in
            transformWeights(weights, outputChannels: o, channels: g.channels, paddedChannels: cp, paddedOutputs: op,
                             positionStride: su, into: u)
            let paddedBias: UnsafeMutablePointer<Float>? = bias.map { bias in
                let padded = u + positions * su
                padded.update(repeating: 0, count: op)
                padded.update(from: bias, count: o)
                return padded
            }
            let largest = plan.largestUnitTiles
            parallelFor(plan.units.count) { index in
                let unit = plan.units[index], tiles = plan.tiles(of: unit)
                let sv = Plan.positionStride(tiles: tiles, channels: cp), sm = Plan.positionStride(tiles: tiles, channels: op)
                BufferPool.shared.withScratch(count: plan.unitScratch) { scratch in
                    let v = scratch, m = v + positions * Plan.positionStride(tiles: largest, channels: cp)
                    let strip = m + positions * Plan.positionStride(tiles: largest, channels: op)
                    plan.transformInput(input, unit: unit, strip: strip, into: v)
                    for xi in 0..<positions {
                        // M_ξ [tiles × O] = V_ξ [tiles × C] · U_ξ [C × O]
                        wg_product(tiles, op, cp, v + xi * sv, cp, 1, u + xi * su, op, m + xi * sm, op, 0)
                    }
                    plan.transformOutput(m, unit: unit, bias: paddedBias, accumulate: accumulate, relu: relu, strip: strip,
                                         output: output, moments: moments ? unitMoments + index * plan.paddedOutputs * 3 : nil)
                }
            }
        }
        guard moments else { return nil }
        var total = ChannelMoments(channels: o)
        for unit in plan.units.indices {
            for channel in 0..<o {
                let s = unit * plan.paddedOutputs * 3 + channel * 3
                total.merge(channel: channel, count: unitMoments[s], mean: unitMoments[s + 1], m2: unitMoments[s + 2])
            }
        }
        return total
    }

    /// `U_ξ [Cp][Op]` at `u + ξ · positionStride`: `U_ξ[c][o] = (G g_{o,c} Gᵀ)_ξ`, zero in the padding
    /// (`wg_transform_weights`, 8 output channels per vector).
    static func transformWeights(_ w: UnsafePointer<Float>, outputChannels o: Int, channels c: Int,
                                 paddedChannels cp: Int, paddedOutputs op: Int, positionStride su: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        // Input channels split over the cores: each owns its rows of every U_ξ.
        parallelRanges(cp, minimumPart: 8) { _, channels in
            wg_transform_weights(w, Int32(o), Int32(c), Int32(channels.lowerBound), Int32(channels.upperBound), Int32(op), su, u)
        }
    }

    static let sixth: Float = 1.0 / 6, twelfth: Float = 1.0 / 12, twentyFourth: Float = 1.0 / 24

    // MARK: Weight gradient

    /// `∂W [O, C, 3, 3] (+)= Σ_n ∂W_n` for the convolution `forward` computes, from its input and
    /// `gradOutput` [N, O, outH, outW], as `Convolution.weightGradient`.
    public static func weightGradient(
        input: UnsafePointer<Float>, batch n: Int, geometry g: ConvGeometry,
        gradOutput: UnsafePointer<Float>, outputChannels o: Int,
        weightGradient: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        precondition(supports(g), "Winograd.weightGradient: needs a 3×3 kernel, stride 1, dilation 1, padding ≤ 2")
        let weightCount = o * g.channels * 9
        guard weightCount > 0 else { return }
        guard n > 0 else {
            if !accumulate { weightGradient.update(repeating: 0, count: weightCount) }
            return
        }
        let plan = Plan(g, outputChannels: o, batch: n)
        let cp = plan.paddedChannels, op = plan.paddedOutputs
        let su = Plan.positionStride(tiles: cp, channels: op)
        let byPosition = plan.weightGradientByPosition
        let shares = byPosition ? 1 : min(plan.units.count, weightGradientShares)
        let partialCount = positions * su
        BufferPool.shared.withScratch(count: shares * partialCount) { partials in
            if byPosition {
                transformedWeightGradientByPosition(plan, input: input, gradOutput: gradOutput, positionStride: su, into: partials)
            } else {
                transformedWeightGradientByUnits(plan, input: input, gradOutput: gradOutput, shares: shares,
                                                 positionStride: su, partials: partials)
            }
            // Input channels over the cores (each writes its own ∂g[·][c]); o innermost: each
            // position's row of ∂U is read in order.
            parallelRanges(g.channels, minimumPart: 8) { _, channels in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 36 + 18 + 3) { buffer in
                    let du = buffer.baseAddress!, left = du + 36, row = left + 18  // ∂U 6 × 6, Gᵀ ∂U 3 × 6
                    for ic in channels {
                        for oc in 0..<o {
                            for xi in 0..<positions { du[xi] = partials[xi * su + ic * op + oc] }
                            for l in 0..<6 { kernelGradientTransform(du + l, stride: 6, into: left + l, stride: 6) }
                            let dw = weightGradient + (oc * g.channels + ic) * 9
                            for a in 0..<3 {
                                kernelGradientTransform(left + 6 * a, stride: 1, into: row, stride: 1)
                                for b in 0..<3 { dw[a * 3 + b] = accumulate ? dw[a * 3 + b] + row[b] : row[b] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// ∂U into `partials` (the first of `shares` blocks of 36 matrices `positionStride` apart):
    /// fixed shares of the units, on all cores, each unit's products added into its share's ∂U,
    /// then the shares summed in order into the first.
    static func transformedWeightGradientByUnits(_ plan: Plan, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                                 shares: Int, positionStride su: Int, partials: UnsafeMutablePointer<Float>) {
        let cp = plan.paddedChannels, op = plan.paddedOutputs, partialCount = positions * su
        let largest = plan.largestUnitTiles
        parallelFor(shares) { share in
            let partial = partials + share * partialCount
            partial.update(repeating: 0, count: partialCount)
            BufferPool.shared.withScratch(count: plan.unitScratch) { scratch in
                let v = scratch, dy = v + positions * Plan.positionStride(tiles: largest, channels: cp)
                let strip = dy + positions * Plan.positionStride(tiles: largest, channels: op)
                let count = plan.units.count
                for unit in plan.units[(count * share / shares)..<(count * (share + 1) / shares)] {
                    let tiles = plan.tiles(of: unit)
                    let sv = Plan.positionStride(tiles: tiles, channels: cp), sy = Plan.positionStride(tiles: tiles, channels: op)
                    plan.transformInput(input, unit: unit, strip: strip, into: v)
                    plan.transformGradOutput(gradOutput, unit: unit, strip: strip, into: dy)
                    for xi in 0..<positions {
                        // ∂U_ξ [C × O] += V_ξᵀ [C × tiles] · Ŷ_ξ [tiles × O]
                        wg_product(cp, op, tiles, v + xi * sv, 1, cp, dy + xi * sy, op, partial + xi * su, op, 1)
                    }
                }
            }
        }
        // Each element sums its shares in share order (so the result does not depend on the
        // cores), elements split over the cores.
        guard shares > 1 else { return }
        parallelChunks(partialCount) { range in
            for share in 1..<shares {
                let partial = partials + share * partialCount
                for i in range { partials[i] += partial[i] }
            }
        }
    }

    /// ∂U into `du` (36 matrices `positionStride` apart), chunk by chunk of units: a chunk's
    /// tiles transformed (units on all cores), then one product per position over them
    /// (positions on all cores) added into ∂U_ξ, so nothing is summed across cores and the
    /// order of the sums is fixed by the shapes.
    static func transformedWeightGradientByPosition(_ plan: Plan, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                                    positionStride su: Int, into du: UnsafeMutablePointer<Float>) {
        let cp = plan.paddedChannels, op = plan.paddedOutputs
        let chunks = plan.weightGradientChunks
        let largest = chunks.map { $0.reduce(0) { $0 + plan.tiles(of: plan.units[$1]) } }.max() ?? 0
        let svMax = Plan.positionStride(tiles: largest, channels: cp), syMax = Plan.positionStride(tiles: largest, channels: op)
        BufferPool.shared.withScratch(count: positions * (svMax + syMax)) { transformed in
            let v = transformed, dy = v + positions * svMax
            for (number, chunk) in chunks.enumerated() {
                var bases = [Int](), total = 0
                for index in chunk { bases.append(total); total += plan.tiles(of: plan.units[index]) }
                let sv = Plan.positionStride(tiles: total, channels: cp), sy = Plan.positionStride(tiles: total, channels: op)
                parallelFor(chunk.count) { k in
                    BufferPool.shared.withScratch(count: plan.stripFloats) { strip in
                        let unit = plan.units[chunk.lowerBound + k]
                        plan.transformInput(input, unit: unit, strip: strip, into: v, base: bases[k], positionStride: sv)
                        plan.transformGradOutput(gradOutput, unit: unit, strip: strip, into: dy, base: bases[k], positionStride: sy)
                    }
                }
                parallelFor(positions) { xi in
                    // ∂U_ξ [C × O] (+)= V_ξᵀ [C × the chunk's tiles] · Ŷ_ξ [the chunk's tiles × O]
                    wg_product(cp, op, total, v + xi * sv, 1, cp, dy + xi * sy, op, du + xi * su, op, number > 0 ? 1 : 0)
                }
            }
        }
    }

    /// Most transformed floats (V and Ŷ, `36 · tiles · (Cp + Op)`) of one chunk of the weight
    /// gradient by position: 1 M floats, 4 MB. All tiles at once (dec2.conv1: 19 MB) are written
    /// out to memory before the products read them back; a 4 MB chunk is still in L3 when its
    /// products read it (∂U_ξ, 48 KB for dec2.conv1, is added to once per chunk). Measured
    /// dec2.conv1's backward 18.9 → 11.2 and 13.1 → 9.5 ms (`bench conv`,
    /// minima of 5 alternating rounds; 1 MB and 2 MB chunks: 11.0 and 10.8 ms, and the 16×16
    /// layers, then split into 4 chunks, slower).
    static let byPositionChunkFloats = 1 << 20

    /// `Gᵀ u` for a column u of 6 (the adjoint of the kernel transform G g, `wg_transform_weights`).
    @inline(__always)
    static func kernelGradientTransform(_ u: UnsafePointer<Float>, stride s: Int, into r: UnsafeMutablePointer<Float>, stride rs: Int) {
        let u0 = u[0], u1 = u[s], u2 = u[2 * s], u3 = u[3 * s], u4 = u[4 * s], u5 = u[5 * s]
        r[0] = 0.25 * u0 - (u1 + u2) * sixth + (u3 + u4) * twentyFourth
        r[rs] = (u2 - u1) * sixth + (u3 - u4) * twelfth
        r[2 * rs] = (u3 + u4 - u1 - u2) * sixth + u5
    }
}
