import TensorTestSupport
import XCTest
import Autograd

/// Forward and backward of every op against PyTorch, from the goldens written by
/// `Tools/engine/make_goldens.sh` (Tests/Fixtures/engine/ops.safetensors; torch version and seed
/// in that folder's README). Each case's op parameters mirror `make_torch_goldens.py`.
final class TorchGoldenTests: XCTestCase {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/engine/ops.safetensors").path

    var goldens: SafeTensorsFile!

    override func setUpWithError() throws {
        goldens = try SafeTensorsFile(contentsOf: Self.path)
    }

    /// Float32 against float32 with different summation orders: measured worst excess is
    /// 4.6e-7 forward and 1.2e-6 on gradients (conv weights, sums of ~200 products); the
    /// tolerances leave about 10× room for other BLAS kernels and thread counts.
    static let forwardTolerance: Float = 5e-6
    static let gradientTolerance: Float = 2e-5

    /// Runs golden case `name`: builds a variable for each `NAME.in.<k>` (requiring a gradient when
    /// `NAME.grad.<k>` exists), applies `op`, and compares the output with `NAME.out` and, after
    /// `backward(NAME.gout)`, each gradient with `NAME.grad.<k>`.
    func golden(
        _ name: String, tolerance: Float = forwardTolerance, gradientTolerance: Float = gradientTolerance,
        file: StaticString = #filePath, line: UInt = #line, _ op: ([String: Variable]) throws -> Variable
    ) throws {
        let prefix = "\(name).in."
        var variables: [String: Variable] = [:]
        for entry in goldens.entries.keys where entry.hasPrefix(prefix) {
            let key = String(entry.dropFirst(prefix.count))
            variables[key] = Variable(try goldens.tensor(entry),
                                      requiresGrad: goldens.entries["\(name).grad.\(key)"] != nil)
        }
        XCTAssertFalse(variables.isEmpty, "\(name): no inputs in the goldens", file: file, line: line)
        let out = try op(variables)
        assertMatchesReference(out.value, try goldens.tensor("\(name).out"), tolerance: tolerance,
                               "\(name) forward", file: file, line: line)
        out.backward(try goldens.tensor("\(name).gout"))
        for (key, variable) in variables.sorted(by: { $0.key < $1.key }) where variable.requiresGrad {
            guard let grad = variable.grad else {
                XCTFail("\(name): no gradient for \(key)", file: file, line: line)
                continue
            }
            assertMatchesReference(grad, try goldens.tensor("\(name).grad.\(key)"), tolerance: gradientTolerance,
                                   "\(name) ∂\(key)", file: file, line: line)
        }
    }

    func const(_ name: String) throws -> Tensor { try goldens.tensor(name) }
    func targets(_ name: String) throws -> [Int] { try goldens.int64s("\(name).targets").values.map { Int($0) } }

    // MARK: arithmetic and matmul

    func testArithmetic() throws {
        try golden("add") { $0["a"]! + $0["b"]! }
        try golden("sub") { $0["a"]! - $0["b"]! }
        try golden("mul") { $0["a"]! * $0["b"]! }
        try golden("div") { $0["a"]! / $0["b"]! }
        try golden("scalar_ops") { v in (2.5 - v["a"]!) * 3 + v["a"]! / 4 - 1 }
    }

    func testMatmul() throws {
        try golden("matmul") { matmul($0["a"]!, $0["b"]!) }
        try golden("matmul_ta") { matmul($0["a"]!, $0["b"]!, transposeA: true) }
        try golden("matmul_tb") { matmul($0["a"]!, $0["b"]!, transposeB: true) }
        try golden("matmul_tab") { matmul($0["a"]!, $0["b"]!, transposeA: true, transposeB: true) }
    }

    // MARK: convolution and batch norm

    /// The 3×3 golden case with Winograd F(4×4, 3×3) forced (it is im2col's by default at this
    /// size): forward, ∂x (the flipped-kernel convolution, also by Winograd), ∂w, ∂b. Tolerance
    /// 5e-5: the transforms' rounding is ≈ 10× im2col's.
    func testConv2dByWinogradMatchesPyTorch() throws {
        try Convolution.$forcedAlgorithm.withValue(.winograd) {
            try golden("conv3x3", tolerance: 5e-5, gradientTolerance: 5e-5) {
                conv2d($0["x"]!, weight: $0["w"]!, bias: $0["b"]!, stride: 1, padding: 1)
            }
        }
    }

    func testConv2d() throws {
        try golden("conv3x3") { conv2d($0["x"]!, weight: $0["w"]!, bias: $0["b"]!, stride: 1, padding: 1) }
        try golden("conv_s2_d2") { conv2d($0["x"]!, weight: $0["w"]!, stride: 2, padding: 2, dilation: 2) }
        try golden("conv1x1") { conv2d($0["x"]!, weight: $0["w"]!, bias: $0["b"]!) }
        try golden("conv5x3_s2") { conv2d($0["x"]!, weight: $0["w"]!, stride: 2, padding: 1) }
    }

    func testBatchNorm2d() throws {
        for (name, training) in [("batchnorm_train", true), ("batchnorm_eval", false)] {
            var runningMean = try const("\(name).const.running_mean")
            var runningVar = try const("\(name).const.running_var")
            try golden(name) {
                batchNorm2d($0["x"]!, weight: $0["w"]!, bias: $0["b"]!, runningMean: &runningMean,
                            runningVar: &runningVar, training: training, momentum: 0.1, eps: 1e-5)
            }
            if training {
                assertMatchesReference(runningMean, try const("\(name).after.running_mean"), tolerance: 1e-6, "\(name) running mean")
                assertMatchesReference(runningVar, try const("\(name).after.running_var"), tolerance: 1e-6, "\(name) running var")
            } else {
                XCTAssertEqual(runningMean, try const("\(name).const.running_mean"), "eval must not touch running stats")
                XCTAssertEqual(runningVar, try const("\(name).const.running_var"), "eval must not touch running stats")
            }
        }
    }

    // MARK: activations and elementwise math

    func testActivations() throws {
        try golden("relu") { relu($0["input"]!) }
        try golden("leaky_relu") { leakyRelu($0["x"]!, negativeSlope: 0.1) }
        try golden("sigmoid") { sigmoid($0["input"]!) }
        try golden("tanh") { tanh($0["input"]!) }
    }

    func testElementwiseMath() throws {
        try golden("exp") { exp($0["input"]!) }
        try golden("log") { log($0["input"]!) }
        try golden("sqrt") { sqrt($0["input"]!) }
        try golden("pow3") { pow($0["x"]!, 3) }
        try golden("pow_half") { pow($0["x"]!, 0.5) }
        try golden("pow2") { pow($0["x"]!, 2) }
    }

    // MARK: pooling and resampling

    func testPoolingAndUpsampling() throws {
        try golden("maxpool2") { maxPool2d($0["x"]!, kernelSize: 2) }
        try golden("maxpool2_odd") { maxPool2d($0["x"]!, kernelSize: 2) }
        try golden("avgpool3_s2") { avgPool2d($0["x"]!, kernelSize: 3, stride: 2) }
        try golden("global_avgpool") { globalAvgPool2d($0["x"]!) }
        try golden("adaptive_avgpool") { adaptiveAvgPool2d($0["x"]!, outputHeight: 3, outputWidth: 4) }
        try golden("upsample2x") { upsampleBilinear($0["x"]!, scaleFactor: 2) }
        try golden("upsample_size") { upsampleBilinear($0["x"]!, outputHeight: 7, outputWidth: 9) }
    }

    // MARK: layout and reductions

    func testLayout() throws {
        try golden("concat") { concat([$0["a"]!, $0["b"]!, $0["c"]!], axis: 1) }
        try golden("slice") { slice($0["x"]!, axis: 1, 1..<4) }
        try golden("reshape") { reshape($0["x"]!, [6, -1]) }
        try golden("permute") { permute($0["x"]!, [0, 2, 3, 1]) }
    }

    func testReductions() throws {
        try golden("sum_axes") { sum($0["x"]!, axes: [1, 3]) }
        try golden("mean_keepdim") { mean($0["x"]!, axes: [0, 2], keepDims: true) }
        try golden("sum_all") { sum($0["x"]!) }
        try golden("mean_all") { mean($0["x"]!) }
    }

    // MARK: softmax family and losses

    func testSoftmaxFamily() throws {
        try golden("softmax") { softmax($0["x"]!, axis: 1) }
        try golden("log_softmax") { logSoftmax($0["x"]!, axis: 1) }
    }

    func testCrossEntropy() throws {
        let seg = try targets("cross_entropy")
        try golden("cross_entropy") { crossEntropy($0["x"]!, targets: seg, ignoreIndex: 255) }
        let weights = try const("cross_entropy_weighted.const.weight")
        try golden("cross_entropy_weighted") {
            crossEntropy($0["x"]!, targets: try targets("cross_entropy_weighted"), classWeights: weights, ignoreIndex: 255)
        }
        try golden("cross_entropy_2d") { crossEntropy($0["x"]!, targets: try targets("cross_entropy_2d")) }
        try golden("cross_entropy_none") {
            crossEntropy($0["x"]!, targets: try targets("cross_entropy_none"), ignoreIndex: 255, reduction: .none)
        }
    }

    func testOtherLosses() throws {
        try golden("kl_div_batchmean") { klDivergence($0["logq"]!, target: $0["p"]!, reduction: .batchMean) }
        try golden("kl_div_mean") { klDivergence($0["logq"]!, target: $0["p"]!, reduction: .mean) }
        try golden("mse") { mseLoss($0["input"]!, $0["target"]!) }
        try golden("l1") { l1Loss($0["input"]!, $0["target"]!) }
        try golden("cosine_similarity") { cosineSimilarity($0["a"]!, $0["b"]!, axis: 1, eps: 1e-8) }
        try golden("normalize") { l2Normalize($0["x"]!, axis: 1, eps: 1e-12) }
    }

    /// conv → BN(train) → ReLU → maxpool → upsample → concat → 1×1 conv → CE, chained.
    func testComposite() throws {
        var runningMean = try const("composite.const.running_mean")
        var runningVar = try const("composite.const.running_var")
        let labels = try targets("composite")
        try golden("composite") { v in
            let h = relu(batchNorm2d(conv2d(v["x"]!, weight: v["w1"]!, padding: 1), weight: v["g1"]!, bias: v["b1"]!,
                                     runningMean: &runningMean, runningVar: &runningVar, training: true))
            let u = upsampleBilinear(maxPool2d(h), scaleFactor: 2)
            let logits = conv2d(concat([u, h], axis: 1), weight: v["w2"]!, bias: v["b2"]!)
            return crossEntropy(logits, targets: labels, ignoreIndex: 255)
        }
        assertMatchesReference(runningVar, try const("composite.after.running_var"), tolerance: 1e-6, "composite running var")
    }

    func testEveryGoldenCaseIsExercised() throws {
        let cases = Set(goldens.entries.keys.compactMap { $0.split(separator: ".").first.map(String.init) })
        let covered: Set<String> = [
            "add", "sub", "mul", "div", "scalar_ops", "matmul", "matmul_ta", "matmul_tb", "matmul_tab",
            "conv3x3", "conv_s2_d2", "conv1x1", "conv5x3_s2", "batchnorm_train", "batchnorm_eval",
            "relu", "leaky_relu", "sigmoid", "tanh", "exp", "log", "sqrt", "pow3", "pow_half", "pow2",
            "maxpool2", "maxpool2_odd", "avgpool3_s2", "global_avgpool", "adaptive_avgpool", "upsample2x",
            "upsample_size", "concat", "slice", "reshape", "permute", "sum_axes", "mean_keepdim", "sum_all",
            "mean_all", "softmax", "log_softmax", "cross_entropy", "cross_entropy_weighted", "cross_entropy_2d",
            "cross_entropy_none", "kl_div_batchmean", "kl_div_mean", "mse", "l1", "cosine_similarity",
            "normalize", "composite",
        ]
        XCTAssertEqual(cases.subtracting(covered), [], "golden cases without a Swift test")
        XCTAssertEqual(covered.subtracting(cases), [], "Swift tests without a golden case")
    }
}
