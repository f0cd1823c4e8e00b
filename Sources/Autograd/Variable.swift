@_exported import Tensor

/// A node of the reverse-mode autograd graph: a `Tensor` value, its gradient, and how to
/// send a gradient back to the nodes it was computed from.
///
/// Design (micrograd-style, define-by-run): every op takes `Variable`s, computes its output
/// `Tensor` eagerly and, when gradients are being recorded, returns a new `Variable` holding its
/// inputs and a backward closure. The closure receives ∂L/∂output and *adds* (`+=`) ∂L/∂input
/// into each input that requires a gradient. `backward()` orders the graph topologically and
/// runs the closures from the output back to the leaves. Leaves (parameters, inputs) keep their
/// `grad` and accumulate across calls until `zeroGrad()`; intermediate gradients are freed as
/// soon as they have been passed on. The graph lives as long as its output `Variable`.
/// `Variable` is a class because the graph needs identity (a value used twice gets both
/// gradient contributions).
public final class Variable {
    /// The forward value. Optimizers update a parameter's value in place.
    public var value: Tensor
    /// ∂L/∂value accumulated by `backward()`, `nil` until a gradient arrives.
    public var grad: Tensor?
    /// Whether gradients flow into (and are recorded through) this variable.
    public let requiresGrad: Bool
    /// Name of the op that produced this variable (`"leaf"` for leaves); for debugging.
    public let op: String
    /// Keep `grad` of a non-leaf after backward (PyTorch `retain_grad()`); for tests.
    public var retainsGrad = false

    let inputs: [Variable]
    let backwardFunction: ((Tensor) -> Void)?

    /// A leaf: a parameter (`requiresGrad: true`) or a constant input.
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.op = "leaf"
        self.inputs = []
        self.backwardFunction = nil
    }

    init(value: Tensor, op: String, inputs: [Variable], backward: @escaping (Tensor) -> Void) {
        self.value = value
        self.requiresGrad = true
        self.op = op
        self.inputs = inputs
        self.backwardFunction = backward
    }

    public var shape: [Int] { value.shape }
    public var rank: Int { value.rank }
    /// True for variables not produced by a recorded op.
    public var isLeaf: Bool { backwardFunction == nil }

    /// Whether an op on `inputs` should record a backward closure: gradient mode is on and some
    /// input requires a gradient. Ops check this before saving anything only backward needs.
    public static func recordsGradient(_ inputs: [Variable]) -> Bool {
        GradMode.isEnabled && inputs.contains { $0.requiresGrad }
    }

    /// The output of an op: records `backward` when `recordsGradient(inputs)`, else a constant.
    public static func result(
        _ value: Tensor, op: String, inputs: [Variable], backward: @escaping (Tensor) -> Void
    ) -> Variable {
        guard recordsGradient(inputs) else { return Variable(value) }
        return Variable(value: value, op: op, inputs: inputs, backward: backward)
    }

    /// `grad += contribution`; the first contribution is stored without a copy.
    public func accumulateGrad(_ contribution: Tensor) {
        enginePrecondition(contribution.shape == value.shape,
                           "\(op) backward: gradient of shape \(contribution.shape) for a value of shape \(value.shape)")
        if var existing = grad {
            grad = nil  // release the stored reference so the in-place add does not copy
            existing += contribution
            grad = existing
        } else {
            grad = contribution
        }
    }

    /// Gives `body` the gradient buffer to add into (`+=`), creating it zero-filled first if
    /// needed. For kernels that accumulate straight into the gradient (col2im, pooling).
    public func withGradBuffer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        var buffer = grad ?? Tensor.zeros(value.shape)
        grad = nil  // keep `buffer` uniquely referenced: writing through it must not copy
        defer { grad = buffer }
        return try buffer.withUnsafeMutableBufferPointer(body)
    }

    /// Gives `body` the gradient buffer and whether it already holds a gradient (`accumulate`).
    /// When it does not, the buffer is uninitialised and `body` must overwrite every element:
    /// kernels that end in an sgemm pass `beta = accumulate ? 1 : 0` and so skip a zero-fill and
    /// a read of the whole buffer.
    public func withGradBuffer<R>(
        accumulatingOrOverwriting body: (_ buffer: UnsafeMutableBufferPointer<Float>, _ accumulate: Bool) throws -> R
    ) rethrows -> R {
        let accumulate = grad != nil
        var buffer = grad ?? Tensor(shape: value.shape, unsafeUninitialized: { _ in })
        grad = nil  // keep `buffer` uniquely referenced: writing through it must not copy
        defer { grad = buffer }
        return try buffer.withUnsafeMutableBufferPointer { try body($0, accumulate) }
    }

    /// Drops the accumulated gradient.
    public func zeroGrad() { grad = nil }

    /// Back-propagates from this variable. `gradient` is ∂L/∂self; it defaults to 1 for a
    /// one-element output (a loss). Leaf gradients accumulate (`+=`) across calls.
    public func backward(_ gradient: Tensor? = nil) {
        let seed: Tensor
        if let gradient {
            enginePrecondition(gradient.shape == value.shape,
                               "backward: seed gradient of shape \(gradient.shape) for an output of shape \(value.shape)")
            seed = gradient
        } else {
            enginePrecondition(value.count == 1,
                               "backward(): an output of shape \(value.shape) needs an explicit seed gradient; only one-element outputs default to 1")
            seed = Tensor(repeating: 1, shape: value.shape)
        }
        guard requiresGrad else { return }
        accumulateGrad(seed)
        for node in topologicalOrder().reversed() {
            guard let backwardFunction = node.backwardFunction, let g = node.grad else { continue }
            if !node.retainsGrad { node.grad = nil }
            backwardFunction(g)
        }
    }

    /// Nodes that require a gradient, each after all of its inputs. Iterative, so deep graphs
    /// cannot overflow the stack.
    func topologicalOrder() -> [Variable] {
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        return order
    }
}

extension Variable: CustomStringConvertible {
    public var description: String {
        "Variable(\(op), shape: \(shape), requiresGrad: \(requiresGrad))"
    }
}

/// Whether ops record the graph. Task-local, so a `withNoGrad` block affects only its own task
/// and the calls inside it.
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording gradients (inference): ops return constants and save nothing
/// for backward.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}
