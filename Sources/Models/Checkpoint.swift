import Foundation
import NN

/// What went wrong reading or writing a model checkpoint. Each case names the file and, where
/// it applies, the tensor.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case missingArchitecture(path: String)
    case invalidArchitecture(path: String, reason: String)
    case wrongModel(path: String, expected: String, found: String)
    case missingTensors(path: String, names: [String])
    case unexpectedTensors(path: String, names: [String])
    case wrongShape(path: String, name: String, expected: [Int], found: [Int])
    case wrongDType(path: String, name: String, expected: String, found: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read checkpoint: \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write checkpoint: \(reason)"
        case let .missingArchitecture(path):
            return "\(path): no architecture in the safetensors metadata (key '\(Checkpoint.architectureKey)'); not an evdistill checkpoint?"
        case let .invalidArchitecture(path, reason): return "\(path): invalid architecture metadata: \(reason)"
        case let .wrongModel(path, expected, found): return "\(path): checkpoint holds a '\(found)' model, expected '\(expected)'"
        case let .missingTensors(path, names):
            return "\(path): checkpoint lacks \(names.count) tensor(s) the model needs: \(names.joined(separator: ", "))"
        case let .unexpectedTensors(path, names):
            return "\(path): checkpoint has \(names.count) tensor(s) the model does not know: \(names.joined(separator: ", "))"
        case let .wrongShape(path, name, expected, found):
            return "\(path): tensor '\(name)' has shape \(found), the model expects \(expected)"
        case let .wrongDType(path, name, expected, found):
            return "\(path): tensor '\(name)' has dtype \(found), the model expects \(expected)"
        }
    }
}

/// Model checkpoints as safetensors files (formats.md §4): every parameter and buffer under its
/// PyTorch state-dict name (float32; integer buffers such as `num_batches_tracked` as int64),
/// and the architecture as JSON in the metadata, so `safetensors.torch.load_file` followed by
/// `load_state_dict` loads the file into the reference PyTorch model
/// (`Tools/engine/check_export.py` checks exactly that).
public enum Checkpoint {
    /// Metadata key of the architecture JSON.
    public static let architectureKey = "architecture"

    /// Writes `model`'s state and `architecture` to `path`, through a temporary file in the same
    /// folder renamed into place (no partial file on failure).
    public static func save(_ model: some Module, architecture: Architecture, to path: String) throws(CheckpointError) {
        var values: [String: SafeTensorsFile.Value] = [:]
        for (name, parameter) in model.namedParameters() { values[name] = .float32(parameter.value) }
        for (name, buffer) in model.namedBuffers() {
            values[name] = buffer.isInteger
                ? .int64(shape: buffer.value.shape, values: buffer.value.scalars.map { Int64($0.rounded()) })
                : .float32(buffer.value)
        }
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = String(decoding: try encoder.encode(architecture), as: UTF8.self)
            let data = try SafeTensorsFile.encode(values: values, metadata: [architectureKey: json, "format": "pt"])
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .unwritable(path: path, reason: "\(error.localizedDescription)")
        }
    }

    /// The architecture recorded in the checkpoint at `path`.
    public static func architecture(at path: String) throws(CheckpointError) -> Architecture {
        try architecture(of: open(path))
    }

    /// Copies the tensors of the checkpoint at `path` into `model`, after checking that the file
    /// holds exactly the model's state-dict names with the same shapes and dtypes (float32;
    /// int64 for integer buffers). Nothing in `model` changes when an error is thrown.
    public static func load(_ path: String, into model: some Module) throws(CheckpointError) {
        try load(open(path), into: model)
    }

    static func open(_ path: String) throws(CheckpointError) -> SafeTensorsFile {
        do { return try SafeTensorsFile(contentsOf: path) } catch { throw .unreadable(path: path, reason: error.description) }
    }

    static func architecture(of file: SafeTensorsFile) throws(CheckpointError) -> Architecture {
        guard let json = file.metadata[architectureKey] else { throw .missingArchitecture(path: file.path) }
        let architecture: Architecture
        do { architecture = try JSONDecoder().decode(Architecture.self, from: Data(json.utf8)) } catch {
            throw .invalidArchitecture(path: file.path, reason: "\(error)")
        }
        if let problem = architecture.problem { throw .invalidArchitecture(path: file.path, reason: problem) }
        return architecture
    }

    static func load(_ file: SafeTensorsFile, into model: some Module) throws(CheckpointError) {
        let path = file.path
        var expected: [(name: String, shape: [Int], dtype: String)] = []
        for (name, parameter) in model.namedParameters() { expected.append((name, parameter.value.shape, "F32")) }
        for (name, buffer) in model.namedBuffers() { expected.append((name, buffer.value.shape, buffer.isInteger ? "I64" : "F32")) }
        let known = Set(expected.map(\.name))
        let missing = expected.map(\.name).filter { file.entries[$0] == nil }
        guard missing.isEmpty else { throw .missingTensors(path: path, names: missing) }
        let unexpected = file.entries.keys.filter { !known.contains($0) }.sorted()
        guard unexpected.isEmpty else { throw .unexpectedTensors(path: path, names: unexpected) }
        for (name, shape, dtype) in expected {
            guard let entry = file.entries[name] else { continue }
            guard entry.dtype == dtype else { throw .wrongDType(path: path, name: name, expected: dtype, found: entry.dtype) }
            guard entry.shape == shape else { throw .wrongShape(path: path, name: name, expected: shape, found: entry.shape) }
        }
        var state: [String: Tensor] = [:]
        do {
            for (name, shape, dtype) in expected {
                state[name] = dtype == "I64"
                    ? Tensor(shape: shape, scalars: try file.int64s(name).values.map { Float($0) })
                    : try file.tensor(name)
            }
        } catch {
            throw .unreadable(path: path, reason: error.description)
        }
        do { try model.loadStateDict(state) } catch {
            throw .unreadable(path: path, reason: error.description)  // unreachable: names and shapes were checked above
        }
    }
}

/// A network built from an `Architecture`: what `Checkpoint` needs to rebuild it from a file.
public protocol CheckpointableModel: Module {
    /// The `model` name in the architecture JSON.
    static var modelName: String { get }
    var architecture: Architecture { get }
    /// A freshly initialised network of `architecture`.
    init(_ architecture: Architecture, using generator: inout SeededGenerator)
}

extension CheckpointableModel {
    /// Writes this network to `path` (see `Checkpoint`).
    public func save(to path: String) throws(CheckpointError) {
        try Checkpoint.save(self, architecture: architecture, to: path)
    }

    /// The network stored at `path`: built from its architecture metadata, then loaded.
    public init(checkpoint path: String) throws(CheckpointError) {
        let file = try Checkpoint.open(path)
        let architecture = try Checkpoint.architecture(of: file)
        guard architecture.model == Self.modelName else {
            throw .wrongModel(path: path, expected: Self.modelName, found: architecture.model)
        }
        var generator = SeededGenerator(seed: 0)  // the weights are overwritten by the checkpoint
        self.init(architecture, using: &generator)
        try Checkpoint.load(file, into: self)
    }
}

extension UNet: CheckpointableModel {}
extension Classifier: CheckpointableModel {}
