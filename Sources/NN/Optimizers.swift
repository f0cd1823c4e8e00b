/// Updates parameters from their accumulated gradients.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// One update of every parameter that has a gradient (parameters without one are skipped,
    /// as in PyTorch).
    func step()
}

extension Optimizer {
    /// Clears the gradients of `parameters`.
    public func zeroGrad(_ parameters: [Variable]) { for p in parameters { p.zeroGrad() } }
}

/// Stochastic gradient descent with momentum and L2 weight decay (PyTorch `torch.optim.SGD`):
/// g ← ∇ + λ·θ; b ← g on the first step, then μ·b + (1 − dampening)·g; the step direction is
/// b (or g + μ·b with Nesterov); θ ← θ − lr·direction.
public final class SGD: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool
    private var momentumBuffers: [Tensor?]

    public init(parameters: [Variable], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) {
        enginePrecondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum > 0 and no dampening")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        momentumBuffers = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        for (i, p) in parameters.enumerated() {
            guard var g = p.grad else { continue }
            if weightDecay != 0 { g.addScaled(p.value, by: weightDecay) }
            if momentum != 0 {
                var buffer: Tensor
                if let previous = momentumBuffers[i] {
                    buffer = previous
                    momentumBuffers[i] = nil  // keep `buffer` unique so the update is in place
                    let (mu, keep) = (momentum, 1 - dampening)
                    buffer.updateElementwise(with: g) { b, gi in mu * b + keep * gi }
                } else {
                    buffer = g
                }
                momentumBuffers[i] = buffer
                if nesterov { g.addScaled(buffer, by: momentum) } else { g = buffer }
            }
            p.value.addScaled(g, by: -learningRate)
        }
    }
}

/// Adam (Kingma & Ba), PyTorch `torch.optim.Adam` formulas (amsgrad off). With
/// `decoupledWeightDecay` it is AdamW (Loshchilov & Hutter, `torch.optim.AdamW`).
///
/// Per step t: Adam adds λ·θ to the gradient; AdamW instead first shrinks θ ← θ·(1 − lr·λ).
/// Then m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², and
/// θ ← θ − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε).
public class Adam: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public let decoupledWeightDecay: Bool
    /// Steps taken so far (PyTorch keeps one count per parameter; they agree unless a
    /// parameter misses gradients, which we count per parameter too).
    var steps: [Int]
    var firstMoments: [Tensor?]
    var secondMoments: [Tensor?]

    public init(parameters: [Variable], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        steps = Array(repeating: 0, count: parameters.count)
        firstMoments = Array(repeating: nil, count: parameters.count)
        secondMoments = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        let (b1, b2, eps, lr) = (beta1, beta2, eps, learningRate)
        for (i, p) in parameters.enumerated() {
            guard var g = p.grad else { continue }
            steps[i] += 1
            if weightDecay != 0 {
                if decoupledWeightDecay {
                    let shrink = 1 - lr * weightDecay
                    p.value = p.value.map { $0 * shrink }
                } else {
                    g.addScaled(p.value, by: weightDecay)
                }
            }
            var m = firstMoments[i] ?? Tensor.zeros(p.shape)
            var v = secondMoments[i] ?? Tensor.zeros(p.shape)
            firstMoments[i] = nil
            secondMoments[i] = nil  // unique references: the updates below run in place
            let t = Double(steps[i])
            let stepSize = Float(Double(lr) / (1 - _pow(Double(b1), t)))
            let correction2 = Float((1 - _pow(Double(b2), t)).squareRoot())
            // One pass over p, g, m and v (four passes and a temporary cost 2 % of a U-Net step,
            // mostly in dispatching each pass over ~60 small tensors).
            g.withUnsafeBufferPointer { pg in
                m.withUnsafeMutableBufferPointer { pm in
                    v.withUnsafeMutableBufferPointer { pv in
                        p.value.withUnsafeMutableBufferPointer { pp in
                            parallelChunks(pp.count) { range in
                                for j in range {
                                    let gj = pg[j]
                                    let mj = b1 * pm[j] + (1 - b1) * gj, vj = b2 * pv[j] + (1 - b2) * gj * gj
                                    (pm[j], pv[j]) = (mj, vj)
                                    pp[j] = pp[j] + -stepSize * (mj / (vj.squareRoot() / correction2 + eps))
                                }
                            }
                        }
                    }
                }
            }
            firstMoments[i] = m
            secondMoments[i] = v
        }
    }
}

/// AdamW: Adam with decoupled weight decay (PyTorch default λ = 0.01).
public final class AdamW: Adam {
    public init(parameters: [Variable], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0.01) {
        super.init(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps,
                   weightDecay: weightDecay, decoupledWeightDecay: true)
    }
}

#if canImport(Glibc)
import Glibc
#endif
@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

/// Rescales all gradients so their global L2 norm is at most `maxNorm` (PyTorch
/// `clip_grad_norm_`: coefficient maxNorm/(norm + 1e-6), capped at 1). Returns the norm before
/// clipping. Parameters without a gradient are ignored.
@discardableResult
public func clipGradientNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
    var squares = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        g.withUnsafeBufferPointer { for v in $0 { squares += Double(v) * Double(v) } }
    }
    let norm = Float(squares.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        for p in parameters {
            if let g = p.grad { p.grad = g * coefficient }
        }
    }
    return norm
}
