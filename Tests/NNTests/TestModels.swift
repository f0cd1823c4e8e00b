import NN

/// The ConvBlock of method.md §2 (conv3×3 → BN → ReLU, twice) written with the separate BN and
/// ReLU ops (Models.ConvBlock fuses them); shared by the NN tests.
final class ConvBlock: Module {
    let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    var isTraining = true
    init(_ cin: Int, _ cout: Int, using g: inout SeededGenerator) {
        conv1 = Conv2d(cin, cout, kernelSize: 3, padding: 1, bias: false, using: &g); bn1 = BatchNorm2d(cout)
        conv2 = Conv2d(cout, cout, kernelSize: 3, padding: 1, bias: false, using: &g); bn2 = BatchNorm2d(cout)
    }
    var ownParameters: [(name: String, parameter: Variable)] { [] }
    var children: [(name: String, module: any Module)] { [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)] }
    func callAsFunction(_ x: Variable) -> Variable { relu(bn2(conv2(relu(bn1(conv1(x)))))) }
}
