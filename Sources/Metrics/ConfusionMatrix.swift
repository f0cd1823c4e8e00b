import ParallelLoops

/// Pixel confusion matrix for semantic segmentation (method.md §5): `counts[i][j]` = pixels of
/// label i predicted as j; pixels labelled `ignoreIndex` are counted apart. Int64 throughout:
/// whole test sets pass 2³¹ pixels.
public struct ConfusionMatrix: Sendable, Equatable {
    public let classes: Int
    /// Row-major `[classes × classes]`, row = label, column = prediction.
    public private(set) var counts: [Int64]
    public private(set) var ignoredPixels: Int64 = 0
    public static let ignoreIndex: UInt8 = 255

    public init(classes: Int) {
        precondition(classes > 0 && classes < 255, "1 to 254 classes")
        self.classes = classes
        counts = [Int64](repeating: 0, count: classes * classes)
    }

    public subscript(label: Int, prediction: Int) -> Int64 { counts[label * classes + prediction] }

    /// A value outside the classes (other than the ignore label), by its position in the run.
    public struct OutOfRange: Error, Equatable {
        public let index: Int
        public let value: UInt8
        public let inLabels: Bool
    }

    /// Adds one run of pixels (e.g. an image). On a bad value nothing is added.
    public mutating func add(labels: UnsafeBufferPointer<UInt8>, predictions: UnsafeBufferPointer<UInt8>) throws {
        precondition(labels.count == predictions.count, "labels and predictions differ in size")
        let k = classes
        let n = labels.count
        // Validate first (a cheap max over values), so a bad file never half-updates the matrix.
        var largestLabel: UInt8 = 0, largestPrediction: UInt8 = 0
        for i in 0..<n {
            let label = labels[i]
            largestLabel = max(largestLabel, label == Self.ignoreIndex ? 0 : label)
            largestPrediction = max(largestPrediction, predictions[i])
        }
        if Int(largestLabel) >= k, let i = (0..<n).first(where: { labels[$0] != Self.ignoreIndex && Int(labels[$0]) >= k }) {
            throw OutOfRange(index: i, value: labels[i], inLabels: true)
        }
        if Int(largestPrediction) >= k, let i = (0..<n).first(where: { Int(predictions[$0]) >= k }) {
            throw OutOfRange(index: i, value: predictions[i], inLabels: false)
        }
        // Per-core private matrices, summed: counting is the whole cost of scoring.
        let parts = parallelPartCount(n, minimumPart: 1 << 16)
        var partial = [Int64](repeating: 0, count: parts * (k * k + 1))
        partial.withUnsafeMutableBufferPointer { partial in
            parallelRanges(n, minimumPart: 1 << 16) { part, range in
                let matrix = partial.baseAddress! + part * (k * k + 1)
                var ignored: Int64 = 0
                for i in range {
                    let label = labels[i]
                    if label == Self.ignoreIndex { ignored += 1; continue }
                    matrix[Int(label) * k + Int(predictions[i])] += 1
                }
                matrix[k * k] = ignored
            }
        }
        for part in 0..<parts {
            let base = part * (k * k + 1)
            for c in 0..<(k * k) { counts[c] += partial[base + c] }
            ignoredPixels += partial[base + k * k]
        }
    }

    public mutating func add(labels: [UInt8], predictions: [UInt8]) throws {
        try labels.withUnsafeBufferPointer { l in try predictions.withUnsafeBufferPointer { p in try add(labels: l, predictions: p) } }
    }

    public static func + (lhs: ConfusionMatrix, rhs: ConfusionMatrix) -> ConfusionMatrix {
        precondition(lhs.classes == rhs.classes, "matrices of different class counts")
        var sum = lhs
        for c in sum.counts.indices { sum.counts[c] += rhs.counts[c] }
        sum.ignoredPixels += rhs.ignoredPixels
        return sum
    }

    // MARK: Scores (fractions in [0, 1])

    public var total: Int64 { counts.reduce(0, +) }
    func rowSum(_ c: Int) -> Int64 { (0..<classes).reduce(0) { $0 + self[c, $1] } }
    func columnSum(_ c: Int) -> Int64 { (0..<classes).reduce(0) { $0 + self[$1, c] } }

    /// IoU_c = M_cc / (Σ_j M_cj + Σ_i M_ic − M_cc); nil when the class is in neither labels nor predictions.
    public var intersectionOverUnion: [Double?] {
        (0..<classes).map { c in
            let union = rowSum(c) + columnSum(c) - self[c, c]
            return union > 0 ? Double(self[c, c]) / Double(union) : nil
        }
    }

    /// Mean IoU over classes whose union is non-empty (nil if none is).
    public var meanIntersectionOverUnion: Double? {
        let present = intersectionOverUnion.compactMap { $0 }
        return present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
    }

    public var pixelAccuracy: Double? {
        let total = total
        return total > 0 ? Double((0..<classes).reduce(0) { $0 + self[$1, $1] }) / Double(total) : nil
    }

    /// Recall per class, averaged over classes present in the labels.
    public var meanClassAccuracy: Double? {
        let accuracies = (0..<classes).compactMap { c -> Double? in
            let row = rowSum(c)
            return row > 0 ? Double(self[c, c]) / Double(row) : nil
        }
        return accuracies.isEmpty ? nil : accuracies.reduce(0, +) / Double(accuracies.count)
    }
}
