import Foundation

/// A scored confusion matrix as people read it: Markdown table and the JSON of formats.md §4.
public struct SegmentationReport: Sendable {
    public let matrix: ConfusionMatrix
    public let classNames: [String]
    public let images: Int

    public init(matrix: ConfusionMatrix, classNames: [String], images: Int) {
        precondition(classNames.count == matrix.classes, "one name per class")
        self.matrix = matrix
        self.classNames = classNames
        self.images = images
    }

    /// `{"miou", "pixel_accuracy", "mean_class_accuracy", "per_class_iou", "confusion_matrix",
    /// "num_images", "ignored_pixels"}`; fractions in [0, 1]; absent classes are null.
    public var json: String {
        func number(_ value: Double?) -> String { value.map { String(format: "%.10g", $0) } ?? "null" }
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        let perClass = zip(classNames, matrix.intersectionOverUnion).map { "\(quoted($0)): \(number($1))" }.joined(separator: ", ")
        let rows = (0..<matrix.classes).map { i in
            "[" + (0..<matrix.classes).map { String(matrix[i, $0]) }.joined(separator: ", ") + "]"
        }.joined(separator: ", ")
        return "{\"miou\": \(number(matrix.meanIntersectionOverUnion)), \"pixel_accuracy\": \(number(matrix.pixelAccuracy)), "
            + "\"mean_class_accuracy\": \(number(matrix.meanClassAccuracy)), \"per_class_iou\": {\(perClass)}, "
            + "\"confusion_matrix\": [\(rows)], \"num_images\": \(images), \"ignored_pixels\": \(matrix.ignoredPixels)}"
    }

    /// A Markdown table of per-class IoU (percent) followed by the summary scores.
    public var markdown: String {
        func percent(_ value: Double?) -> String { value.map { String(format: "%.2f", 100 * $0) } ?? "n/a" }
        var lines = ["| class | IoU % |", "| --- | ---: |"]
        for (name, iou) in zip(classNames, matrix.intersectionOverUnion) { lines.append("| \(name) | \(percent(iou)) |") }
        lines.append("| **mIoU** | **\(percent(matrix.meanIntersectionOverUnion))** |")
        lines.append("")
        lines.append("pixel accuracy \(percent(matrix.pixelAccuracy)) %, mean class accuracy \(percent(matrix.meanClassAccuracy)) %, "
            + "\(images) images, \(matrix.total) scored pixels, \(matrix.ignoredPixels) ignored (label 255)")
        return lines.joined(separator: "\n")
    }
}
