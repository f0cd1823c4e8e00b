/// A failure reading or writing a data file, phrased for the person who gave us the file.
///
/// Every message names the file, the dataset (when one is involved) and the problem, on one line:
/// `recording.h5: /events/t: decreasing timestamp at index 321 (t = 120 µs after 130 µs)`.
public struct FileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var dataset: String?
    public var problem: String

    public init(file: String, dataset: String? = nil, problem: String) {
        self.file = file
        self.dataset = dataset
        self.problem = problem
    }

    public var description: String {
        if let dataset { return "\(file): \(dataset): \(problem)" }
        return "\(file): \(problem)"
    }
}
