import Tensor
import XCTest

/// Asserts `ours` has the shape of `reference` and every element satisfies
/// |ours − reference| ≤ tolerance · (1 + |reference|), reporting the worst element; a NaN on
/// either side fails. Shared by the test targets that compare with PyTorch goldens.
public func assertMatchesReference(_ ours: Tensor, _ reference: Tensor, tolerance: Float, _ what: String = "",
                                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(ours.shape, reference.shape, "\(what): shape", file: file, line: line)
    guard ours.shape == reference.shape else { return }
    let (a, b) = (ours.scalars, reference.scalars)
    var worst: Float = 0, at = 0
    for i in 0..<a.count {
        let excess = abs(a[i] - b[i]) / (1 + abs(b[i]))
        if !(excess <= worst) { worst = excess; at = i }
    }
    XCTAssertLessThanOrEqual(worst, tolerance, "\(what): element \(at) is \(a[at]), expected \(b[at])", file: file, line: line)
}
