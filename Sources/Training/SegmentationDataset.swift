import EventRepresentations
import HDF5

/// Which half of a paired dataset a network sees.
public enum Modality: String, CaseIterable, Sendable {
    /// `/images`: uint8 [N, H, W] or [N, 3, H, W], scaled to [0, 1].
    case images
    /// `/events`: float32 [N, C, H, W] event representation.
    case events
}

/// A split in the dataset layout of formats.md §3, read sample by sample (never loaded whole).
public final class SegmentationDataset {
    public let path: String
    public let modality: Modality
    public let count: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classNames: [String]
    /// Event voxel grids are E2VID-normalised per sample when true (the default).
    public let normalizeEvents: Bool
    let inputs: HDF5Dataset
    let labels: HDF5Dataset?
    let file: HDF5File

    public var hasLabels: Bool { labels != nil }

    public init(path: String, modality: Modality, requireLabels: Bool, normalizeEvents: Bool = true) throws {
        self.path = path
        self.modality = modality
        self.normalizeEvents = normalizeEvents
        let file = try HDF5File(path: path)
        self.file = file
        let name = "/" + modality.rawValue
        guard file.isDataset(name) else {
            let present = ["images", "events", "labels"].filter { file.isDataset("/" + $0) }
            throw FileError(file: path, dataset: name, problem: "dataset missing (the file holds \(present.isEmpty ? "none of images/events/labels" : present.joined(separator: ", ")))")
        }
        inputs = try file.openDataset(name)
        switch (modality, inputs.rank) {
        case (.images, 3):
            channels = 1
            (height, width) = (inputs.shape[1], inputs.shape[2])
        case (.images, 4), (.events, 4):
            channels = inputs.shape[1]
            (height, width) = (inputs.shape[2], inputs.shape[3])
        default:
            throw FileError(file: path, dataset: name, problem: "expected [N, H, W] or [N, C, H, W], found shape \(inputs.shape)")
        }
        guard inputs.elementType.isNumeric else {
            throw FileError(file: path, dataset: name, problem: "expected numbers, found dtype \(inputs.elementType)")
        }
        count = inputs.rowCount
        guard count > 0 else { throw FileError(file: path, dataset: name, problem: "holds no samples") }
        if file.isDataset("/labels") {
            let labels = try file.openDataset("/labels")
            guard labels.shape == [count, height, width], labels.elementType.isInteger else {
                throw FileError(file: path, dataset: "/labels", problem: "expected uint8 [\(count), \(height), \(width)], found \(labels.elementType) \(labels.shape)")
            }
            self.labels = labels
        } else if requireLabels {
            throw FileError(file: path, dataset: "/labels", problem: "dataset missing: training and scoring need labels")
        } else {
            labels = nil
        }
        classNames = try file.attributes().strings("classes") ?? []
    }

    /// Sample `index`: input `[C·H·W]` floats and labels `[H·W]` (nil without labels).
    public func sample(_ index: Int) throws -> (input: [Float], labels: [UInt8]?) {
        var input: [Float] = try inputs.readRows(index..<(index + 1))
        if modality == .images {
            for i in input.indices { input[i] /= 255 }  // libhdf5 converted uint8 → float
        } else if normalizeEvents {
            normalizeE2VID(&input)
        }
        if let bad = input.firstIndex(where: { !$0.isFinite }) {
            throw FileError(file: path, dataset: inputs.name, problem: "sample \(index) holds \(input[bad]) at element \(bad)")
        }
        let labels: [UInt8]? = try labels?.readRows(index..<(index + 1))
        return (input, labels)
    }

    public var timestamps: [Int64]? {
        guard file.isDataset("/timestamps") else { return nil }
        return try? file.openDataset("/timestamps").readAll()
    }
}
