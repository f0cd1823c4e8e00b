/// 2-D convolution layer (PyTorch `nn.Conv2d`, groups = 1): thin state around `conv2d`.
///
/// Parameters: `weight` [out, in, k, k], `bias` [out] (optional). Initialisation follows the
/// spec (method.md §2): Kaiming-normal, fan_out, ReLU gain; the bias starts at 0.
public final class Conv2d: Module {
    public let weight: Variable
    public let bias: Variable?
    public let stride: Int, padding: Int, dilation: Int
    public var isTraining = true

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
        bias: Bool = true, using generator: inout SeededGenerator
    ) {
        weight = Variable(Initializer.kaimingNormal([outChannels, inChannels, kernelSize, kernelSize], mode: .fanOut,
                                                    using: &generator), requiresGrad: true)
        self.bias = bias ? Variable(Tensor.zeros([outChannels]), requiresGrad: true) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    public var ownParameters: [(name: String, parameter: Variable)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// [N, in, H, W] → [N, out, H', W'].
    public func callAsFunction(_ x: Variable) -> Variable {
        conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation)
    }

    /// The output and, when the convolution could gather them while writing it, its channels'
    /// moments (`conv2dWithMoments`), for a batch norm that follows.
    public func withMoments(_ x: Variable) -> (output: Variable, moments: ChannelMoments?) {
        conv2dWithMoments(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation)
    }
}

/// Batch normalisation layer over NCHW channels (PyTorch `nn.BatchNorm2d`, affine, tracking
/// running statistics; momentum 0.1, eps 1e-5).
///
/// Parameters: `weight` (γ, ones) and `bias` (β, zeros), [C]. Buffers: `running_mean` (zeros),
/// `running_var` (ones), `num_batches_tracked` (a rank-0 count, held as Float here and marked
/// `isInteger`: PyTorch stores int64, and checkpoint writers convert it). In training mode each call
/// normalises with batch statistics, updates the running ones and counts the batch; in
/// evaluation mode it uses the running statistics.
public final class BatchNorm2d: Module {
    public let weight: Variable
    public let bias: Variable
    public let runningMean: Buffer
    public let runningVar: Buffer
    public let numBatchesTracked: Buffer
    public let momentum: Float, eps: Float
    public var isTraining = true

    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        weight = Variable(Tensor.ones([channels]), requiresGrad: true)
        bias = Variable(Tensor.zeros([channels]), requiresGrad: true)
        runningMean = Buffer(Tensor.zeros([channels]))
        runningVar = Buffer(Tensor.ones([channels]))
        numBatchesTracked = Buffer(Tensor(0), isInteger: true)
        self.momentum = momentum
        self.eps = eps
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [("weight", weight), ("bias", bias)] }
    public var ownBuffers: [(name: String, buffer: Buffer)] {
        [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", numBatchesTracked)]
    }

    /// [N, C, H, W] → [N, C, H, W]. With `relu`, returns `relu(self(x))` computed in the same
    /// pass (nothing stored for the normalised values; see `batchNorm2d`).
    /// `batchMoments`: the input's channel moments if already known (used in training only).
    public func callAsFunction(_ x: Variable, relu: Bool = false, batchMoments: ChannelMoments? = nil) -> Variable {
        if isTraining { numBatchesTracked.value = Tensor(numBatchesTracked.value.scalar + 1) }
        return batchNorm2d(x, weight: weight, bias: bias, runningMean: &runningMean.value, runningVar: &runningVar.value,
                           training: isTraining, momentum: momentum, eps: eps, relu: relu, batchMoments: batchMoments)
    }
}

/// Fully connected layer (PyTorch `nn.Linear`): y = x·Wᵀ + b.
///
/// Parameters: `weight` [out, in], `bias` [out]; both U(−1/√in, 1/√in) as PyTorch's default.
public final class Linear: Module {
    public let weight: Variable
    public let bias: Variable?
    public var isTraining = true

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, using generator: inout SeededGenerator) {
        weight = Variable(Initializer.pytorchDefaultUniform([outFeatures, inFeatures], fanIn: inFeatures, using: &generator),
                          requiresGrad: true)
        self.bias = bias
            ? Variable(Initializer.pytorchDefaultUniform([outFeatures], fanIn: inFeatures, using: &generator), requiresGrad: true)
            : nil
    }

    public var ownParameters: [(name: String, parameter: Variable)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// [N, in] → [N, out].
    public func callAsFunction(_ x: Variable) -> Variable {
        let y = matmul(x, weight, transposeB: true)
        return bias.map { y + $0 } ?? y
    }
}
