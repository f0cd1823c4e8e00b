import TensorTestSupport
import XCTest
import Autograd

/// The fast kernels (im2col + sgemm conv, the 1×1 path, batch norm, bilinear upsampling)
/// against the slow direct-loop Double references on random shapes and parameters, with
/// finite-difference gradients on a random subset of elements.
final class FastPathTests: XCTestCase {
    func testConv2dRandomShapesMatchDirectLoops() {
        var data = TestData(seed: 2026)
        for trial in 0..<8 {
            let n = data.int(1..<3), c = data.int(1..<5), o = data.int(1..<5)
            let kh = data.int(1..<4), kw = data.int(1..<4)
            let stride = data.int(1..<3), padding = data.int(0..<3), dilation = data.int(1..<3)
            // Trials 0 and 1 force the 1×1, stride-1, unpadded fast path.
            let pointwise = trial < 2
            let (k1, k2, s, p, d) = pointwise ? (1, 1, 1, 0, 1) : (kh, kw, stride, padding, dilation)
            let h = data.int(max(1, d * (k1 - 1) + 1 - 2 * p)..<9), w = data.int(max(1, d * (k2 - 1) + 1 - 2 * p)..<9)
            let hasBias = trial % 2 == 0
            let inputs = [data.normal([n, c, h, w]), data.normal([o, c, k1, k2], scale: 0.5)] + (hasBias ? [data.normal([o])] : [])
            checkGradients("conv2d trial \(trial): x [\(n),\(c),\(h),\(w)] w [\(o),\(c),\(k1),\(k2)] s\(s) p\(p) d\(d)", inputs,
                           maxCheckedPerInput: 10, seed: UInt64(trial),
                           engine: { v in conv2d(v[0], weight: v[1], bias: hasBias ? v[2] : nil, stride: s, padding: p, dilation: d) },
                           reference: { v in Reference.conv2d(v[0], v[1], hasBias ? v[2] : nil, stride: s, padding: p, dilation: d) })
        }
    }

    /// Shapes large enough that each image splits into several bands of output rows and, with
    /// stride 1, several channel groups (and the weight gradient into several tasks per image),
    /// for stride 1 (∂x by the flipped-kernel convolution) and stride 2 (∂x by col2im, bands
    /// accumulating into shared input rows).
    func testConv2dMultiBandShapesMatchDirectLoops() throws {
        var data = TestData(seed: 31)
        for (stride, padding, dilation) in [(1, 1, 1), (2, 1, 1), (1, 2, 2)] {
            let (n, c, o, h, w) = (1, 24, 3, 48, 64)
            let geometry = try ConvGeometry(channels: c, height: h, width: w, kernelHeight: 3, kernelWidth: 3,
                                            stride: stride, padding: padding, dilation: dilation)
            let bands = Convolution.bands(geometry)
            XCTAssertGreaterThan(bands.count, 1, "the shape must split into bands")
            if stride == 1 {
                XCTAssertGreaterThan(Convolution.channelGroups(geometry, bandColumns: bands[0].count * geometry.outputWidth).count, 1,
                                     "the channels must split into groups")
            }
            checkGradients("conv2d multi-band s\(stride) p\(padding) d\(dilation)",
                           [data.normal([n, c, h, w]), data.normal([o, c, 3, 3], scale: 0.3), data.normal([o])],
                           maxCheckedPerInput: 6, seed: UInt64(stride),
                           engine: { v in conv2d(v[0], weight: v[1], bias: v[2], stride: stride, padding: padding, dilation: dilation) },
                           reference: { v in Reference.conv2d(v[0], v[1], v[2], stride: stride, padding: padding, dilation: dilation) })
        }
    }

    /// Shapes where Winograd F(4×4, 3×3) runs by default, forward and both gradients (∂x through
    /// the flipped-kernel convolution, itself by Winograd), for each padding it supports, against
    /// the direct float64 loops; with and without bias. Forward tolerance 5e-5: the transforms
    /// scale terms by up to 8·5 before summing, measured worst relative excess 2.0e-5 here
    /// (im2col: under 1e-6).
    func testConv2dWinogradShapesMatchDirectLoops() throws {
        var data = TestData(seed: 48)
        for padding in [0, 1, 2] {
            let (n, c, o, h, w) = (2, 9, 10, 32, 36)
            let geometry = try ConvGeometry(channels: c, height: h, width: w, kernelHeight: 3, kernelWidth: 3, padding: padding)
            XCTAssertTrue(Convolution.usesWinograd(geometry, outputChannels: o), "padding \(padding): forward must take Winograd")
            let transposed = try XCTUnwrap(geometry.inputGradientGeometry(outputChannels: o))
            XCTAssertTrue(Convolution.usesWinograd(transposed, outputChannels: c), "padding \(padding): ∂x must take Winograd")
            XCTAssertTrue(Convolution.usesWinograd(geometry, outputChannels: o, weightGradient: true),
                          "padding \(padding): ∂W must take Winograd")
            let hasBias = padding != 2
            checkGradients("conv2d Winograd p\(padding)",
                           [data.normal([n, c, h, w]), data.normal([o, c, 3, 3], scale: 0.3)] + (hasBias ? [data.normal([o])] : []),
                           forwardTolerance: 5e-5, maxCheckedPerInput: 8, seed: UInt64(padding),
                           engine: { v in conv2d(v[0], weight: v[1], bias: hasBias ? v[2] : nil, padding: padding) },
                           reference: { v in Reference.conv2d(v[0], v[1], hasBias ? v[2] : nil, stride: 1, padding: padding, dilation: 1) })
        }
    }

    /// Ties go to the first maximum in row-major window order and NaN wins, as in PyTorch, on the
    /// unrolled 2×2 path and the general one (3×3 windows, stride 3), forward and backward.
    func testMaxPoolTiesAndNaN() {
        let nan = Float.nan
        for (k, window) in [(2, [1, 3, 3, 2] as [Float]), (3, [1, 3, 0, 3, 2, 3, 0, 0, 1])] {
            let withNaN = window.enumerated().map { $0.offset == window.count - 2 ? nan : $0.element }
            for (values, winner) in [(window, 1), (withNaN, window.count - 2)] {
                let x = Variable(Tensor(shape: [1, 1, k, k], scalars: values), requiresGrad: true)
                let y = maxPool2d(x, kernelSize: k)
                XCTAssertEqual(y.shape, [1, 1, 1, 1])
                if winner == 1 { XCTAssertEqual(y.value.scalar, 3) } else { XCTAssertTrue(y.value.scalar.isNaN) }
                y.backward(Tensor(shape: [1, 1, 1, 1], scalars: [5]))
                XCTAssertEqual(x.grad?.scalars, (0..<(k * k)).map { $0 == winner ? 5 : 0 }, "k \(k), values \(values)")
            }
        }
    }

    /// The vectorised 2×2 pooling (8 outputs at a time, then a scalar tail) against PyTorch's rule
    /// written out plainly, on rows of 2·19 inputs with many ties (values from {−1, 0, 1}) and
    /// some NaNs: values, and the gradient routed to each window's winner.
    func testMaxPool2x2VectorPathMatchesPlainRule() {
        var generator = SeededGenerator(seed: 61)
        let (n, c, h, w) = (2, 3, 6, 39)
        let scalars: [Float] = (0..<(n * c * h * w)).map { _ in
            let r = generator.next() % 40
            return r == 0 ? .nan : Float(Int(r % 3) - 1)
        }
        let x = Variable(Tensor(shape: [n, c, h, w], scalars: scalars), requiresGrad: true)
        let y = maxPool2d(x, kernelSize: 2)
        let (oh, ow) = (h / 2, w / 2)
        let g = Tensor(shape: [n, c, oh, ow], scalars: (0..<(n * c * oh * ow)).map { Float($0 + 1) })
        y.backward(g)
        var expectedValues: [Float] = [], expectedGrad = [Float](repeating: 0, count: scalars.count)
        for plane in 0..<(n * c) {
            for i in 0..<oh {
                for j in 0..<ow {
                    var best = plane * h * w + 2 * i * w + 2 * j
                    for index in [best + 1, best + w, best + w + 1] {
                        let (v, b) = (scalars[index], scalars[best])
                        if !b.isNaN && (v > b || v.isNaN) { best = index }
                    }
                    expectedValues.append(scalars[best])
                    expectedGrad[best] = g.scalars[expectedValues.count - 1]
                }
            }
        }
        XCTAssertTrue(expectedValues.contains { $0.isNaN }, "the input must put NaN in some windows")
        XCTAssertEqual(y.value.scalars.map(\.bitPattern), expectedValues.map(\.bitPattern))
        XCTAssertEqual(x.grad?.scalars, expectedGrad)
        let inference = withNoGrad { maxPool2d(Variable(Tensor(shape: [n, c, h, w], scalars: scalars)), kernelSize: 2) }
        XCTAssertEqual(inference.value.scalars.map(\.bitPattern), expectedValues.map(\.bitPattern))
    }

    /// `upsampleConcat(x, skip)` is `concat([upsampleBilinear(x), skip])`: bit for bit against
    /// the two ops (same kernels), gradients added to existing ones included, and against the
    /// float64 reference with finite differences; scale factors 2 and 3.
    func testUpsampleConcatIsUpsampleThenConcat() {
        var data = TestData(seed: 73)
        for (scale, shape, skipChannels) in [(2, [2, 3, 5, 7], 4), (3, [1, 2, 3, 4], 1)] {
            let x = data.normal(shape)
            let skip = data.normal([shape[0], skipChannels, shape[2] * scale, shape[3] * scale])
            let earlier = data.normal(shape)
            func run(_ fused: Bool) -> [Tensor] {
                let vx = Variable(x, requiresGrad: true), vs = Variable(skip, requiresGrad: true)
                vx.grad = earlier  // the gradient must be added to what is there
                let y = fused ? upsampleConcat(vx, vs, scaleFactor: scale)
                              : concat([upsampleBilinear(vx, scaleFactor: scale), vs])
                y.backward(Tensor(shape: y.shape, scalars: (0..<y.value.count).map { Float($0 % 13) - 6 }))
                return [y.value, vx.grad ?? Tensor(0), vs.grad ?? Tensor(0)]
            }
            for (fused, composite) in zip(run(true), run(false)) {
                XCTAssertEqual(fused.shape, composite.shape)
                XCTAssertEqual(fused.scalars, composite.scalars, "scale \(scale)")
            }
            checkGradients("upsampleConcat ×\(scale)", [x, skip], maxCheckedPerInput: 12,
                           engine: { upsampleConcat($0[0], $0[1], scaleFactor: scale) },
                           reference: { v in
                               Reference.concat([Reference.upsampleBilinear(v[0], outputHeight: shape[2] * scale, outputWidth: shape[3] * scale), v[1]],
                                                axis: 1)
                           })
        }
    }

    /// Bilinear ×2 (whose interior width pass and its adjoint run vectorised in
    /// CResampleKernels) bit for bit against the separable table loop written out here in
    /// Float, PyTorch's formula, the same products and sums in the same order: forward and the
    /// input gradient, widths with and without whole vectors and scalar tails, and infinities at
    /// the edge columns (0·∞ at the edges must stay NaN, as in the table loop).
    func testBilinearDoublingMatchesTableLoop() {
        var data = TestData(seed: 91)
        func taps(_ input: Int, _ output: Int) -> [(Int, Int, Float, Float)] {
            let scale = Float(input) / Float(output)
            return (0..<output).map { i in
                let source = max(0, scale * (Float(i) + 0.5) - 0.5)
                let i0 = min(Int(source), input - 1), lambda = source - Float(i0)
                return (i0, i0 < input - 1 ? i0 + 1 : i0, 1 - lambda, lambda)
            }
        }
        for (h, w) in [(2, 1), (3, 2), (2, 9), (3, 10), (2, 17), (1, 33), (4, 64)] {
            var scalars = data.normal([2, 1, h, w]).scalars
            if w > 2 { (scalars[w - 1], scalars[h * w + 1]) = (.infinity, -.infinity) }
            let x = Variable(Tensor(shape: [2, 1, h, w], scalars: scalars), requiresGrad: true)
            let y = upsampleBilinear(x, scaleFactor: 2)
            let g = data.normal([2, 1, 2 * h, 2 * w])
            y.backward(g)
            let rows = taps(h, 2 * h), cols = taps(w, 2 * w)
            var expected = [Float](), expectedGradient = [Float]()
            for plane in 0..<2 {
                let p = Array(scalars[(plane * h * w)..<((plane + 1) * h * w)])
                let wide = (0..<h).flatMap { r in cols.map { c in c.2 * p[r * w + c.0] + c.3 * p[r * w + c.1] } }
                for i in 0..<(2 * h) {
                    let (r0, r1, a0, a1) = rows[i]
                    expected += (0..<(2 * w)).map { j in a0 * wide[r0 * 2 * w + j] + a1 * wide[r1 * 2 * w + j] }
                }
                let gp = Array(g.scalars[(plane * 4 * h * w)..<((plane + 1) * 4 * h * w)])
                var gWide = [Float](repeating: 0, count: h * 2 * w), gx = [Float](repeating: 0, count: h * w)
                for i in 0..<(2 * h) {
                    let (r0, r1, a0, a1) = rows[i]
                    for j in 0..<(2 * w) { gWide[r0 * 2 * w + j] += a0 * gp[i * 2 * w + j] }
                    for j in 0..<(2 * w) { gWide[r1 * 2 * w + j] += a1 * gp[i * 2 * w + j] }
                }
                for r in 0..<h {
                    for (j, c) in cols.enumerated() {
                        gx[r * w + c.0] += c.2 * gWide[r * 2 * w + j]
                        gx[r * w + c.1] += c.3 * gWide[r * 2 * w + j]
                    }
                }
                expectedGradient += gx
            }
            XCTAssertEqual(y.value.scalars.map(\.bitPattern), expected.map(\.bitPattern), "forward \(h)×\(w)")
            XCTAssertEqual((x.grad?.scalars ?? []).map(\.bitPattern), expectedGradient.map(\.bitPattern), "∂x \(h)×\(w)")
        }
    }

    /// `conv2d(..., relu: true)` is `relu(conv2d(...))`, forward and gradients.
    func testConv2dWithReLUMatchesReference() {
        var data = TestData(seed: 12)
        checkGradients("conv2d+relu", [data.normal([2, 3, 9, 7]), data.normal([4, 3, 3, 3], scale: 0.4), data.normal([4], scale: 0.3)],
                       maxCheckedPerInput: 12,
                       engine: { v in conv2d(v[0], weight: v[1], bias: v[2], padding: 1, relu: true) },
                       reference: { v in Reference.conv2d(v[0], v[1], v[2], stride: 1, padding: 1, dilation: 1).map { max($0, 0) } })
    }

    /// `batchNorm2d(..., relu: true)` is `relu(batchNorm2d(...))` in one pass: forward and all
    /// three gradients against the Double reference, in training and evaluation mode.
    func testBatchNormReLUMatchesReference() {
        checkBatchNorm(relu: true, seed: 78, trials: 4, widths: 2..<40)
    }

    /// Batch statistics when the mean is far larger than the spread (x = 1000 + 0.01·noise, planes
    /// of different offsets): the two-pass variance must match a float64 two-pass computation
    /// (a one-pass E[x²] − μ² in Float would lose it all).
    func testBatchNormStatisticsWithLargeMean() {
        var data = TestData(seed: 5)
        let (n, c, h, w) = (3, 2, 9, 11)
        let noise = data.normal([n, c, h, w]).scalars
        let scalars = noise.indices.map { i in Float(1000 + Double((i / (h * w)) % 5) * 0.02 + 0.01 * Double(noise[i])) }
        // Running variance from 0, so that after one step it is 0.1 × the unbiased batch variance
        // with Float's relative precision (from 1 its ulps would hide the variance's digits).
        var runningMean = Tensor.zeros([c]), runningVar = Tensor.zeros([c])
        let y = batchNorm2d(Variable(Tensor(shape: [n, c, h, w], scalars: scalars)), weight: nil, bias: nil,
                            runningMean: &runningMean, runningVar: &runningVar, training: true)
        let m = n * h * w
        for ch in 0..<c {
            let values = (0..<n).flatMap { image in (0..<(h * w)).map { Double(scalars[(image * c + ch) * h * w + $0]) } }
            let mean = values.reduce(0, +) / Double(m)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(m)
            XCTAssertEqual(Double(runningVar[ch]), 0.1 * variance * Double(m) / Double(m - 1), accuracy: 1e-5 * variance,
                           "running variance, channel \(ch)")
            for image in 0..<n {
                for k in 0..<(h * w) {
                    let index = (image * c + ch) * h * w + k
                    let expected = (Double(scalars[index]) - mean) / (variance + 1e-5).squareRoot()
                    // y = x·(γ/σ) + shift in Float: |x·γ/σ| ≈ 3·10⁴ here, whose ulp is 0.004.
                    XCTAssertEqual(Double(y.value.scalars[index]), expected, accuracy: 1e-2, "y at \(index)")
                }
            }
        }
    }

    func testBatchNormRandomShapesMatchReference() {
        checkBatchNorm(relu: false, seed: 77, trials: 6, heights: 1..<5, widths: 2..<6)
    }

    /// `batchNorm2d` on random shapes, alternating training and evaluation mode, against
    /// `Reference.batchNorm` (followed by ReLU when `relu`): forward, input and affine gradients.
    func checkBatchNorm(relu: Bool, seed: UInt64, trials: Int, heights: Range<Int> = 2..<6, widths: Range<Int>,
                        file: StaticString = #filePath, line: UInt = #line) {
        var data = TestData(seed: seed)
        for trial in 0..<trials {
            let shape = [data.int(1..<4), data.int(1..<5), data.int(heights), data.int(widths)]
            let training = trial % 2 == 0
            let c = shape[1]
            let rm0 = data.normal([c]), rv0 = data.uniform([c], 0.3, 2)
            var rm = rm0, rv = rv0
            checkGradients("batchNorm2d\(relu ? "+relu" : "") trial \(trial) \(shape) training=\(training)",
                           [data.normal(shape, scale: 3, offset: -2), data.normal([c]), data.normal([c])],
                           gradientTolerance: 1e-3, maxCheckedPerInput: 10, seed: UInt64(trial),
                           engine: { v in
                               rm = rm0; rv = rv0
                               return batchNorm2d(v[0], weight: v[1], bias: v[2], runningMean: &rm, runningVar: &rv,
                                                  training: training, relu: relu)
                           },
                           reference: { v in
                               let normalised = Reference.batchNorm(v[0], weight: v[1], bias: v[2], runningMean: DTensor(rm0),
                                                                    runningVar: DTensor(rv0), training: training).0
                               return relu ? normalised.map { max($0, 0) } : normalised
                           }, file: file, line: line)
        }
    }

    func testUpsampleRandomShapesMatchReference() {
        var data = TestData(seed: 5)
        for trial in 0..<6 {
            let shape = [data.int(1..<3), data.int(1..<4), data.int(1..<7), data.int(1..<7)]
            let (oh, ow) = trial < 3 ? (2 * shape[2], 2 * shape[3]) : (data.int(1..<13), data.int(1..<13))
            checkGradients("upsample trial \(trial) \(shape) → \(oh)×\(ow)", [data.normal(shape)],
                           maxCheckedPerInput: 10, seed: UInt64(trial),
                           engine: { upsampleBilinear($0[0], outputHeight: oh, outputWidth: ow) },
                           reference: { Reference.upsampleBilinear($0[0], outputHeight: oh, outputWidth: ow) })
        }
    }

    /// OpenBLAS on 1 thread and on all cores must agree to float tolerance: our own kernels split
    /// work so that no sum depends on the split, and OpenBLAS splits sgemm over M and N only.
    /// Both algorithms (this shape is im2col's by default).
    func testConvResultsDoNotDependOnThreadCount() {
        for algorithm in [Convolution.Algorithm.im2col, .winograd] {
            Convolution.$forcedAlgorithm.withValue(algorithm) { checkThreadCountIndependence() }
        }
    }

    func checkThreadCountIndependence() {
        var data = TestData(seed: 9)
        let x = data.normal([2, 8, 24, 24]), w = data.normal([16, 8, 3, 3], scale: 0.2), b = data.normal([16])
        func run() -> [Tensor] {
            let vx = Variable(x, requiresGrad: true), vw = Variable(w, requiresGrad: true), vb = Variable(b, requiresGrad: true)
            let y = relu(conv2d(vx, weight: vw, bias: vb, padding: 1))
            let loss = mean(y * y)
            loss.backward()
            return [y.value, vx.grad ?? Tensor(0), vw.grad ?? Tensor(0), vb.grad ?? Tensor(0)]
        }
        let saved = BLAS.threadCount
        defer { BLAS.threadCount = saved }
        BLAS.threadCount = 1
        let single = run()
        BLAS.threadCount = max(2, availableCoreCount)
        let multi = run()
        for (i, (a, b)) in zip(single, multi).enumerated() {
            assertMatchesReference(a, b, tolerance: 1e-6, "thread count independence, tensor \(i)")
        }
    }
}

import ParallelLoops
private var availableCoreCount: Int { availableCores }
