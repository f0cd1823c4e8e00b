@_exported import Autograd

/// A mutable tensor a module owns that is not trained by gradients (BatchNorm's running
/// statistics). A class, so state-dict loading and the layer see the same storage.
public final class Buffer {
    public var value: Tensor
    /// Whether PyTorch keeps this buffer as an integer tensor (int64, e.g. BatchNorm's
    /// `num_batches_tracked`); the value here is a whole number held as Float, and checkpoint
    /// writers store it as int64.
    public let isInteger: Bool
    public init(_ value: Tensor, isInteger: Bool = false) {
        self.value = value
        self.isInteger = isInteger
    }
}

/// What went wrong loading a state dict.
public enum StateDictError: Error, Equatable, CustomStringConvertible {
    case missingKeys([String])
    case unexpectedKeys([String])
    case shapeMismatch(key: String, expected: [Int], got: [Int])

    public var description: String {
        switch self {
        case let .missingKeys(keys): return "state dict is missing \(keys.count) key(s): \(keys.joined(separator: ", "))"
        case let .unexpectedKeys(keys): return "state dict has \(keys.count) unexpected key(s): \(keys.joined(separator: ", "))"
        case let .shapeMismatch(key, expected, got): return "state dict entry '\(key)' has shape \(got), the model expects \(expected)"
        }
    }
}

/// A layer or a network of layers, with PyTorch-style named state.
///
/// A conforming class lists its own trainable parameters (leaf `Variable`s with
/// `requiresGrad`), its own buffers, and its child modules, each under the attribute name the
/// PyTorch reference uses; the extension derives dotted state-dict names
/// (`enc0.conv1.weight`, `enc0.bn1.running_mean`, …) in PyTorch's order: a module's own
/// parameters, then its own buffers, then each child's entries in registration order.
public protocol Module: AnyObject {
    /// Own trainable parameters, e.g. `[("weight", w), ("bias", b)]`.
    var ownParameters: [(name: String, parameter: Variable)] { get }
    /// Own non-trainable state, e.g. BatchNorm's `running_mean`.
    var ownBuffers: [(name: String, buffer: Buffer)] { get }
    /// Direct sub-modules in registration order.
    var children: [(name: String, module: any Module)] { get }
    /// Training mode (BatchNorm uses batch statistics and updates its running ones) versus
    /// evaluation mode. Set it for a whole network with `train()` / `eval()`.
    var isTraining: Bool { get set }
}

extension Module {
    public var ownBuffers: [(name: String, buffer: Buffer)] { [] }
    public var children: [(name: String, module: any Module)] { [] }

    /// All parameters of this module and its descendants with dotted names.
    public func namedParameters(prefix: String = "") -> [(name: String, parameter: Variable)] {
        ownParameters.map { (prefix + $0.name, $0.parameter) }
            + children.flatMap { $0.module.namedParameters(prefix: prefix + $0.name + ".") }
    }

    /// All parameters, for an optimizer.
    public func parameters() -> [Variable] { namedParameters().map(\.parameter) }

    /// All buffers of this module and its descendants with dotted names.
    public func namedBuffers(prefix: String = "") -> [(name: String, buffer: Buffer)] {
        ownBuffers.map { (prefix + $0.name, $0.buffer) }
            + children.flatMap { $0.module.namedBuffers(prefix: prefix + $0.name + ".") }
    }

    /// Parameters and buffers by dotted name in PyTorch's `state_dict()` order.
    public func stateDict(prefix: String = "") -> [(name: String, value: Tensor)] {
        ownParameters.map { (prefix + $0.name, $0.parameter.value) }
            + ownBuffers.map { (prefix + $0.name, $0.buffer.value) }
            + children.flatMap { $0.module.stateDict(prefix: prefix + $0.name + ".") }
    }

    /// Copies values from `state` into parameters and buffers. With `strict`, every key must
    /// match (as PyTorch's `load_state_dict`). Nothing is changed when an error is thrown.
    public func loadStateDict(_ state: [String: Tensor], strict: Bool = true) throws(StateDictError) {
        let parameters = namedParameters(), buffers = namedBuffers()
        let known = Set(parameters.map(\.name) + buffers.map(\.name))
        if strict {
            let missing = known.subtracting(state.keys).sorted()
            guard missing.isEmpty else { throw .missingKeys(missing) }
            let unexpected = Set(state.keys).subtracting(known).sorted()
            guard unexpected.isEmpty else { throw .unexpectedKeys(unexpected) }
        }
        for (name, current) in parameters.map({ ($0.name, $0.parameter.value.shape) }) + buffers.map({ ($0.name, $0.buffer.value.shape) }) {
            if let value = state[name], value.shape != current {
                throw .shapeMismatch(key: name, expected: current, got: value.shape)
            }
        }
        for (name, parameter) in parameters { if let value = state[name] { parameter.value = value } }
        for (name, buffer) in buffers { if let value = state[name] { buffer.value = value } }
    }

    /// Sets training mode on this module and all descendants.
    public func train(_ mode: Bool = true) {
        isTraining = mode
        for child in children { child.module.train(mode) }
    }

    /// Sets evaluation mode on this module and all descendants.
    public func eval() { train(false) }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters() { p.zeroGrad() } }

    /// Number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.value.count } }
}
