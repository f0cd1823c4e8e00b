import NN

/// The ConvBlock of method.md §2 (conv3×3 → BN → ReLU, twice), built from NN layers the way
/// Models/ will; shared by the NN tests.
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

/// The reference U-Net of method.md §2 (widths 16/32/64/128 by default).
final class UNet: Module {
    let enc0, enc1, enc2, enc3, dec2, dec1, dec0: ConvBlock
    let head: Conv2d
    var isTraining = true
    init(_ cin: Int, _ cout: Int, widths w: [Int] = [16, 32, 64, 128], using g: inout SeededGenerator) {
        enc0 = ConvBlock(cin, w[0], using: &g); enc1 = ConvBlock(w[0], w[1], using: &g)
        enc2 = ConvBlock(w[1], w[2], using: &g); enc3 = ConvBlock(w[2], w[3], using: &g)
        dec2 = ConvBlock(w[3] + w[2], w[2], using: &g); dec1 = ConvBlock(w[2] + w[1], w[1], using: &g)
        dec0 = ConvBlock(w[1] + w[0], w[0], using: &g)
        head = Conv2d(w[0], cout, kernelSize: 1, using: &g)
    }
    var ownParameters: [(name: String, parameter: Variable)] { [] }
    var children: [(name: String, module: any Module)] {
        [("enc0", enc0), ("enc1", enc1), ("enc2", enc2), ("enc3", enc3), ("dec2", dec2), ("dec1", dec1),
         ("dec0", dec0), ("head", head)]
    }
    func callAsFunction(_ x: Variable) -> Variable {
        let e0 = enc0(x), e1 = enc1(maxPool2d(e0)), e2 = enc2(maxPool2d(e1)), e3 = enc3(maxPool2d(e2))
        let d2 = dec2(concat([upsampleBilinear(e3), e2])), d1 = dec1(concat([upsampleBilinear(d2), e1]))
        let d0 = dec0(concat([upsampleBilinear(d1), e0]))
        return head(d0)
    }
}
