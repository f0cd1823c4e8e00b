import Foundation

/// A reader and writer for the safetensors format (the format of PyTorch checkpoints on the
/// Hugging Face hub, and of our goldens): an 8-byte little-endian header length, a JSON header
/// mapping each name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to
/// the end of the header) plus an optional `"__metadata__"` string map, then the raw
/// little-endian data.
public struct SafeTensorsFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public let dtype: String
        public let shape: [Int]
        public let byteRange: Range<Int>
    }

    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case unreadable(path: String, reason: String)
        case malformedHeader(path: String, reason: String)
        case missingTensor(path: String, name: String)
        case wrongType(path: String, name: String, dtype: String, expected: String)

        public var description: String {
            switch self {
            case let .unreadable(path, reason): return "\(path): cannot read safetensors file: \(reason)"
            case let .malformedHeader(path, reason): return "\(path): malformed safetensors header: \(reason)"
            case let .missingTensor(path, name): return "\(path): no tensor named '\(name)'"
            case let .wrongType(path, name, dtype, expected):
                return "\(path): tensor '\(name)' has dtype \(dtype), expected \(expected)"
            }
        }
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    public init(contentsOf path: String) throws(Error) {
        self.path = path
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        guard bytes.count >= 8 else { throw .malformedHeader(path: path, reason: "shorter than 8 bytes") }
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        guard headerLength > 0, 8 + headerLength <= bytes.count else {
            throw .malformedHeader(path: path, reason: "header length \(headerLength) exceeds file size \(bytes.count)")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + headerLength))) } catch {
            throw .malformedHeader(path: path, reason: "header is not JSON")
        }
        guard let header = json as? [String: Any] else { throw .malformedHeader(path: path, reason: "header is not a JSON object") }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let dataSize = bytes.count - 8 - headerLength
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = value as? [String: String] ?? [:]
                continue
            }
            guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
                  let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int],
                  offsets.count == 2, offsets[0] <= offsets[1], offsets[1] <= dataSize
            else { throw .malformedHeader(path: path, reason: "bad entry for '\(name)'") }
            entries[name] = Entry(dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
        self.data = bytes
        self.dataStart = 8 + headerLength
    }

    /// The float32 tensor `name`.
    public func tensor(_ name: String) throws(Error) -> Tensor {
        let entry = try self.entry(name, dtype: "F32", size: 4)
        var values = [Float](repeating: 0, count: entry.byteRange.count / 4)
        let start = dataStart + entry.byteRange.lowerBound
        values.withUnsafeMutableBytes { dst in
            _ = data.copyBytes(to: dst, from: start..<(start + entry.byteRange.count))
        }
        // The format is little-endian, as is every platform we build for.
        do { return try Tensor(validatingShape: entry.shape, scalars: values) } catch {
            throw .malformedHeader(path: path, reason: "'\(name)': \(error)")
        }
    }

    /// The int64 tensor `name`, flattened, with its shape.
    public func int64s(_ name: String) throws(Error) -> (shape: [Int], values: [Int64]) {
        let entry = try self.entry(name, dtype: "I64", size: 8)
        var values = [Int64](repeating: 0, count: entry.byteRange.count / 8)
        let start = dataStart + entry.byteRange.lowerBound
        values.withUnsafeMutableBytes { dst in
            _ = data.copyBytes(to: dst, from: start..<(start + entry.byteRange.count))
        }
        return (entry.shape, values)
    }

    private func entry(_ name: String, dtype: String, size: Int) throws(Error) -> Entry {
        guard let entry = entries[name] else { throw .missingTensor(path: path, name: name) }
        guard entry.dtype == dtype else { throw .wrongType(path: path, name: name, dtype: entry.dtype, expected: dtype) }
        guard entry.byteRange.count == shapeCount(entry.shape) * size else {
            throw .malformedHeader(path: path, reason: "'\(name)' has \(entry.byteRange.count) bytes for shape \(entry.shape)")
        }
        return entry
    }

    /// One tensor to write: float32 values, or int64 values with a shape (PyTorch's integer
    /// buffers, e.g. BatchNorm's `num_batches_tracked`).
    public enum Value: Sendable {
        case float32(Tensor)
        case int64(shape: [Int], values: [Int64])
    }

    /// Serialises float32 tensors (sorted by name) and string metadata to safetensors bytes.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        try encode(values: tensors.mapValues { .float32($0) }, metadata: metadata)
    }

    /// Serialises tensors of either dtype (sorted by name) and string metadata to safetensors
    /// bytes, with the header padded so the data starts 8-byte aligned.
    public static func encode(values: [String: Value], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let sorted = values.sorted { $0.key < $1.key }
        for (name, value) in sorted {
            let (dtype, shape, bytes): (String, [Int], Int)
            switch value {
            case let .float32(t): (dtype, shape, bytes) = ("F32", t.shape, 4 * t.count)
            case let .int64(s, v):
                precondition(v.count == shapeCount(s), "safetensors: int64 '\(name)' has \(v.count) values for shape \(s)")
                (dtype, shape, bytes) = ("I64", s, 8 * v.count)
            }
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces to a multiple of 8 so the data stays aligned.
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, value) in sorted {
            switch value {
            case let .float32(t): t.withUnsafeBufferPointer { out.append($0) }
            case let .int64(_, v): v.withUnsafeBufferPointer { out.append($0) }
            }
        }
        return out
    }
}
