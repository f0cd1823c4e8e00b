import XCTest
import NN

final class NNTests: XCTestCase {
    func testKaimingNormalHasFanOutVariance() {
        var g = SeededGenerator(seed: 4)
        let conv = Conv2d(16, 32, kernelSize: 3, using: &g)
        let w = conv.weight.value.scalars.map(Double.init)
        let variance = w.reduce(0) { $0 + $1 * $1 } / Double(w.count)
        let expected: Double = 2.0 / Double(32 * 9)
        XCTAssertEqual(variance, expected, accuracy: 0.1 * expected)  // 4608 samples: ~2 % standard error
        XCTAssertEqual(conv.bias?.value.scalars, Array(repeating: 0, count: 32))
    }

    func testLinearMatchesMatmulPlusBiasAndDefaultInitBounds() {
        var g = SeededGenerator(seed: 5)
        let layer = Linear(4, 3, using: &g)
        XCTAssertTrue(layer.weight.value.scalars.allSatisfy { abs($0) <= 0.5 })  // 1/√4
        let x = Variable(Tensor(shape: [2, 4], scalars: [1, 0, 0, 0, 0, 1, 0, 0]))
        let y = layer(x).value
        XCTAssertEqual(y.shape, [2, 3])
        for o in 0..<3 {
            XCTAssertEqual(y[0, o], layer.weight.value[o, 0] + (layer.bias?.value[o] ?? 0), accuracy: 1e-6)
            XCTAssertEqual(y[1, o], layer.weight.value[o, 1] + (layer.bias?.value[o] ?? 0), accuracy: 1e-6)
        }
        XCTAssertEqual(layer.stateDict().map(\.name), ["weight", "bias"])
    }

    func testLoadStateDictReportsProblemsAndChangesNothing() {
        let bn = BatchNorm2d(3)
        XCTAssertThrowsError(try bn.loadStateDict(["weight": Tensor.ones([3])])) { error in
            XCTAssertEqual(error as? StateDictError, .missingKeys(["bias", "num_batches_tracked", "running_mean", "running_var"]))
        }
        var state = Dictionary(uniqueKeysWithValues: bn.stateDict().map { ($0.name, $0.value) })
        state["running_mean"] = Tensor.ones([4])
        XCTAssertThrowsError(try bn.loadStateDict(state)) { error in
            XCTAssertEqual(error as? StateDictError, .shapeMismatch(key: "running_mean", expected: [3], got: [4]))
        }
        XCTAssertEqual(bn.runningMean.value, Tensor.zeros([3]))
        state["running_mean"] = Tensor.ones([3])
        state["extra"] = Tensor(1)
        XCTAssertThrowsError(try bn.loadStateDict(state)) { error in
            XCTAssertEqual(error as? StateDictError, .unexpectedKeys(["extra"]))
        }
        XCTAssertNoThrow(try bn.loadStateDict(state, strict: false))
        XCTAssertEqual(bn.runningMean.value, Tensor.ones([3]))
    }

    func testTrainingReducesALossEndToEnd() {
        // conv → BN fitting per-pixel labels that a linear function of the input separates
        // (class 0 where channel 0 exceeds channel 1, else 1): Adam must drive the loss down.
        var g = SeededGenerator(seed: 6)
        let conv = Conv2d(2, 3, kernelSize: 3, padding: 1, using: &g)
        let bn = BatchNorm2d(3)
        let input = Tensor.randomNormal([2, 2, 6, 6], using: &g)
        let x = Variable(input)
        let values = input.scalars
        let labels = (0..<72).map { i in values[(i / 36) * 72 + i % 36] > values[(i / 36) * 72 + 36 + i % 36] ? 0 : 1 }
        let parameters = conv.parameters() + bn.parameters()
        let optimizer = Adam(parameters: parameters, learningRate: 0.05)
        var losses: [Float] = []
        for _ in 0..<30 {
            optimizer.zeroGrad(parameters)
            let loss = crossEntropy(bn(conv(x)), targets: labels)
            loss.backward()
            clipGradientNorm(parameters, maxNorm: 5)
            optimizer.step()
            losses.append(loss.value.scalar)
        }
        XCTAssertLessThan(losses.last ?? .infinity, 0.5 * (losses.first ?? 0), "loss \(losses)")
    }

    func testScheduleEndpoints() {
        XCTAssertEqual(LearningRateSchedule.poly(base: 0.1, totalSteps: 100).rate(atStep: 0), 0.1)
        XCTAssertEqual(LearningRateSchedule.poly(base: 0.1, totalSteps: 100).rate(atStep: 100), 0)
        XCTAssertEqual(LearningRateSchedule.cosine(base: 0.1, totalSteps: 10, minimum: 0.01).rate(atStep: 10), 0.01, accuracy: 1e-7)
        XCTAssertEqual(LearningRateSchedule.cosine(base: 0.1, totalSteps: 10).rate(atStep: 5), 0.05, accuracy: 1e-7)
    }
}
