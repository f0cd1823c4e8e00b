import ArgumentParser
import AtomicFiles
import Autograd
import ConsoleProgress
import EventRepresentations
import Foundation
import HDF5
import Imaging
import Models
import Training

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment a dataset with a trained model; write /predictions (and pictures).",
        discussion: """
        Output (formats.md §4): /predictions uint8 [N, H, W] in the input's order, /timestamps when the input \
        has them; attributes classes, checkpoint. --png DIR writes one picture per sample (up to --png-count): \
        the input (grey frame or event rendering), the prediction in class colours, and the labels when present.
        """
    )

    @Option(help: "Model checkpoint (model.safetensors of a run).")
    var checkpoint: String

    @Option(help: "Dataset (.h5, formats.md §3).")
    var data: String

    @Option(name: .shortAndLong, help: "Predictions file (.h5).")
    var output: String

    @Option(help: "images or events (default: the run's, from run.json beside the checkpoint).")
    var modality: Modality?

    @Option(help: "Folder for PNG pictures of the predictions.")
    var png: String?

    @Option(help: "How many samples get a PNG.")
    var pngCount: Int = 8

    @Option(help: "Samples per forward pass.")
    var batchSize: Int = 8

    @Flag(help: "The checkpoint is a BMR network (RUN/e2i.safetensors or RUN/i2e.safetensors): write its reconstructions (/reconstructions float32 [N, C, H, W]) and, with --png, pictures of them.")
    var reconstruction = false

    @Flag(help: "No progress output.")
    var quiet = false

    func run() throws {
        let model = try UNet(checkpoint: checkpoint)
        if reconstruction { return try reconstruct(model) }
        let run = URL(fileURLWithPath: checkpoint).deletingLastPathComponent().appendingPathComponent("run.json").path
        let contents = FileManager.default.contents(atPath: run)
        let saved = contents.flatMap { try? JSONDecoder().decode(TrainingConfig.self, from: $0) }
        // A distillation run's student sees events.
        let distilled = contents.flatMap { try? JSONDecoder().decode(DistillationConfig.self, from: $0) } != nil
        guard let modality = modality ?? saved.flatMap({ Modality(rawValue: $0.modality) }) ?? (distilled ? .events : nil) else {
            throw ValidationError("no run.json beside \(checkpoint): pass --modality images|events")
        }
        let dataset = try SegmentationDataset(path: data, modality: modality, requireLabels: false)
        guard dataset.channels == model.architecture.inputChannels else {
            throw FileError(file: data, dataset: "/" + modality.rawValue,
                            problem: "has \(dataset.channels) channels; the model in \(checkpoint) takes \(model.architecture.inputChannels)")
        }
        let classes = dataset.classNames.isEmpty ? (saved?.classes ?? []) : dataset.classNames
        let writer = try PredictionWriter(path: output, count: dataset.count, height: dataset.height, width: dataset.width,
                                          classes: classes, checkpoint: checkpoint, timestamps: dataset.timestamps)
        if let png { try FileManager.default.createDirectory(atPath: png, withIntermediateDirectories: true) }
        let bar = ProgressBar(label: "predict", total: dataset.count, unit: "samples", quiet: quiet)
        try SegmentationTrainer.predictions(model, on: dataset, batchSize: batchSize) { index, prediction in
            try writer.write(prediction, at: index)
            if let png, index < pngCount {
                try PNGFile.write(try picture(dataset, index: index, prediction: prediction), to: png + String(format: "/prediction_%04d.png", index))
            }
            bar.advance()
        }
        try writer.finish()
        bar.finish()
    }

    /// E2I (events → frame, sigmoid) or I2E (frame → events), chosen by the network's channels.
    func reconstruct(_ model: UNet) throws {
        let fromEvents = model.architecture.outputChannels == 1
        let dataset = try SegmentationDataset(path: data, modality: fromEvents ? .events : .images, requireLabels: false)
        guard dataset.channels == model.architecture.inputChannels else {
            throw FileError(file: data, dataset: fromEvents ? "/events" : "/images",
                            problem: "has \(dataset.channels) channels; \(checkpoint) takes \(model.architecture.inputChannels)")
        }
        let output = try AtomicOutput(path: self.output)
        // The HDF5 handles live in this scope only, so the file is closed before the rename.
        try writeReconstructions(model, dataset: dataset, fromEvents: fromEvents, to: output.temporaryPath)
        try output.commit()
    }

    func writeReconstructions(_ model: UNet, dataset: SegmentationDataset, fromEvents: Bool, to path: String) throws {
        let (c, h, w) = (model.architecture.outputChannels, dataset.height, dataset.width)
        let file = try HDF5File(creating: path)
        let reconstructions = try file.createDataset("/reconstructions", of: Float.self, shape: [dataset.count, c, h, w],
                                                     chunk: [1, c, h, w], gzipLevel: 4)
        try file.attributes().set("checkpoint", checkpoint)
        try file.attributes().set("direction", fromEvents ? "events_to_image" : "image_to_events")
        if let png { try FileManager.default.createDirectory(atPath: png, withIntermediateDirectories: true) }
        model.eval()
        let loader = BatchLoader(dataset: dataset, options: BatchOptions(batchSize: batchSize, shuffle: false))
        let bar = ProgressBar(label: "reconstruct", total: dataset.count, unit: "samples", quiet: quiet)
        for index in 0..<loader.batchesPerEpoch {
            let batch = try loader.batch(index, epoch: 0)
            var values = withNoGrad { model(Variable(batch.input)).logits.value }
            if fromEvents { values = values.map { 1 / (1 + Foundation.exp(-$0)) } }
            for (slot, sample) in batch.indices.enumerated() {
                var cropped = [Float](repeating: 0, count: c * h * w)
                for ch in 0..<c { for y in 0..<h { for x in 0..<w { cropped[(ch * h + y) * w + x] = values[slot, ch, y, x] } } }
                try cropped.withUnsafeBufferPointer { try reconstructions.writeRows(from: $0, at: sample) }
                if let png, sample < pngCount {
                    let input = try dataset.sample(sample).input
                    let panels = [picture(input, channels: dataset.channels, height: h, width: w, grey: !fromEvents),
                                  picture(cropped, channels: c, height: h, width: w, grey: fromEvents)]
                    try PNGFile.write(RGBImage.row(panels).upscaled(by: 2), to: png + String(format: "/reconstruction_%04d.png", sample))
                }
                bar.advance()
            }
        }
        try file.flush()
        bar.finish()
    }

    /// A frame in grey, or events summed over bins on the diverging map.
    func picture(_ values: [Float], channels: Int, height h: Int, width w: Int, grey: Bool) -> RGBImage {
        if grey {
            return SegmentationColors.grey(values.prefix(h * w).map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }, width: w, height: h)
        }
        var sum = [Float](repeating: 0, count: h * w)
        for ch in 0..<channels { for i in 0..<(h * w) { sum[i] += values[ch * h * w + i] } }
        return ColorMaps.divergingImage(sum[...], height: h, width: w, scale: ColorMaps.robustScale(sum))
    }

    /// Input | prediction | labels (when present), each at twice the size.
    func picture(_ dataset: SegmentationDataset, index: Int, prediction: [UInt8]) throws -> RGBImage {
        let (h, w) = (dataset.height, dataset.width)
        let sample = try dataset.sample(index)
        let input: RGBImage
        if dataset.modality == .images {
            let grey = (0..<(h * w)).map { UInt8(max(0, min(255, (sample.input[$0] * 255).rounded()))) }
            input = SegmentationColors.grey(grey, width: w, height: h)
        } else {
            var sum = [Float](repeating: 0, count: h * w)
            for c in 0..<dataset.channels { for i in 0..<(h * w) { sum[i] += sample.input[c * h * w + i] } }
            input = ColorMaps.divergingImage(sum[...], height: h, width: w, scale: ColorMaps.robustScale(sum))
        }
        var panels = [input, SegmentationColors.overlay(labels: prediction, on: input, alpha: 0.6)]
        if let labels = sample.labels { panels.append(SegmentationColors.image(labels: labels, width: w, height: h)) }
        return RGBImage.row(panels).upscaled(by: 2)
    }
}

/// Writes `/predictions` uint8 [N, H, W] sample by sample, atomically.
final class PredictionWriter {
    let output: AtomicOutput
    let path: String
    var file: HDF5File?
    var dataset: HDF5Dataset?

    init(path: String, count: Int, height: Int, width: Int, classes: [String], checkpoint: String, timestamps: [Int64]?) throws {
        self.path = path
        do { output = try AtomicOutput(path: path) } catch let error as AtomicOutputError {
            throw FileError(file: path, problem: error.problem)
        }
        let file = try HDF5File(creating: output.temporaryPath)
        self.file = file
        dataset = try file.createDataset("/predictions", of: UInt8.self, shape: [count, height, width], chunk: [1, height, width], gzipLevel: 4)
        if let timestamps { try file.write(timestamps, to: "/timestamps") }
        let root = try file.attributes()
        try root.set("classes", strings: classes)
        try root.set("checkpoint", checkpoint)
    }

    func write(_ prediction: [UInt8], at index: Int) throws {
        try prediction.withUnsafeBufferPointer { try dataset?.writeRows(from: $0, at: index) }
    }

    func finish() throws {
        try file?.flush()
        dataset = nil
        file = nil
        do { try output.commit() } catch let error as AtomicOutputError { throw FileError(file: path, problem: error.problem) }
    }
}
