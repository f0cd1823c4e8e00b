@_exported import NN

/// The networks' shape: which model, its input and output channels and its widths. Written as
/// JSON into every checkpoint's `__metadata__` (key `architecture`), so a checkpoint says how to
/// rebuild its model, in PyTorch too (`Tools/engine/check_export.py`).
///
/// JSON: `{"model": "unet", "in_channels": 5, "out_channels": 6, "widths": [16, 32, 64, 128]}`
/// (for `classifier`, `out_channels` is the number of classes).
public struct Architecture: Codable, Equatable, Sendable {
    /// `unet` or `classifier`.
    public var model: String
    public var inputChannels: Int
    public var outputChannels: Int
    /// Channels of the four encoder levels (the reference size is 16, 32, 64, 128).
    public var widths: [Int]

    public static let referenceWidths = [16, 32, 64, 128]

    public init(model: String, inputChannels: Int, outputChannels: Int, widths: [Int] = Architecture.referenceWidths) {
        self.model = model
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.widths = widths
    }

    /// A segmentation / reconstruction U-Net.
    public static func unet(inputChannels: Int, outputChannels: Int, widths: [Int] = referenceWidths) -> Architecture {
        Architecture(model: UNet.modelName, inputChannels: inputChannels, outputChannels: outputChannels, widths: widths)
    }

    /// A recognition network (U-Net encoder, global average pooling, linear layer).
    public static func classifier(inputChannels: Int, classes: Int, widths: [Int] = referenceWidths) -> Architecture {
        Architecture(model: Classifier.modelName, inputChannels: inputChannels, outputChannels: classes, widths: widths)
    }

    enum CodingKeys: String, CodingKey {
        case model, widths
        case inputChannels = "in_channels"
        case outputChannels = "out_channels"
    }

    /// Why this architecture cannot be built, or nil when it can.
    public var problem: String? {
        if widths.count != 4 { return "widths must list 4 channel counts, got \(widths)" }
        if widths.contains(where: { $0 < 1 }) { return "widths must be positive, got \(widths)" }
        if inputChannels < 1 { return "in_channels must be positive, got \(inputChannels)" }
        if outputChannels < 1 { return "out_channels must be positive, got \(outputChannels)" }
        return nil
    }
}

/// conv 3×3 (no bias) → BatchNorm → ReLU, twice (method.md §2 `ConvBlock`).
///
/// Parameters (PyTorch names): `conv1.weight` [out, in, 3, 3], `bn1.{weight, bias}` [out] and its
/// buffers `bn1.{running_mean, running_var, num_batches_tracked}`, then the same for `conv2` /
/// `bn2` with `out` input channels. Each BN + ReLU runs as one fused op (`batchNorm2d(relu:)`);
/// in evaluation mode without gradients (inference) each BN is folded into its convolution
/// instead — W′ = W·γ/√(σ² + eps) per output channel, bias β − μ·γ/√(σ² + eps) — and the ReLU
/// applied as the convolution writes its output, which saves a pass over every activation.
public final class ConvBlock: Module {
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    public var isTraining = true

    public init(_ inChannels: Int, _ outChannels: Int, using generator: inout SeededGenerator) {
        conv1 = Conv2d(inChannels, outChannels, kernelSize: 3, padding: 1, bias: false, using: &generator)
        bn1 = BatchNorm2d(outChannels)
        conv2 = Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1, bias: false, using: &generator)
        bn2 = BatchNorm2d(outChannels)
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [] }
    public var children: [(name: String, module: any Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)]
    }

    /// [N, in, H, W] → [N, out, H, W].
    public func callAsFunction(_ x: Variable) -> Variable {
        if !isTraining && !GradMode.isEnabled {
            return Self.folded(conv2, bn2, Self.folded(conv1, bn1, x))
        }
        // A Winograd convolution hands its output's moments to the batch norm (training only:
        // evaluation normalises with the running statistics).
        let (c1, m1) = bn1.isTraining ? conv1.withMoments(x) : (conv1(x), nil)
        let y1 = bn1(c1, relu: true, batchMoments: m1)
        let (c2, m2) = bn2.isTraining ? conv2.withMoments(y1) : (conv2(y1), nil)
        return bn2(c2, relu: true, batchMoments: m2)
    }

    /// relu(bn(conv(x))) for inference, with the batch norm's running statistics folded into the
    /// convolution's weight and bias.
    static func folded(_ conv: Conv2d, _ bn: BatchNorm2d, _ x: Variable) -> Variable {
        enginePrecondition(conv.bias == nil, "ConvBlock: folding expects bias-free convolutions")
        let channels = conv.weight.shape[0], perChannel = conv.weight.value.count / max(channels, 1)
        let (gamma, beta) = (bn.weight.value.scalars, bn.bias.value.scalars)
        let (mean, variance) = (bn.runningMean.value.scalars, bn.runningVar.value.scalars)
        let scale = (0..<channels).map { gamma[$0] * Float(1 / (Double(variance[$0]) + Double(bn.eps)).squareRoot()) }
        var weight = conv.weight.value
        weight.withUnsafeMutableBufferPointer { w in
            for o in 0..<channels {
                for i in (o * perChannel)..<((o + 1) * perChannel) { w[i] *= scale[o] }
            }
        }
        let bias = Tensor(shape: [channels], scalars: (0..<channels).map { beta[$0] - mean[$0] * scale[$0] })
        return conv2d(x, weight: Variable(weight), bias: Variable(bias), stride: conv.stride, padding: conv.padding,
                      dilation: conv.dilation, relu: true)
    }
}

/// The four encoder levels shared by `UNet` and `Classifier`: level 0 at full resolution, each
/// next level after a 2×2 max pool.
struct Encoder {
    let blocks: [ConvBlock]

    init(inputChannels: Int, widths w: [Int], using generator: inout SeededGenerator) {
        var blocks: [ConvBlock] = []
        for (level, width) in w.prefix(4).enumerated() {
            blocks.append(ConvBlock(level == 0 ? inputChannels : w[level - 1], width, using: &generator))
        }
        self.blocks = blocks
    }

    /// `("enc0", block0)` … `("enc3", block3)`.
    var children: [(name: String, module: any Module)] { blocks.enumerated().map { ("enc\($0.offset)", $0.element) } }

    /// [e0, e1, e2, e3]: e0 at the input's resolution, e3 at 1/8.
    func callAsFunction(_ x: Variable) -> [Variable] {
        var levels = [blocks[0](x)]
        for block in blocks.dropFirst() { levels.append(block(maxPool2d(levels[levels.count - 1], kernelSize: 2))) }
        return levels
    }
}

/// The reference U-Net of method.md §2: four encoder `ConvBlock`s with 2×2 max pooling, three
/// decoder `ConvBlock`s each fed the bilinear ×2 upsampling (align_corners=False) of the level
/// below concatenated with the encoder's skip connection, and a 1×1 head with bias.
///
/// Shapes: input [N, in_channels, H, W] with H and W divisible by 8 (the callers pad or crop);
/// logits [N, out_channels, H, W]; features `bottleneck` = e3 [N, w3, H/8, W/8] and `decoder` = d0
/// [N, w0, H, W] (what the distillation losses use). State-dict names are PyTorch's:
/// `enc0.conv1.weight`, `enc0.bn1.running_mean`, …, `dec0.bn2.num_batches_tracked`,
/// `head.weight`, `head.bias`. Initialisation: Kaiming-normal (fan_out, ReLU gain) for the
/// convolutions, BN weight 1 and bias 0, head bias 0. The reference widths (16, 32, 64, 128)
/// give 488,374 parameters for 5 → 6 channels.
public final class UNet: Module {
    public static let modelName = "unet"

    public let architecture: Architecture
    public let enc0: ConvBlock, enc1: ConvBlock, enc2: ConvBlock, enc3: ConvBlock
    public let dec2: ConvBlock, dec1: ConvBlock, dec0: ConvBlock
    public let head: Conv2d
    public var isTraining = true
    private let encoder: Encoder

    /// The logits and the intermediate features of one forward pass.
    public struct Output {
        /// [N, out_channels, H, W].
        public let logits: Variable
        /// e3, the deepest encoder level: [N, w3, H/8, W/8].
        public let bottleneck: Variable
        /// d0, the last decoder level before the head: [N, w0, H, W].
        public let decoder: Variable
        /// The features by the names of the reference (`bottleneck`, `decoder`).
        public var features: [String: Variable] { ["bottleneck": bottleneck, "decoder": decoder] }
    }

    /// A freshly initialised U-Net; `architecture.model` must be `unet` and its `problem` nil.
    public init(_ architecture: Architecture, using generator: inout SeededGenerator) {
        enginePrecondition(architecture.model == Self.modelName, "UNet: architecture is a '\(architecture.model)'")
        if let problem = architecture.problem { engineFailure("UNet: \(problem)") }
        self.architecture = architecture
        let w = architecture.widths
        encoder = Encoder(inputChannels: architecture.inputChannels, widths: w, using: &generator)
        (enc0, enc1, enc2, enc3) = (encoder.blocks[0], encoder.blocks[1], encoder.blocks[2], encoder.blocks[3])
        dec2 = ConvBlock(w[3] + w[2], w[2], using: &generator)
        dec1 = ConvBlock(w[2] + w[1], w[1], using: &generator)
        dec0 = ConvBlock(w[1] + w[0], w[0], using: &generator)
        head = Conv2d(w[0], architecture.outputChannels, kernelSize: 1, using: &generator)
    }

    /// `UNet(.unet(inputChannels:outputChannels:widths:), using:)`.
    public convenience init(inputChannels: Int, outputChannels: Int, widths: [Int] = Architecture.referenceWidths,
                            using generator: inout SeededGenerator) {
        self.init(.unet(inputChannels: inputChannels, outputChannels: outputChannels, widths: widths), using: &generator)
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [] }
    public var children: [(name: String, module: any Module)] {
        encoder.children + [("dec2", dec2), ("dec1", dec1), ("dec0", dec0), ("head", head)]
    }

    /// Logits and features for `x` [N, in_channels, H, W], H and W divisible by 8.
    public func callAsFunction(_ x: Variable) -> Output {
        enginePrecondition(x.rank == 4 && x.shape[1] == architecture.inputChannels,
                           "UNet: input must be [N, \(architecture.inputChannels), H, W], got \(x.shape)")
        enginePrecondition(x.shape[2] % 8 == 0 && x.shape[3] % 8 == 0,
                           "UNet: input height and width must be divisible by 8 (pad or crop), got \(x.shape[2])×\(x.shape[3])")
        let e = encoder(x)
        let d2 = dec2(upsampleConcat(e[3], e[2]))
        let d1 = dec1(upsampleConcat(d2, e[1]))
        let d0 = dec0(upsampleConcat(d1, e[0]))
        return Output(logits: head(d0), bottleneck: e[3], decoder: d0)
    }
}

/// The recognition network of method.md §2: the U-Net's encoder (enc0 … enc3 with 2×2 max
/// pooling), global average pooling and a linear layer.
///
/// Shapes: input [N, in_channels, H, W] with H and W divisible by 8; logits [N, classes];
/// feature `bottleneck` = e3 [N, w3, H/8, W/8]. State-dict names: `enc0.…` … `enc3.…` as in
/// `UNet`, then `fc.weight` [classes, w3] and `fc.bias` [classes] (PyTorch's default
/// `nn.Linear` initialisation, U(±1/√w3)).
public final class Classifier: Module {
    public static let modelName = "classifier"

    public let architecture: Architecture
    public let enc0: ConvBlock, enc1: ConvBlock, enc2: ConvBlock, enc3: ConvBlock
    public let fc: Linear
    public var isTraining = true
    private let encoder: Encoder

    public struct Output {
        /// [N, classes].
        public let logits: Variable
        /// e3: [N, w3, H/8, W/8].
        public let bottleneck: Variable
        public var features: [String: Variable] { ["bottleneck": bottleneck] }
    }

    /// A freshly initialised classifier; `architecture.model` must be `classifier`.
    public init(_ architecture: Architecture, using generator: inout SeededGenerator) {
        enginePrecondition(architecture.model == Self.modelName, "Classifier: architecture is a '\(architecture.model)'")
        if let problem = architecture.problem { engineFailure("Classifier: \(problem)") }
        self.architecture = architecture
        encoder = Encoder(inputChannels: architecture.inputChannels, widths: architecture.widths, using: &generator)
        (enc0, enc1, enc2, enc3) = (encoder.blocks[0], encoder.blocks[1], encoder.blocks[2], encoder.blocks[3])
        fc = Linear(architecture.widths[3], architecture.outputChannels, using: &generator)
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [] }
    public var children: [(name: String, module: any Module)] { encoder.children + [("fc", fc)] }

    /// Class logits and the bottleneck feature for `x` [N, in_channels, H, W].
    public func callAsFunction(_ x: Variable) -> Output {
        enginePrecondition(x.rank == 4 && x.shape[1] == architecture.inputChannels,
                           "Classifier: input must be [N, \(architecture.inputChannels), H, W], got \(x.shape)")
        enginePrecondition(x.shape[2] % 8 == 0 && x.shape[3] % 8 == 0,
                           "Classifier: input height and width must be divisible by 8 (pad or crop), got \(x.shape[2])×\(x.shape[3])")
        let e3 = encoder(x)[3]
        return Output(logits: fc(flatten(globalAvgPool2d(e3))), bottleneck: e3)
    }
}
