import ArgumentParser
import ConsoleProgress
import Foundation
import Models
import Training

extension Modality: ExpressibleByArgument {}

/// "16,32,64,128" → [16, 32, 64, 128].
func parseList<T: LosslessStringConvertible>(_ text: String, _ what: String) throws -> [T] {
    let values = text.split(separator: ",").map { T(String($0).trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw ValidationError("\(what): expected a comma-separated list, got '\(text)'") }
    return values.map { $0! }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a segmentation U-Net on images (the teacher) or events (a student from scratch).",
        discussion: """
        Cross-entropy (label 255 ignored, optional --class-weights), Adam, poly learning-rate decay \
        (power 0.9), validation mIoU after every epoch. RUN/ receives model.safetensors (best validation \
        mIoU), last.safetensors, optimizer.safetensors, state.json, run.json and metrics.jsonl (one JSON \
        line per epoch), each written to a temporary file and renamed into place. --resume continues an \
        interrupted run from its last finished epoch and gives the same losses as an uninterrupted run.

        Inputs: formats.md §3 files. Images are scaled to [0, 1]; event voxel grids are E2VID-normalised per \
        sample. Frames whose height or width is not a multiple of 8 are padded at the bottom/right (labels 255 \
        there), never cropped; --crop HxW trains on random crops instead.
        """
    )

    @Option(help: "images (teacher) or events (student).")
    var modality: Modality

    @Option(help: "Training split (.h5).")
    var train: String

    @Option(help: "Validation split (.h5).")
    var val: String

    @Option(help: "Model (only unet).")
    var model: String = "unet"

    @Option(help: "Weight decay (L2, Adam).")
    var weightDecay: Float = 0

    @Option(help: "Per-class loss weights, comma-separated (one per class).")
    var classWeights: String?

    @Option(help: "Random crop HxW (multiples of 8), e.g. 48x96.")
    var crop: String?

    @Flag(help: "No horizontal flips.")
    var noFlip = false

    @OptionGroup var common: RunOptions

    func validate() throws {
        guard model == "unet" else { throw ValidationError("--model: only 'unet' is available") }
        if let crop {
            let parts = crop.lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ $0 > 0 && $0 % 8 == 0 }) else { throw ValidationError("--crop must be HxW with multiples of 8") }
        }
    }

    func run() throws {
        var config = TrainingConfig(modality: modality, train: train, val: val, epochs: common.epochs, batchSize: common.batchSize,
                                    learningRate: common.lr, seed: common.seed)
        config.weightDecay = weightDecay
        config.widths = try parseList(common.widths, "--widths")
        config.classWeights = try classWeights.map { try parseList($0, "--class-weights") }
        if let crop {
            let parts = crop.lowercased().split(separator: "x").compactMap { Int($0) }
            (config.cropHeight, config.cropWidth) = (parts[0], parts[1])
        }
        config.flip = !noFlip
        let trainer = try SegmentationTrainer(config: config, folder: common.out, resume: common.resume)
        let remaining = trainer.config.epochs - trainer.state.epochsDone
        let bar = ProgressBar(label: "train \(modality.rawValue)", total: remaining * trainer.train.count, unit: "samples", quiet: common.quiet)
        var recent: [Float] = []
        try trainer.run(onStep: { samples, loss in
            recent.append(loss)
            if recent.count > 20 { recent.removeFirst() }
            bar.advance(by: samples, note: String(format: "loss %.4f", recent.reduce(0, +) / Float(recent.count)))
        }, onEpoch: { metrics in
            if !common.quiet {
                let miou = metrics.valMIoU.map { String(format: "%.2f %%", 100 * $0) } ?? "n/a"
                FileHandle.standardError.write(Data(String(format: "\nepoch %d/%d: train loss %.4f, val mIoU %@, %.1f s (%.1f samples/s)\n",
                                                           metrics.epoch, trainer.config.epochs, metrics.trainLoss, miou,
                                                           metrics.seconds, metrics.samplesPerSecond).utf8))
            }
        })
        bar.finish()
        if !common.quiet {
            let best = trainer.state.bestMIoU.map { String(format: "%.2f %%", 100 * $0) } ?? "n/a"
            FileHandle.standardError.write(Data("\(common.out)/model.safetensors: best val mIoU \(best) (epoch \(trainer.state.bestEpoch ?? 0))\n".utf8))
        }
    }
}
