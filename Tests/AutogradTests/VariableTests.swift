import XCTest
import Autograd

/// The tape itself: accumulation, shared subexpressions, no-grad mode, constants.
final class VariableTests: XCTestCase {
    func testLeafGradientsAccumulateAcrossBackwardCalls() {
        let x = Variable(Tensor(shape: [2], scalars: [1, 2]), requiresGrad: true)
        sum(x * x).backward()
        sum(x * x).backward()
        XCTAssertEqual(x.grad?.scalars, [4, 8])  // 2 · (2x)
        x.zeroGrad()
        XCTAssertNil(x.grad)
    }

    func testSharedSubexpressionGetsBothContributions() {
        // y = a·a + a, with a = 3x: dy/dx = (2a + 1)·3
        let x = Variable(Tensor(shape: [1], scalars: [2]), requiresGrad: true)
        let a = x * 3
        sum(a * a + a).backward()
        XCTAssertEqual(x.grad?.scalars, [39])
    }

    func testIntermediateGradientsAreFreedUnlessRetained() {
        let x = Variable(Tensor(shape: [1], scalars: [2]), requiresGrad: true)
        let kept = x * 2, dropped = kept + 1
        kept.retainsGrad = true
        sum(dropped * dropped).backward()
        XCTAssertEqual(kept.grad?.scalars, [10])
        XCTAssertNil(dropped.grad)
        XCTAssertEqual(x.grad?.scalars, [20])
    }

    func testNoGradRecordsNothing() {
        let x = Variable(Tensor(shape: [2], scalars: [1, 2]), requiresGrad: true)
        let y = withNoGrad { relu(x * 2) }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(y.isLeaf)
        XCTAssertEqual(y.value.scalars, [2, 4])
        XCTAssertTrue(GradMode.isEnabled, "no-grad mode must end with its block")
        XCTAssertTrue((x * 2).requiresGrad)
    }

    func testConstantsNeedNoGradient() {
        let c = Variable(Tensor(shape: [2], scalars: [1, 2]))
        let x = Variable(Tensor(shape: [2], scalars: [3, 4]), requiresGrad: true)
        let y = c * c
        XCTAssertFalse(y.requiresGrad, "an op on constants only is a constant")
        sum(y * x).backward()
        XCTAssertNil(c.grad)
        XCTAssertEqual(x.grad?.scalars, [1, 4])
    }

    func testDeepChainDoesNotOverflowTheStack() {
        let x = Variable(Tensor(shape: [1], scalars: [1]), requiresGrad: true)
        var y = x
        for _ in 0..<20_000 { y = y + 0.0 }
        sum(y).backward()
        XCTAssertEqual(x.grad?.scalars, [1])
    }

    func testShapeErrorsAreDescriptive() {
        XCTAssertThrowsError(try broadcastShape([2, 3], [4, 3], op: "add")) { error in
            XCTAssertEqual("\(error)", "add: shapes [2, 3] and [4, 3] are not broadcastable (trailing axes must be equal or 1)")
        }
        XCTAssertThrowsError(try ConvGeometry(channels: 1, height: 2, width: 2, kernelHeight: 5, kernelWidth: 5)) { error in
            XCTAssertTrue("\(error)".contains("smaller than the dilated kernel"), "\(error)")
        }
    }
}
