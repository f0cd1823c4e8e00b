import AtomicFiles
import Autograd
import Foundation
import Metrics
import Models
import NN
import Tensor

/// Everything a training run needs; saved as `run.json` in the run folder so `--resume` and
/// `predict` know what was trained.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var modality: String
    public var train: String
    public var val: String
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var weightDecay: Float = 0
    /// Poly schedule: lr · (1 − step/steps)^power.
    public var polyPower: Float = 0.9
    public var seed: UInt64
    public var widths: [Int] = Architecture.referenceWidths
    public var classWeights: [Float]?
    public var cropHeight: Int?
    public var cropWidth: Int?
    public var flip: Bool = true
    public var classes: [String] = []

    public init(modality: Modality, train: String, val: String, epochs: Int, batchSize: Int, learningRate: Float, seed: UInt64) {
        self.modality = modality.rawValue
        self.train = train
        self.val = val
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.seed = seed
    }
}

/// Where a run stands after each epoch (`state.json`).
public struct TrainingState: Codable, Equatable, Sendable {
    public var epochsDone: Int
    public var steps: Int
    public var bestMIoU: Double?
    public var bestEpoch: Int?
}

/// One line of `metrics.jsonl`.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var valMIoU: Double?
    public var valPixelAccuracy: Double?
    public var learningRate: Double
    public var seconds: Double
    public var samplesPerSecond: Double
    public var losses: [Double]?
}

public enum TrainingError: Error, CustomStringConvertible {
    case badRun(folder: String, problem: String)
    case mismatch(String)

    public var description: String {
        switch self {
        case let .badRun(folder, problem): return "\(folder): \(problem)"
        case let .mismatch(problem): return problem
        }
    }
}

/// Trains a U-Net on one modality with cross-entropy (ignore 255), Adam and a poly schedule;
/// validates mIoU after every epoch; keeps `model.safetensors` (best), `last.safetensors`,
/// `optimizer.safetensors` + `state.json` (for `--resume`) and `metrics.jsonl` in the run folder,
/// each written to a temporary file and renamed into place.
public final class SegmentationTrainer {
    public let config: TrainingConfig
    public let folder: String
    public let model: UNet
    public let train: SegmentationDataset
    public let val: SegmentationDataset
    let loader: BatchLoader
    let optimizer: Adam
    public private(set) var state: TrainingState
    /// Keep every step's loss in the metrics (tests compare them across a resume).
    public var recordStepLosses = false

    public var architecture: Architecture { model.architecture }

    /// Opens the data and builds a fresh model, or (`resume`) reloads the run in `folder`.
    public init(config: TrainingConfig, folder: String, resume: Bool) throws {
        self.folder = folder
        guard let modality = Modality(rawValue: config.modality) else { throw TrainingError.mismatch("unknown modality \(config.modality)") }
        var config = config
        if resume {
            let saved = try Self.readJSON(TrainingConfig.self, folder + "/run.json", folder: folder)
            guard saved.train == config.train, saved.modality == config.modality else {
                throw TrainingError.badRun(folder: folder, problem: "--resume with other data or modality than the run (\(saved.modality) on \(saved.train))")
            }
            config = saved
            config.epochs = max(config.epochs, saved.epochs)
        }
        train = try SegmentationDataset(path: config.train, modality: modality, requireLabels: true)
        val = try SegmentationDataset(path: config.val, modality: modality, requireLabels: true)
        guard train.channels == val.channels, train.classNames == val.classNames else {
            throw TrainingError.mismatch("\(config.val) has \(val.channels) channels and classes \(val.classNames); \(config.train) has \(train.channels) and \(train.classNames)")
        }
        guard !train.classNames.isEmpty else {
            throw TrainingError.mismatch("\(config.train): no `classes` attribute: the number of classes is unknown")
        }
        config.classes = train.classNames
        if let weights = config.classWeights, weights.count != train.classNames.count {
            throw TrainingError.mismatch("--class-weights has \(weights.count) values for \(train.classNames.count) classes")
        }
        self.config = config
        var generator = SeededGenerator(seed: config.seed)
        model = UNet(.unet(inputChannels: train.channels, outputChannels: train.classNames.count, widths: config.widths), using: &generator)
        optimizer = Adam(parameters: model.parameters(), learningRate: config.learningRate, weightDecay: config.weightDecay)
        loader = BatchLoader(dataset: train, options: BatchOptions(batchSize: config.batchSize, shuffle: true, seed: config.seed,
                                                                   cropHeight: config.cropHeight, cropWidth: config.cropWidth,
                                                                   horizontalFlip: config.flip))
        if resume {
            state = try Self.readJSON(TrainingState.self, folder + "/state.json", folder: folder)
            do {
                try Checkpoint.load(folder + "/last.safetensors", into: model)
                try optimizer.loadState(try DistillationTrainer.readTensors(folder + "/optimizer.safetensors"))
            } catch {
                throw TrainingError.badRun(folder: folder, problem: "cannot resume: \(error)")
            }
        } else {
            state = try Self.startRun(in: folder, config: config)
        }
    }

    public var totalSteps: Int { config.epochs * loader.batchesPerEpoch }

    /// The learning rate at `step` (poly decay to 0 at the last step).
    public func learningRate(at step: Int) -> Float {
        config.learningRate * Float(Foundation.pow(Double(max(0, 1 - Double(step) / Double(max(totalSteps, 1)))), Double(config.polyPower)))
    }

    /// Trains the remaining epochs. `onStep(samples, loss)` and `onEpoch(metrics)` report progress.
    public func run(onStep: (Int, Float) -> Void = { _, _ in }, onEpoch: (EpochMetrics) throws -> Void = { _ in }) throws {
        let weights = config.classWeights.map { Tensor(shape: [$0.count], scalars: $0) }
        while state.epochsDone < config.epochs {
            let epoch = state.epochsDone
            let started = Date()
            model.train()
            let order = loader.order(epoch: epoch)
            var lossSum = 0.0, samples = 0
            var stepLosses: [Double] = []
            for index in 0..<loader.batchesPerEpoch {
                let batch = try loader.batch(index, epoch: epoch, order: order)
                let output = model(Variable(batch.input))
                let loss = crossEntropy(output.logits, targets: batch.targets, classWeights: weights)
                model.zeroGrad()
                loss.backward()
                optimizer.learningRate = learningRate(at: state.steps)
                optimizer.step()
                state.steps += 1
                let value = loss.value.scalar
                guard value.isFinite else {
                    throw TrainingError.mismatch("training diverged: loss \(value) at epoch \(epoch + 1), step \(state.steps); lower --lr")
                }
                lossSum += Double(value) * Double(batch.indices.count)
                samples += batch.indices.count
                if recordStepLosses { stepLosses.append(Double(value)) }
                onStep(batch.indices.count, value)
            }
            let scores = try evaluate(val)
            let seconds = Date().timeIntervalSince(started)
            let metrics = EpochMetrics(epoch: epoch + 1, trainLoss: lossSum / Double(max(samples, 1)),
                                       valMIoU: scores.meanIntersectionOverUnion, valPixelAccuracy: scores.pixelAccuracy,
                                       learningRate: Double(optimizer.learningRate), seconds: seconds,
                                       samplesPerSecond: Double(samples) / max(seconds, 1e-9),
                                       losses: recordStepLosses ? stepLosses : nil)
            state.epochsDone += 1
            try saveEpoch(metrics)
            try onEpoch(metrics)
        }
    }

    /// The confusion matrix of the model (eval mode, no graph) on a labelled split.
    public func evaluate(_ dataset: SegmentationDataset) throws -> ConfusionMatrix {
        try Self.evaluate(model, on: dataset, batchSize: config.batchSize)
    }

    public static func evaluate(_ model: UNet, on dataset: SegmentationDataset, batchSize: Int) throws -> ConfusionMatrix {
        var matrix = ConfusionMatrix(classes: model.architecture.outputChannels)
        try predictions(model, on: dataset, batchSize: batchSize) { index, prediction in
            guard let labels = try dataset.sample(index).labels else { return }
            try matrix.add(labels: labels, predictions: prediction)
        }
        return matrix
    }

    /// Runs `model` in eval mode over `dataset` in order and hands out each sample's predicted
    /// classes `[H·W]` (padding to multiples of 8 removed).
    public static func predictions(_ model: UNet, on dataset: SegmentationDataset, batchSize: Int,
                                   _ body: (Int, [UInt8]) throws -> Void) throws {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let loader = BatchLoader(dataset: dataset, options: BatchOptions(batchSize: batchSize, shuffle: false))
        let (h, w) = (dataset.height, dataset.width)
        for index in 0..<loader.batchesPerEpoch {
            let batch = try loader.batch(index, epoch: 0)
            let logits = withNoGrad { model(Variable(batch.input)).logits.value }
            let (classes, ph, pw) = (logits.shape[1], logits.shape[2], logits.shape[3])
            for (slot, sample) in batch.indices.enumerated() {
                var prediction = [UInt8](repeating: 0, count: h * w)
                logits.withUnsafeBufferPointer { values in
                    for y in 0..<h {
                        for x in 0..<w {
                            var best = 0
                            var bestValue = -Float.infinity
                            for c in 0..<classes {
                                let v = values[((slot * classes + c) * ph + y) * pw + x]
                                if v > bestValue { bestValue = v; best = c }
                            }
                            prediction[y * w + x] = UInt8(best)
                        }
                    }
                }
                try body(sample, prediction)
            }
        }
    }

    private func saveEpoch(_ metrics: EpochMetrics) throws {
        // Order matters for a crash between writes: last model and optimizer before the state
        // that points at them, so a resume never pairs new weights with an old state.
        try Checkpoint.save(model, architecture: architecture, to: folder + "/last.safetensors")
        let encoded = try SafeTensorsFile.encode(optimizer.stateTensors())
        try Self.writeData(encoded, to: folder + "/optimizer.safetensors")
        if let miou = metrics.valMIoU, miou > (state.bestMIoU ?? -1) {
            state.bestMIoU = miou
            state.bestEpoch = metrics.epoch
            try Checkpoint.save(model, architecture: architecture, to: folder + "/model.safetensors")
        }
        try Self.writeJSON(state, to: folder + "/state.json")
        try Self.recordEpoch(metrics, epoch: \.epoch, in: folder + "/metrics.jsonl")
    }

    /// Appends one JSON line per epoch to a metrics log, first dropping lines of epochs being
    /// redone (a resume repeats the epoch that was interrupted).
    static func recordEpoch<M: Codable>(_ metrics: M, epoch: KeyPath<M, Int>, in path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = String(decoding: try encoder.encode(metrics), as: UTF8.self)
        let previous = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let kept = previous.split(separator: "\n").filter { line in
            guard let old = try? JSONDecoder().decode(M.self, from: Data(line.utf8)) else { return false }
            return old[keyPath: epoch] < metrics[keyPath: epoch]
        }
        try writeText((kept.map(String.init) + [line]).joined(separator: "\n") + "\n", to: path)
    }

    // MARK: Files (temporary name, then rename)

    /// Creates a run folder with its `run.json` and an empty `metrics.jsonl`; a fresh state.
    static func startRun<C: Encodable>(in folder: String, config: C) throws -> TrainingState {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeJSON(config, to: folder + "/run.json")
        try writeText("", to: folder + "/metrics.jsonl")
        return TrainingState(epochsDone: 0, steps: 0, bestMIoU: nil, bestEpoch: nil)
    }

    static func writeData(_ data: Data, to path: String) throws {
        let output = try AtomicOutput(path: path)
        try data.write(to: URL(fileURLWithPath: output.temporaryPath))
        try output.commit()
    }

    static func writeText(_ text: String, to path: String) throws { try writeData(Data(text.utf8), to: path) }

    static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try writeData(try encoder.encode(value), to: path)
    }

    static func readJSON<T: Decodable>(_ type: T.Type, _ path: String, folder: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.badRun(folder: folder, problem: "\(URL(fileURLWithPath: path).lastPathComponent) missing: nothing to resume")
        }
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw TrainingError.badRun(folder: folder, problem: "\(URL(fileURLWithPath: path).lastPathComponent) is damaged: \(error)")
        }
    }
}
