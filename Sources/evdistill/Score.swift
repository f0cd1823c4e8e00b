import ArgumentParser
import AtomicFiles
import Foundation
import HDF5
import Imaging
import Metrics

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score segmentation predictions against labels: mIoU, per-class IoU, pixel and mean class accuracy.",
        discussion: """
        PRED.h5 holds /predictions uint8 [N, H, W]; LABELS.h5 holds /labels uint8 [N, H, W] (255 = ignore). \
        One confusion matrix over the whole set (method.md §5): IoU_c = M_cc / (row_c + column_c − M_cc); \
        mIoU averages the classes present in labels or predictions. Class names come from the `classes` \
        attribute of the labels file (else of the predictions file, else --classes). Markdown on stdout; \
        --json writes the formats.md §4 report (fractions in [0, 1]).
        """
    )

    @Option(help: "Predictions file (from `evdistill predict`).")
    var predictions: String

    @Option(help: "Dataset file with /labels.")
    var labels: String

    @Option(help: "Write the JSON report here.")
    var json: String?

    @Option(help: "Write the Markdown report here too.")
    var markdown: String?

    @Option(help: "Draw the row-normalised confusion matrix as a PNG.")
    var confusionPng: String?

    @Option(help: "Number of classes when neither file has a `classes` attribute.")
    var classes: Int?

    func run() throws {
        let report = try scoreFiles(predictions: predictions, labels: labels, classCount: classes)
        print(report.markdown)
        if let json { try writeText(report.json + "\n", to: json) }
        if let markdown { try writeText(report.markdown + "\n", to: markdown) }
        if let confusionPng { try PNGFile.write(confusionImage(report.matrix), to: confusionPng) }
    }
}

/// Streams both files image by image into one confusion matrix.
func scoreFiles(predictions: String, labels: String, classCount: Int?) throws -> SegmentationReport {
    let predictionFile = try HDF5File(path: predictions), labelFile = try HDF5File(path: labels)
    let predicted = try predictionFile.openDataset("/predictions"), truth = try labelFile.openDataset("/labels")
    for dataset in [predicted, truth] {
        guard dataset.rank == 3 else {
            throw FileError(file: dataset.file.path, dataset: dataset.name, problem: "expected [N, H, W], found shape \(dataset.shape)")
        }
        guard dataset.elementType.isInteger else {
            throw FileError(file: dataset.file.path, dataset: dataset.name, problem: "expected uint8 class ids, found dtype \(dataset.elementType)")
        }
    }
    guard predicted.shape == truth.shape else {
        throw FileError(file: predictions, dataset: "/predictions",
                        problem: "shape \(predicted.shape) does not match \(labels) /labels \(truth.shape) (N, H, W must agree)")
    }
    let names = try labelFile.attributes().strings("classes") ?? predictionFile.attributes().strings("classes")
        ?? classCount.map { count in (0..<count).map { "class \($0)" } }
    guard let names, !names.isEmpty, names.count < 255 else {
        throw FileError(file: labels, problem: "no `classes` attribute in either file: pass --classes N")
    }
    var matrix = ConfusionMatrix(classes: names.count)
    let width = truth.shape[2]
    for image in 0..<truth.rowCount {
        let l: [UInt8] = try truth.readRows(image..<(image + 1)), p: [UInt8] = try predicted.readRows(image..<(image + 1))
        do {
            try matrix.add(labels: l, predictions: p)
        } catch let bad as ConfusionMatrix.OutOfRange {
            let (file, dataset) = bad.inLabels ? (labels, "/labels") : (predictions, "/predictions")
            throw FileError(file: file, dataset: dataset, problem: "image \(image), row \(bad.index / width), column \(bad.index % width): "
                + "value \(bad.value) is not a class (0..<\(names.count)\(bad.inLabels ? " or 255" : ""))")
        }
    }
    return SegmentationReport(matrix: matrix, classNames: names, images: truth.rowCount)
}

/// Row-normalised confusion matrix: white (0) to dark blue (1), 32 px cells, rows = labels.
func confusionImage(_ matrix: ConfusionMatrix, cell: Int = 32) -> RGBImage {
    let k = matrix.classes
    var image = RGBImage(width: k * cell + 1, height: k * cell + 1, fill: (128, 128, 128))
    for i in 0..<k {
        let row = (0..<k).reduce(Int64(0)) { $0 + matrix[i, $1] }
        for j in 0..<k {
            let share = row > 0 ? Double(matrix[i, j]) / Double(row) : 0
            let shade = (UInt8((255 * (1 - share)).rounded()), UInt8((255 * (1 - 0.7 * share)).rounded()), UInt8(255))
            for y in (i * cell + 1)..<((i + 1) * cell) { for x in (j * cell + 1)..<((j + 1) * cell) { image[x, y] = shade } }
        }
    }
    return image
}

/// Writes text atomically (temporary file + rename).
func writeText(_ text: String, to path: String) throws {
    let output: AtomicOutput
    do { output = try AtomicOutput(path: path) } catch let error as AtomicOutputError {
        throw FileError(file: path, problem: error.problem)
    }
    do { try text.write(toFile: output.temporaryPath, atomically: false, encoding: .utf8) } catch {
        throw FileError(file: path, problem: "cannot write: \(error.localizedDescription)")
    }
    do { try output.commit() } catch let error as AtomicOutputError { throw FileError(file: path, problem: error.problem) }
}
