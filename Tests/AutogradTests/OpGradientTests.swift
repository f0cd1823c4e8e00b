import XCTest
import Autograd
import Foundation

/// Every op against its slow Double reference: forward values and finite-difference gradients
/// (see `checkGradients`). Tiny shapes, so the suite is quick in debug builds too.
final class OpGradientTests: XCTestCase {
    var data = TestData(seed: 42)

    // MARK: arithmetic

    func testBroadcastingArithmetic() {
        let shapes: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([1, 3, 1], [2, 1, 4]), ([2, 3, 4], [])]
        for (sa, sb) in shapes {
            let a = data.normal(sa), b = data.normal(sb)
            let positive = data.uniform(sb, 0.5, 1.5)
            checkGradients("add \(sa) \(sb)", [a, b], engine: { $0[0] + $0[1] },
                           reference: { Reference.broadcast($0[0], $0[1], +) })
            checkGradients("sub \(sa) \(sb)", [a, b], engine: { $0[0] - $0[1] },
                           reference: { Reference.broadcast($0[0], $0[1], -) })
            checkGradients("mul \(sa) \(sb)", [a, b], engine: { $0[0] * $0[1] },
                           reference: { Reference.broadcast($0[0], $0[1], *) })
            checkGradients("div \(sa) \(sb)", [a, positive], engine: { $0[0] / $0[1] },
                           reference: { Reference.broadcast($0[0], $0[1], /) })
        }
    }

    func testScalarArithmetic() {
        checkGradients("scalar ops", [data.normal([3, 4])],
                       engine: { x in (2.5 - x[0]) * 3 + x[0] / 4 - 1 + (-x[0]) * 0.5 },
                       reference: { $0[0].map { (2.5 - $0) * 3 + $0 / 4 - 1 - $0 * 0.5 } })
    }

    // MARK: matmul

    func testMatmulAllTransposes() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = data.normal(ta ? [4, 3] : [3, 4]), b = data.normal(tb ? [5, 4] : [4, 5])
            checkGradients("matmul tA=\(ta) tB=\(tb)", [a, b],
                           engine: { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) },
                           reference: { Reference.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) })
        }
    }

    // MARK: convolution and batch norm

    func testConv2dVariants() {
        // (input shape, weight shape, stride, padding, dilation, bias)
        let cases: [([Int], [Int], Int, Int, Int, Bool)] = [
            ([2, 3, 5, 4], [2, 3, 3, 3], 1, 1, 1, true),
            ([1, 2, 7, 6], [3, 2, 3, 3], 2, 2, 2, false),
            ([2, 4, 3, 5], [3, 4, 1, 1], 1, 0, 1, true),   // 1×1 fast path
            ([1, 2, 6, 5], [2, 2, 1, 1], 2, 1, 1, false),  // 1×1 that must take im2col
            ([1, 2, 6, 7], [2, 2, 3, 2], 1, 0, 1, true),   // non-square kernel, no padding
        ]
        for (xs, ws, s, p, d, hasBias) in cases {
            let inputs = [data.normal(xs), data.normal(ws, scale: 0.5)] + (hasBias ? [data.normal([ws[0]])] : [])
            checkGradients("conv2d x\(xs) w\(ws) s\(s) p\(p) d\(d)", inputs,
                           engine: { v in conv2d(v[0], weight: v[1], bias: hasBias ? v[2] : nil, stride: s, padding: p, dilation: d) },
                           reference: { v in Reference.conv2d(v[0], v[1], hasBias ? v[2] : nil, stride: s, padding: p, dilation: d) })
        }
    }

    func testBatchNorm2dTrainAndEval() {
        for training in [true, false] {
            let x = data.normal([3, 2, 3, 4], scale: 2, offset: 1)
            let w = data.normal([2]), b = data.normal([2])
            let rm0 = data.normal([2]), rv0 = data.uniform([2], 0.5, 1.5)
            var rm = rm0, rv = rv0
            // BN's backward subtracts nearly equal Float sums: 1e-3 allows that cancellation.
            checkGradients("batchNorm2d training=\(training)", [x, w, b], gradientTolerance: 1e-3,
                           engine: { v in
                               rm = rm0; rv = rv0
                               return batchNorm2d(v[0], weight: v[1], bias: v[2], runningMean: &rm, runningVar: &rv, training: training)
                           },
                           reference: { v in
                               Reference.batchNorm(v[0], weight: v[1], bias: v[2], runningMean: DTensor(rm0),
                                                   runningVar: DTensor(rv0), training: training).0
                           })
            let (_, erm, erv) = Reference.batchNorm(DTensor(x), weight: nil, bias: nil, runningMean: DTensor(rm0),
                                                     runningVar: DTensor(rv0), training: training)
            assertClose(rm.scalars.map(Double.init), erm.data, tolerance: 1e-6, "running mean training=\(training)")
            assertClose(rv.scalars.map(Double.init), erv.data, tolerance: 1e-6, "running var training=\(training)")
        }
    }

    func testBatchNorm2dWithoutAffine() {
        var rm = Tensor.zeros([3]), rv = Tensor.ones([3])
        checkGradients("batchNorm2d no affine", [data.normal([2, 3, 2, 2])], gradientTolerance: 1e-3,
                       engine: { batchNorm2d($0[0], weight: nil, bias: nil, runningMean: &rm, runningVar: &rv, training: true) },
                       reference: { Reference.batchNorm($0[0], weight: nil, bias: nil, runningMean: DTensor(zeros: [3]),
                                                        runningVar: DTensor(shape: [3], data: [1, 1, 1]), training: true).0 })
    }

    // MARK: activations and elementwise math

    func testActivations() {
        let x = data.normal([2, 3, 4])
        checkGradients("relu", [x], engine: { relu($0[0]) }, reference: { $0[0].map { max($0, 0) } })
        checkGradients("leakyRelu", [x], engine: { leakyRelu($0[0], negativeSlope: 0.1) },
                       reference: { $0[0].map { $0 > 0 ? $0 : 0.1 * $0 } })
        checkGradients("sigmoid", [x * 3], engine: { sigmoid($0[0]) }, reference: { $0[0].map { 1 / (1 + Foundation.exp(-$0)) } })
        checkGradients("tanh", [x * 2], engine: { tanh($0[0]) }, reference: { $0[0].map { Foundation.tanh($0) } })
    }

    func testSigmoidIsStableForLargeInputs() {
        let y = sigmoid(Variable(Tensor(shape: [4], scalars: [-200, -90, 90, 200]))).value.scalars
        XCTAssertEqual(y, [0, Float(1 / (1 + Foundation.exp(90.0))), 1, 1])
    }

    func testElementwiseMath() {
        let x = data.normal([2, 3, 4])
        let positive = data.uniform([2, 3, 4], 0.2, 2)
        checkGradients("exp", [x], engine: { exp($0[0]) }, reference: { $0[0].map { Foundation.exp($0) } })
        checkGradients("log", [positive], engine: { log($0[0]) }, reference: { $0[0].map { Foundation.log($0) } })
        checkGradients("sqrt", [positive], engine: { sqrt($0[0]) }, reference: { $0[0].map { $0.squareRoot() } })
        for p: Float in [2, 3, 0.5, -1.5] {
            let input = p == 2 || p == 3 ? x : positive
            checkGradients("pow \(p)", [input], engine: { pow($0[0], p) },
                           reference: { $0[0].map { Foundation.pow($0, Double(p)) } })
        }
    }

    // MARK: pooling and resampling

    func testPooling() {
        let x = data.normal([2, 2, 7, 6])
        checkGradients("maxPool2d 2", [x], engine: { maxPool2d($0[0]) },
                       reference: { Reference.maxPool($0[0], kernel: 2, stride: 2) })
        checkGradients("maxPool2d 3 stride 2 (overlapping)", [x], engine: { maxPool2d($0[0], kernelSize: 3, stride: 2) },
                       reference: { Reference.maxPool($0[0], kernel: 3, stride: 2) })
        checkGradients("avgPool2d 3 stride 2", [x], engine: { avgPool2d($0[0], kernelSize: 3, stride: 2) },
                       reference: { Reference.avgPool($0[0], kernel: 3, stride: 2) })
        checkGradients("avgPool2d 2", [x], engine: { avgPool2d($0[0], kernelSize: 2) },
                       reference: { Reference.avgPool($0[0], kernel: 2, stride: 2) })
        checkGradients("globalAvgPool2d", [x], engine: { globalAvgPool2d($0[0]) },
                       reference: { Reference.adaptiveAvgPool($0[0], outputHeight: 1, outputWidth: 1) })
        checkGradients("adaptiveAvgPool2d 3×4", [x], engine: { adaptiveAvgPool2d($0[0], outputHeight: 3, outputWidth: 4) },
                       reference: { Reference.adaptiveAvgPool($0[0], outputHeight: 3, outputWidth: 4) })
    }

    func testUpsampleBilinear() {
        let x = data.normal([2, 2, 3, 4])
        checkGradients("upsample ×2", [x], engine: { upsampleBilinear($0[0], scaleFactor: 2) },
                       reference: { Reference.upsampleBilinear($0[0], outputHeight: 6, outputWidth: 8) })
        checkGradients("upsample to 5×9", [x], engine: { upsampleBilinear($0[0], outputHeight: 5, outputWidth: 9) },
                       reference: { Reference.upsampleBilinear($0[0], outputHeight: 5, outputWidth: 9) })
        checkGradients("upsample ×3", [x], engine: { upsampleBilinear($0[0], scaleFactor: 3) },
                       reference: { Reference.upsampleBilinear($0[0], outputHeight: 9, outputWidth: 12) })
    }

    // MARK: layout

    func testConcatSliceReshapePermute() {
        let a = data.normal([2, 3, 2, 2]), b = data.normal([2, 1, 2, 2]), c = data.normal([2, 2, 2, 2])
        checkGradients("concat channels", [a, b, c], engine: { concat($0, axis: 1) },
                       reference: { Reference.concat($0, axis: 1) })
        checkGradients("concat last axis", [a, a], engine: { concat($0, axis: -1) },
                       reference: { Reference.concat($0, axis: 3) })
        checkGradients("slice channels", [a], engine: { slice($0[0], axis: 1, 1..<3) },
                       reference: { Reference.slice($0[0], axis: 1, 1..<3) })
        checkGradients("reshape", [a], engine: { reshape($0[0], [6, -1]) },
                       reference: { DTensor(shape: [6, 4], data: $0[0].data) })
        checkGradients("permute", [a], engine: { permute($0[0], [0, 2, 3, 1]) },
                       reference: { Reference.permute($0[0], [0, 2, 3, 1]) })
        // A variable used twice must receive both gradient contributions.
        checkGradients("slice + concat reuse", [a], engine: { concat([slice($0[0], 0..<1), $0[0]], axis: 1) },
                       reference: { Reference.concat([Reference.slice($0[0], axis: 1, 0..<1), $0[0]], axis: 1) })
    }

    // MARK: reductions

    func testSumAndMean() {
        let x = data.normal([2, 3, 4])
        checkGradients("sum all", [x], engine: { sum($0[0]) }, reference: { DTensor($0[0].data.reduce(0, +)) })
        checkGradients("mean all", [x], engine: { mean($0[0]) },
                       reference: { DTensor($0[0].data.reduce(0, +) / 24) })
        checkGradients("sum axes [0, 2]", [x], engine: { sum($0[0], axes: [0, 2]) },
                       reference: { Reference.sum($0[0], axes: [0, 2], keepDims: false) })
        checkGradients("sum axis −1 keepDims", [x], engine: { sum($0[0], axes: [-1], keepDims: true) },
                       reference: { Reference.sum($0[0], axes: [2], keepDims: true) })
        checkGradients("mean axis 1 keepDims", [x], engine: { mean($0[0], axes: [1], keepDims: true) },
                       reference: { Reference.sum($0[0], axes: [1], keepDims: true).map { $0 / 3 } })
    }

    // MARK: softmax and losses

    func testSoftmaxAndLogSoftmax() {
        let x = data.normal([2, 4, 3, 2], scale: 3)
        checkGradients("softmax", [x], engine: { softmax($0[0]) },
                       reference: { Reference.softmax($0[0], axis: 1, logarithm: false) })
        checkGradients("logSoftmax", [x], engine: { logSoftmax($0[0]) },
                       reference: { Reference.softmax($0[0], axis: 1, logarithm: true) })
        checkGradients("softmax last axis", [x], engine: { softmax($0[0], axis: -1) },
                       reference: { Reference.softmax($0[0], axis: 3, logarithm: false) })
    }

    func testCrossEntropy() {
        let logits = data.normal([2, 4, 3, 2], scale: 2)
        var targets = (0..<12).map { _ in data.int(0..<4) }
        targets[1] = 255
        targets[7] = 255
        let weights = data.uniform([4], 0.2, 2)
        let wd = weights.scalars.map(Double.init)
        checkGradients("crossEntropy mean", [logits], engine: { crossEntropy($0[0], targets: targets) },
                       reference: { Reference.crossEntropy($0[0], targets: targets, weights: nil, ignoreIndex: 255, reduction: "mean") })
        checkGradients("crossEntropy weighted", [logits], engine: { crossEntropy($0[0], targets: targets, classWeights: weights) },
                       reference: { Reference.crossEntropy($0[0], targets: targets, weights: wd, ignoreIndex: 255, reduction: "mean") })
        checkGradients("crossEntropy sum", [logits], engine: { crossEntropy($0[0], targets: targets, reduction: .sum) },
                       reference: { Reference.crossEntropy($0[0], targets: targets, weights: nil, ignoreIndex: 255, reduction: "sum") })
        checkGradients("crossEntropy none", [logits],
                       engine: { crossEntropy($0[0], targets: targets, classWeights: weights, reduction: .none) },
                       reference: { Reference.crossEntropy($0[0], targets: targets, weights: wd, ignoreIndex: 255, reduction: "none") })
        checkGradients("crossEntropy [N, C]", [data.normal([5, 3])], engine: { crossEntropy($0[0], targets: [0, 2, 1, 1, 0]) },
                       reference: { Reference.crossEntropy($0[0], targets: [0, 2, 1, 1, 0], weights: nil, ignoreIndex: 255, reduction: "mean") })
    }

    func testCrossEntropyAllIgnoredIsNaNLikePyTorch() {
        let loss = crossEntropy(Variable(Tensor.zeros([1, 3, 2])), targets: [255, 255])
        XCTAssertTrue(loss.value.scalar.isNaN)
    }

    func testKLDivergence() {
        let logQ = softmaxKernelForTests(data.normal([2, 3, 2, 2]), log: true)
        var p = softmaxKernelForTests(data.normal([2, 3, 2, 2]), log: false)
        p[0, 1, 0, 0] = 0  // a zero probability contributes 0
        func reference(_ v: [DTensor], _ r: String) -> DTensor {
            Reference.reduce(DTensor(shape: v[0].shape, data: zip(v[0].data, v[1].data).map { lq, pi in
                pi > 0 ? pi * (Foundation.log(pi) - lq) : 0
            }), r)
        }
        for (reduction, name) in [(Reduction.mean, "mean"), (.batchMean, "batchmean"), (.sum, "sum"), (.none, "none")] {
            // Finite differences in p would step across p = 0; check ∂p only where p > 0.
            checkGradients("klDivergence \(name)", [logQ, p], differentiable: [0],
                           engine: { klDivergence($0[0], target: $0[1], reduction: reduction) },
                           reference: { reference($0, name) })
        }
        let positiveP = softmaxKernelForTests(data.normal([2, 3, 2, 2]), log: false)
        checkGradients("klDivergence ∂target", [logQ, positiveP],
                       engine: { klDivergence($0[0], target: $0[1], reduction: .batchMean) },
                       reference: { reference($0, "batchmean") })
    }

    func testRegressionLosses() {
        let a = data.normal([2, 3, 4]), b = data.normal([2, 3, 4])
        for (reduction, name) in [(Reduction.mean, "mean"), (.sum, "sum"), (.none, "none")] {
            checkGradients("mse \(name)", [a, b], engine: { mseLoss($0[0], $0[1], reduction: reduction) },
                           reference: { Reference.reduce(Reference.broadcast($0[0], $0[1]) { ($0 - $1) * ($0 - $1) }, name) })
            checkGradients("l1 \(name)", [a, b], engine: { l1Loss($0[0], $0[1], reduction: reduction) },
                           reference: { Reference.reduce(Reference.broadcast($0[0], $0[1]) { abs($0 - $1) }, name) })
        }
    }

    func testCosineSimilarityAndL2Normalize() {
        let a = data.normal([2, 5, 3]), b = data.normal([2, 5, 3])
        checkGradients("cosineSimilarity axis 1", [a, b], engine: { cosineSimilarity($0[0], $0[1], axis: 1) },
                       reference: { Reference.cosineSimilarity($0[0], $0[1], axis: 1, eps: 1e-8) })
        checkGradients("cosineSimilarity axis −1", [a, b], engine: { cosineSimilarity($0[0], $0[1], axis: -1) },
                       reference: { Reference.cosineSimilarity($0[0], $0[1], axis: 2, eps: 1e-8) })
        checkGradients("l2Normalize axis 1", [a], engine: { l2Normalize($0[0], axis: 1) },
                       reference: { Reference.l2Normalize($0[0], axis: 1, eps: 1e-12) })
        checkGradients("l2Normalize axis 0", [a], engine: { l2Normalize($0[0], axis: 0) },
                       reference: { Reference.l2Normalize($0[0], axis: 0, eps: 1e-12) })
    }

    private func softmaxKernelForTests(_ x: Tensor, log: Bool) -> Tensor {
        (log ? logSoftmax(Variable(x)) : softmax(Variable(x))).value
    }
}
