import XCTest
import Autograd
import Tensor

/// Checks a scalar loss against an independent Double implementation: the value, and the
/// gradient of every differentiable input against central differences of the Double reference
/// (so the comparison measures only the engine's Float error).
/// Tolerance: |engine − reference| ≤ tolerance · (1 + |reference|).
func checkLoss(_ name: String, _ inputs: [Tensor], differentiable: Set<Int>, tolerance: Double = 2e-4,
               engine: ([Variable]) -> Variable, reference: ([[Double]]) -> Double,
               file: StaticString = #filePath, line: UInt = #line) {
    let variables = inputs.enumerated().map { Variable($0.element, requiresGrad: differentiable.contains($0.offset)) }
    let loss = engine(variables)
    XCTAssertEqual(loss.value.count, 1, "\(name): the loss is a scalar", file: file, line: line)
    loss.backward()
    let doubles = inputs.map { $0.scalars.map(Double.init) }
    let expected = reference(doubles)
    XCTAssertEqual(Double(loss.value.scalars[0]), expected, accuracy: tolerance * (1 + abs(expected)), "\(name) value", file: file, line: line)
    for i in inputs.indices {
        guard differentiable.contains(i) else {
            XCTAssertNil(variables[i].grad, "\(name): input \(i) must get no gradient", file: file, line: line)
            continue
        }
        guard let grad = variables[i].grad?.scalars else { XCTFail("\(name): input \(i) got no gradient", file: file, line: line); continue }
        for j in 0..<inputs[i].count {
            var plus = doubles, minus = doubles
            let h = 1e-6 * max(1, abs(doubles[i][j]))
            plus[i][j] += h
            minus[i][j] -= h
            let numeric = (reference(plus) - reference(minus)) / (2 * h)
            XCTAssertEqual(Double(grad[j]), numeric, accuracy: tolerance * (1 + abs(numeric)),
                           "\(name): ∂/∂input\(i)[\(j)]", file: file, line: line)
        }
    }
}

func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in (generator.nextUnitFloat() * 2 - 1) * scale })
}

// MARK: Double references (plain loops over NCHW arrays)

/// Node rows [N·H·W][C] of an [N, C, H, W] array.
func rows(_ x: [Double], _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> [[Double]] {
    var out: [[Double]] = []
    for s in 0..<n { for y in 0..<h { for xx in 0..<w { out.append((0..<c).map { x[((s * c + $0) * h + y) * w + xx] }) } } }
    return out
}

func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
func unit(_ a: [Double], eps: Double = 1e-8) -> [Double] { let n = max(dot(a, a).squareRoot(), eps); return a.map { $0 / n } }
func logSumExp(_ a: [Double]) -> Double { let m = a.max()!; return m + Foundation.log(a.reduce(0) { $0 + Foundation.exp($1 - m) }) }

import Foundation
