import XCTest
import Foundation
import NN

/// Times the reference U-Net of method.md §2 (widths 16/32/64/128, batch 8 × 5 × 128 × 128,
/// 6 classes, cross-entropy, Adam) against the PyTorch figures in shared/anchors.md
/// (forward eval 727 ms, train step 2,924 ms on 2 cores). Skipped unless ENGINE_BENCH=1;
/// run in release mode:
///   ENGINE_BENCH=1 swift test -c release -Xswiftc -enable-testing --scratch-path .build-engine --filter UNetBenchmarkTests
final class UNetBenchmarkTests: XCTestCase {
    func testUNetTrainStepTiming() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["ENGINE_BENCH"] == "1", "set ENGINE_BENCH=1 to run")
        var g = SeededGenerator(seed: 1)
        let model = UNet(5, 6, using: &g)
        XCTAssertEqual(model.parameterCount, 488_374, "the anchors' reference size")
        let x = Variable(Tensor.randomNormal([8, 5, 128, 128], using: &g))
        let labels = (0..<(8 * 128 * 128)).map { _ in Int(g.next() % 6) }
        let optimizer = Adam(parameters: model.parameters(), learningRate: 1e-3)

        func time(_ body: () -> Void) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
        model.eval()
        _ = withNoGrad { model(x) }
        let forward = (0..<3).map { _ in time { _ = withNoGrad { model(x) } } }.min() ?? 0
        model.train()
        var phases: [(Double, Double, Double)] = []
        for _ in 0..<3 {
            model.zeroGrad()
            var loss: Variable?
            let f = time { loss = crossEntropy(model(x), targets: labels) }
            let b = time { loss?.backward() }
            let s = time { optimizer.step() }
            phases.append((f, b, s))
        }
        let best = phases.min { $0.0 + $0.1 + $0.2 < $1.0 + $1.1 + $1.2 } ?? (0, 0, 0)
        print(String(format: "UNet batch 8×5×128×128: eval forward %.0f ms (PyTorch 727); train step %.0f ms = forward %.0f + backward %.0f + Adam %.0f (PyTorch 2924)",
                     forward, best.0 + best.1 + best.2, best.0, best.1, best.2))
    }
}
