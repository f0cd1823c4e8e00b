import XCTest
import Autograd

/// Checks an engine op against a slow Double reference: the forward output, and every input
/// gradient against central finite differences *of the Double reference* (h = 1e-5, so the
/// difference quotient is exact to ~1e-9 and the comparison measures only the engine's Float
/// error). The loss differentiated is L = Σ r·y for a random seed r, i.e. `y.backward(r)`.
///
/// Tolerance: |engine − reference| ≤ tolerance · (1 + |reference|), per element.
/// `maxCheckedPerInput` limits finite differences to a random subset of elements, for larger
/// random shapes.
func checkGradients(
    _ name: String,
    _ inputs: [Tensor],
    differentiable: Set<Int>? = nil,
    forwardTolerance: Double = 1e-5,
    gradientTolerance: Double = 1e-4,
    maxCheckedPerInput: Int = .max,
    seed: UInt64 = 7,
    engine: ([Variable]) -> Variable,
    reference: ([DTensor]) -> DTensor,
    file: StaticString = #filePath, line: UInt = #line
) {
    let differentiable = differentiable ?? Set(inputs.indices)
    let variables = inputs.enumerated().map { Variable($0.element, requiresGrad: differentiable.contains($0.offset)) }
    let output = engine(variables)
    var generator = SeededGenerator(seed: seed)
    let r = Tensor.randomNormal(output.shape, using: &generator)
    output.backward(r)

    let doubles = inputs.map(DTensor.init)
    let expected = reference(doubles)
    XCTAssertEqual(output.shape, expected.shape, "\(name): forward shape", file: file, line: line)
    guard output.shape == expected.shape else { return }
    assertClose(output.value.scalars.map(Double.init), expected.data, tolerance: forwardTolerance,
                "\(name) forward", file: file, line: line)

    let rd = r.scalars.map(Double.init)
    func loss(_ xs: [DTensor]) -> Double {
        let y = reference(xs)
        return zip(y.data, rd).reduce(0) { $0 + $1.0 * $1.1 }
    }
    for i in inputs.indices where differentiable.contains(i) {
        guard let grad = variables[i].grad else {
            XCTFail("\(name): input \(i) got no gradient", file: file, line: line)
            continue
        }
        XCTAssertEqual(grad.shape, inputs[i].shape, "\(name): gradient shape of input \(i)", file: file, line: line)
        var positions = Array(0..<inputs[i].count)
        if positions.count > maxCheckedPerInput {
            positions.shuffle(using: &generator)
            positions = Array(positions.prefix(maxCheckedPerInput))
        }
        var ours: [Double] = [], theirs: [Double] = []
        let gradScalars = grad.scalars
        for j in positions {
            var xs = doubles
            let x0 = xs[i].data[j]
            let h = 1e-5 * max(1, abs(x0))
            xs[i].data[j] = x0 + h
            let plus = loss(xs)
            xs[i].data[j] = x0 - h
            let minus = loss(xs)
            ours.append(Double(gradScalars[j]))
            theirs.append((plus - minus) / (2 * h))
        }
        assertClose(ours, theirs, tolerance: gradientTolerance, "\(name) ∂input\(i)", file: file, line: line)
    }
}

/// Per-element |a − b| ≤ tolerance · (1 + |b|); reports the worst element.
func assertClose(
    _ actual: [Double], _ expected: [Double], tolerance: Double, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "\(what): counts differ", file: file, line: line)
    var worst = 0.0, worstIndex = -1
    for (i, (a, b)) in zip(actual, expected).enumerated() {
        if a == b || (a.isNaN && b.isNaN) { continue }
        let excess = a.isNaN || b.isNaN ? Double.infinity : abs(a - b) / (1 + abs(b))
        if excess > worst { worst = excess; worstIndex = i }
    }
    if worst > tolerance {
        XCTFail("\(what): element \(worstIndex) is \(actual[worstIndex]), expected \(expected[worstIndex]) (relative excess \(worst) > \(tolerance))",
                file: file, line: line)
    }
}

/// Random test tensors from a seeded generator.
struct TestData {
    var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
    mutating func normal(_ shape: [Int], scale: Float = 1, offset: Float = 0) -> Tensor {
        Tensor.randomNormal(shape, mean: offset, standardDeviation: scale, using: &generator)
    }
    mutating func uniform(_ shape: [Int], _ low: Float, _ high: Float) -> Tensor {
        Tensor.randomUniform(shape, low: low, high: high, using: &generator)
    }
    mutating func int(_ range: Range<Int>) -> Int {
        range.lowerBound + Int(generator.next() % UInt64(range.count))
    }
}
