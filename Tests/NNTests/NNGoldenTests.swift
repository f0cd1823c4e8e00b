import TensorTestSupport
import XCTest
import NN

/// Layers, optimizers, clipping and schedules against PyTorch (Tests/Fixtures/engine/nn.safetensors,
/// written by Tools/engine/make_goldens.sh).
final class NNGoldenTests: XCTestCase {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/engine/nn.safetensors").path
    var goldens: SafeTensorsFile!

    override func setUpWithError() throws { goldens = try SafeTensorsFile(contentsOf: Self.path) }

    final class Tiny: Module {
        let enc0: ConvBlock, head: Conv2d
        var isTraining = true
        init(using g: inout SeededGenerator) {
            enc0 = ConvBlock(3, 4, using: &g)
            head = Conv2d(4, 2, kernelSize: 1, using: &g)
        }
        var ownParameters: [(name: String, parameter: Variable)] { [] }
        var children: [(name: String, module: any Module)] { [("enc0", enc0), ("head", head)] }
        func callAsFunction(_ x: Variable) -> Variable { head(enc0(x)) }
    }

    func testConvBlockStateDictTrainAndEvalMatchPyTorch() throws {
        var g = SeededGenerator(seed: 1)
        let model = Tiny(using: &g)
        let torchKeys = try JSONDecoder().decode([String].self, from: Data((goldens.metadata["block_state_keys"] ?? "[]").utf8))
        XCTAssertEqual(model.stateDict().map(\.name), torchKeys, "state-dict names and order must match PyTorch")

        var state: [String: Tensor] = [:]
        for key in torchKeys { state[key] = try goldens.tensor("block.state.\(key)") }
        try model.loadStateDict(state)

        model.train()
        let x = Variable(try goldens.tensor("block.x"))
        let y = model(x)
        assertMatchesReference(y.value, try goldens.tensor("block.train_out"), tolerance: 1e-5, "train-mode output")
        y.backward(try goldens.tensor("block.gout"))
        for (name, p) in model.namedParameters() {
            assertMatchesReference(p.grad ?? Tensor(0), try goldens.tensor("block.grad.\(name)"), tolerance: 1e-4, "∂\(name)")
        }
        for (name, buffer) in model.namedBuffers() where name.contains("running") {
            assertMatchesReference(buffer.value, try goldens.tensor("block.after.\(name)"), tolerance: 1e-6, name)
        }
        XCTAssertEqual(model.enc0.bn1.numBatchesTracked.value.scalar, 1)

        model.eval()
        let evalOut = withNoGrad { model(x) }
        assertMatchesReference(evalOut.value, try goldens.tensor("block.eval_out"), tolerance: 1e-5, "eval-mode output")
        XCTAssertEqual(model.enc0.bn1.numBatchesTracked.value.scalar, 1, "eval mode does not count batches")
    }

    func testOptimizersMatchPyTorch() throws {
        let start = try goldens.tensor("optim.start")
        let grads = try (0..<3).map { try goldens.tensor("optim.grad\($0)") }
        let makers: [(String, (Variable) -> Optimizer)] = [
            ("sgd", { SGD(parameters: [$0], learningRate: 0.1) }),
            ("sgd_momentum", { SGD(parameters: [$0], learningRate: 0.1, momentum: 0.9, weightDecay: 1e-2) }),
            ("sgd_nesterov", { SGD(parameters: [$0], learningRate: 0.1, momentum: 0.9, nesterov: true) }),
            ("sgd_dampening", { SGD(parameters: [$0], learningRate: 0.1, momentum: 0.8, dampening: 0.3) }),
            ("adam", { Adam(parameters: [$0], learningRate: 1e-2) }),
            ("adam_l2", { Adam(parameters: [$0], learningRate: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1) }),
            ("adamw", { AdamW(parameters: [$0], learningRate: 1e-2, weightDecay: 0.1) }),
        ]
        for (name, make) in makers {
            let p = Variable(start, requiresGrad: true)
            let optimizer = make(p)
            for (i, g) in grads.enumerated() {
                p.grad = g
                optimizer.step()
                assertMatchesReference(p.value, try goldens.tensor("optim.\(name).step\(i)"), tolerance: 1e-6, "\(name) step \(i)")
            }
        }
    }

    func testOptimizerSkipsParametersWithoutGradient() {
        let p = Variable(Tensor.ones([2]), requiresGrad: true)
        Adam(parameters: [p], learningRate: 0.1).step()
        XCTAssertEqual(p.value.scalars, [1, 1])
    }

    func testGradientClippingMatchesPyTorch() throws {
        let a = Variable(Tensor.zeros([3, 4]), requiresGrad: true), b = Variable(Tensor.zeros([5]), requiresGrad: true)
        a.grad = try goldens.tensor("clip.grad_a")
        b.grad = try goldens.tensor("clip.grad_b")
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        XCTAssertEqual(norm, try goldens.tensor("clip.norm").scalar, accuracy: 1e-5)
        assertMatchesReference(a.grad ?? Tensor(0), try goldens.tensor("clip.clipped_a"), tolerance: 1e-6, "clipped a")
        assertMatchesReference(b.grad ?? Tensor(0), try goldens.tensor("clip.clipped_b"), tolerance: 1e-6, "clipped b")
    }

    func testSchedulesMatchPyTorch() throws {
        let poly = LearningRateSchedule.poly(base: 0.05, totalSteps: 10, power: 0.9)
        let cosine = LearningRateSchedule.cosine(base: 0.05, totalSteps: 10, minimum: 1e-4)
        assertMatchesReference(Tensor(shape: [13], scalars: (0..<13).map { poly.rate(atStep: $0) }),
                               try goldens.tensor("schedule.poly"), tolerance: 1e-6, "poly")
        // PyTorch's CosineAnnealingLR is a recursion whose rounding drifts from the closed form by ~1e-9.
        assertMatchesReference(Tensor(shape: [11], scalars: (0..<11).map { cosine.rate(atStep: $0) }),
                               try goldens.tensor("schedule.cosine").sliced(along: 0, 0..<11), tolerance: 1e-6, "cosine")
    }
}
