/// Weight initialisers with PyTorch's definitions (`torch.nn.init`).
public enum Initializer {
    public enum FanMode: Sendable { case fanIn, fanOut }

    /// (fan_in, fan_out) of a weight: [out, in, k…] → (in·Πk, out·Πk); [out, in] for linear.
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        enginePrecondition(shape.count >= 2, "fans: weight needs at least 2 axes, got \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Kaiming (He) normal for ReLU networks: N(0, gain²/fan) with gain √2
    /// (`kaiming_normal_(w, mode=..., nonlinearity="relu")`). The spec's convolutions use fan_out.
    public static func kaimingNormal(_ shape: [Int], mode: FanMode = .fanOut, using generator: inout SeededGenerator) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        let std = (2 / Float(mode == .fanIn ? fanIn : fanOut)).squareRoot()
        return Tensor.randomNormal(shape, standardDeviation: std, using: &generator)
    }

    /// U(−1/√fan_in, 1/√fan_in): PyTorch's default for `nn.Linear` and `nn.Conv2d` weights
    /// (`kaiming_uniform_(a=√5)` works out to this bound) and biases.
    public static func pytorchDefaultUniform(_ shape: [Int], fanIn: Int, using generator: inout SeededGenerator) -> Tensor {
        let bound = 1 / Float(max(fanIn, 1)).squareRoot()
        return Tensor.randomUniform(shape, low: -bound, high: bound, using: &generator)
    }
}
