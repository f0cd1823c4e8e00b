import Autograd
import Distillation
import Foundation
import Metrics
import Models
import NN
import Tensor

/// The loss terms `evdistill distill --losses` can switch on (method.md §3).
public enum DistillationLoss: String, CaseIterable, Codable, Sendable {
    case kd, affinity, ds, dm, contrastive, mi
}

/// A distillation run: frozen image teacher → event student, paired or unpaired (with or without BMR).
public struct DistillationConfig: Codable, Equatable, Sendable {
    public var teacher: String
    public var images: String
    public var events: String
    public var val: String
    public var paired: Bool
    public var losses: [DistillationLoss]
    public var weights: [String: Float] = DistillationConfig.defaultWeights
    public var temperature: Float = 2
    /// Paired data: fraction of event windows whose labels the student may use (0 = none).
    public var labelFraction: Double = 1
    /// Unpaired data: bridge the modalities with E2I / I2E networks (method.md §4).
    public var bmr: Bool = true
    /// Paired file on which E2I and I2E are pre-trained, and their epochs.
    public var bmrPretrainData: String?
    public var bmrPretrainEpochs: Int = 5
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var seed: UInt64
    public var widths: [Int] = Architecture.referenceWidths

    /// Documented defaults: task 1 (cross-entropy), kd 1 (T = 2), affinity 1, ds 0.1, dm 1,
    /// contrastive 0.1, mi 0.1, cycle 1 (BMR).
    public static let defaultWeights: [String: Float] = ["kd": 1, "affinity": 1, "ds": 0.1, "dm": 1, "contrastive": 0.1, "mi": 0.1,
                                                         "cycle": 1, "task": 1]

    public init(teacher: String, images: String, events: String, val: String, paired: Bool, losses: [DistillationLoss],
                epochs: Int, batchSize: Int, learningRate: Float, seed: UInt64) {
        self.teacher = teacher
        self.images = images
        self.events = events
        self.val = val
        self.paired = paired
        self.losses = losses
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.seed = seed
    }

    func weight(_ name: String) -> Float { weights[name] ?? Self.defaultWeights[name] ?? 1 }
}

/// One epoch's averages of every loss term (`metrics.jsonl`).
public struct DistillationMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var terms: [String: Double]
    public var valMIoU: Double?
    public var seconds: Double
    public var stepLosses: [Double]?
}

/// Distils a frozen image teacher into an event student.
///
/// Paired: teacher on the frame, student on the events of the same moment. Unpaired with BMR:
/// labelled frames become pseudo events through I2E (the student on them mimics the teacher on
/// the frame, and learns the frame's labels), unlabelled events become pseudo frames through E2I
/// (the teacher on them supervises the student on the real events), with cycle losses; task and
/// KD gradients reach E2I and I2E. Unpaired without BMR: the student sees the labelled frames
/// themselves (repeated over its input channels) under the teacher's supervision.
public final class DistillationTrainer {
    public let config: DistillationConfig
    public let folder: String
    public let teacher: UNet
    public let student: UNet
    public let e2i: UNet?
    public let i2e: UNet?
    let studentHead: ProjectionHead?, teacherHead: ProjectionHead?
    let discriminator: PairDiscriminator?
    let discriminatorOptimizer: Adam?
    let optimizer: Adam
    let imageLoader: BatchLoader, eventLoader: BatchLoader
    public let val: SegmentationDataset
    let labelled: Set<Int>
    public private(set) var state: TrainingState
    public var recordStepLosses = false

    public init(config: DistillationConfig, folder: String, resume: Bool) throws {
        var config = config
        if resume { config = try SegmentationTrainer.readJSON(DistillationConfig.self, folder + "/run.json", folder: folder) }
        self.config = config
        self.folder = folder
        teacher = try UNet(checkpoint: config.teacher)
        teacher.eval()
        let images = try SegmentationDataset(path: config.images, modality: .images, requireLabels: !config.paired || config.labelFraction > 0)
        let events = try SegmentationDataset(path: config.events, modality: .events, requireLabels: config.paired && config.labelFraction > 0)
        val = try SegmentationDataset(path: config.val, modality: .events, requireLabels: true)
        if config.paired {
            guard config.images == config.events || images.count == events.count else {
                throw TrainingError.mismatch("--paired: \(config.images) has \(images.count) frames, \(config.events) \(events.count) event windows")
            }
        }
        guard images.channels == teacher.architecture.inputChannels else {
            throw TrainingError.mismatch("\(config.images): \(images.channels) image channels, the teacher takes \(teacher.architecture.inputChannels)")
        }
        let classes = teacher.architecture.outputChannels
        var generator = SeededGenerator(seed: config.seed)
        student = UNet(.unet(inputChannels: events.channels, outputChannels: classes, widths: config.widths), using: &generator)
        var trainable = student.parameters()
        let uses = Set(config.losses)
        if uses.contains(.contrastive) || uses.contains(.mi) {
            let (studentHead, teacherHead) = (ProjectionHead(inputChannels: config.widths[3], using: &generator),
                                              ProjectionHead(inputChannels: teacher.architecture.widths[3], using: &generator))
            self.studentHead = studentHead
            self.teacherHead = teacherHead
            trainable += studentHead.parameters() + teacherHead.parameters()
        } else {
            studentHead = nil
            teacherHead = nil
        }
        if uses.contains(.mi) {
            let discriminator = PairDiscriminator(using: &generator)
            self.discriminator = discriminator
            discriminatorOptimizer = Adam(parameters: discriminator.parameters(), learningRate: config.learningRate)
        } else {
            discriminator = nil
            discriminatorOptimizer = nil
        }
        if !config.paired && config.bmr {
            let e2i = UNet(.unet(inputChannels: events.channels, outputChannels: images.channels, widths: [8, 16, 32, 64]), using: &generator)
            let i2e = UNet(.unet(inputChannels: images.channels, outputChannels: events.channels, widths: [8, 16, 32, 64]), using: &generator)
            self.e2i = e2i
            self.i2e = i2e
            trainable += e2i.parameters() + i2e.parameters()
        } else {
            e2i = nil
            i2e = nil
        }
        optimizer = Adam(parameters: trainable, learningRate: config.learningRate)
        let options = BatchOptions(batchSize: config.batchSize, shuffle: true, seed: config.seed, horizontalFlip: true)
        // Same options and seed: paired loaders draw the same order, crops and flips.
        imageLoader = BatchLoader(dataset: images, options: options)
        var eventOptions = options
        if !config.paired { eventOptions.seed = config.seed &+ 1 }
        eventLoader = BatchLoader(dataset: events, options: eventOptions)
        // The labelled subset of event windows (paired), fixed by the seed.
        var picker = SeededGenerator(seed: config.seed ^ 0x5EED)
        let keep = Int((Double(events.count) * config.labelFraction).rounded())
        labelled = Set(Array(0..<events.count).shuffled(using: &picker).prefix(keep))

        if resume {
            state = try SegmentationTrainer.readJSON(TrainingState.self, folder + "/state.json", folder: folder)
            do {
                try Checkpoint.load(folder + "/last.safetensors", into: student)
                for (name, module) in auxiliaryModules {
                    if let network = module as? UNet {
                        try Checkpoint.load(folder + "/\(name).safetensors", into: network)
                    } else {
                        try Self.loadModule(module, from: folder + "/\(name).safetensors")
                    }
                }
                try optimizer.loadState(try Self.readTensors(folder + "/optimizer.safetensors"))
                if let discriminatorOptimizer { try discriminatorOptimizer.loadState(try Self.readTensors(folder + "/discriminator_optimizer.safetensors")) }
            } catch {
                throw TrainingError.badRun(folder: folder, problem: "cannot resume: \(error)")
            }
        } else {
            state = try SegmentationTrainer.startRun(in: folder, config: config)
        }
    }

    var auxiliaryModules: [(String, any Module)] {
        var modules: [(String, any Module)] = []
        if let studentHead { modules.append(("student_head", studentHead)) }
        if let teacherHead { modules.append(("teacher_head", teacherHead)) }
        if let discriminator { modules.append(("discriminator", discriminator)) }
        if let e2i { modules.append(("e2i", e2i)) }
        if let i2e { modules.append(("i2e", i2e)) }
        return modules
    }

    public var stepsPerEpochCount: Int { stepsPerEpoch }
    var stepsPerEpoch: Int { config.paired ? eventLoader.batchesPerEpoch : max(imageLoader.batchesPerEpoch, eventLoader.batchesPerEpoch) }

    /// Pre-trains E2I and I2E on paired data (L1 both ways), before distillation starts.
    public func pretrainBMR(onEpoch: (Int, Double) -> Void = { _, _ in }) throws {
        guard let e2i, let i2e, let path = config.bmrPretrainData, state.epochsDone == 0 else { return }
        let images = try SegmentationDataset(path: path, modality: .images, requireLabels: false)
        let events = try SegmentationDataset(path: path, modality: .events, requireLabels: false)
        let options = BatchOptions(batchSize: config.batchSize, shuffle: true, seed: config.seed &+ 7, horizontalFlip: true)
        let (imageLoader, eventLoader) = (BatchLoader(dataset: images, options: options), BatchLoader(dataset: events, options: options))
        let optimizer = Adam(parameters: e2i.parameters() + i2e.parameters(), learningRate: config.learningRate)
        for epoch in 0..<config.bmrPretrainEpochs {
            var total = 0.0
            for index in 0..<imageLoader.batchesPerEpoch {
                let image = Variable(try imageLoader.batch(index, epoch: epoch).input)
                let event = Variable(try eventLoader.batch(index, epoch: epoch).input)
                let loss = l1Loss(sigmoid(e2i(event).logits), image) + l1Loss(i2e(image).logits, event)
                e2i.zeroGrad(); i2e.zeroGrad()
                loss.backward()
                optimizer.step()
                total += Double(loss.value.scalar)
            }
            onEpoch(epoch + 1, total / Double(imageLoader.batchesPerEpoch))
        }
    }

    public func run(onStep: (Int, Float) -> Void = { _, _ in }, onEpoch: (DistillationMetrics) throws -> Void = { _ in }) throws {
        let totalSteps = config.epochs * stepsPerEpoch
        while state.epochsDone < config.epochs {
            let epoch = state.epochsDone
            let started = Date()
            student.train()
            for (_, module) in auxiliaryModules { module.train() }
            var sums: [String: Double] = [:]
            var stepLosses: [Double] = []
            let imageOrder = imageLoader.order(epoch: epoch), eventOrder = eventLoader.order(epoch: epoch)
            for index in 0..<stepsPerEpoch {
                let imageBatch = try imageLoader.batch(index % imageLoader.batchesPerEpoch, epoch: epoch, order: imageOrder)
                let eventBatch = try eventLoader.batch(index % eventLoader.batchesPerEpoch, epoch: epoch, order: eventOrder)
                let terms = config.paired ? pairedTerms(imageBatch, eventBatch) : unpairedTerms(imageBatch, eventBatch)
                guard var loss = terms.first?.1 else { continue }
                for (_, term) in terms.dropFirst() { loss = loss + term }
                optimizer.parameters.forEach { $0.zeroGrad() }
                teacher.zeroGrad()
                loss.backward()
                optimizer.learningRate = config.learningRate * Float(Foundation.pow(max(0, 1 - Double(state.steps) / Double(max(totalSteps, 1))), 0.9))
                optimizer.step()
                if let discriminator, let discriminatorOptimizer, let miLoss = lastDiscriminatorLoss {
                    discriminator.zeroGrad()
                    miLoss.backward()
                    discriminatorOptimizer.step()
                    sums["discriminator", default: 0] += Double(miLoss.value.scalar)
                }
                state.steps += 1
                let value = loss.value.scalar
                guard value.isFinite else { throw TrainingError.mismatch("distillation diverged: loss \(value) at step \(state.steps); lower --lr or a weight") }
                for (name, term) in terms { sums[name, default: 0] += Double(term.value.scalar) }
                sums["total", default: 0] += Double(value)
                if recordStepLosses { stepLosses.append(Double(value)) }
                onStep(eventBatch.indices.count, value)
            }
            let miou = try SegmentationTrainer.evaluate(student, on: val, batchSize: config.batchSize).meanIntersectionOverUnion
            let metrics = DistillationMetrics(epoch: epoch + 1, terms: sums.mapValues { $0 / Double(stepsPerEpoch) }, valMIoU: miou,
                                              seconds: Date().timeIntervalSince(started), stepLosses: recordStepLosses ? stepLosses : nil)
            state.epochsDone += 1
            try save(metrics)
            try onEpoch(metrics)
        }
    }

    private var lastDiscriminatorLoss: Variable?

    /// Paired: teacher on frames, student on the same moments' events.
    func pairedTerms(_ images: Batch, _ events: Batch) -> [(String, Variable)] {
        let s = student(Variable(events.input))
        var targets = events.targets
        let pixels = targets.count / max(events.indices.count, 1)
        for (slot, index) in events.indices.enumerated() where !labelled.contains(index) {
            for p in (slot * pixels)..<((slot + 1) * pixels) { targets[p] = 255 }
        }
        var terms: [(String, Variable)] = []
        if targets.contains(where: { $0 != 255 }) {
            terms.append(("task", crossEntropy(s.logits, targets: targets) * config.weight("task")))
        }
        if !config.losses.isEmpty {
            let t = withNoGrad { teacher(Variable(images.input)) }
            terms += distillationTerms(student: s, teacher: t)
        }
        return terms
    }

    /// Unpaired: BMR pseudo pairs both ways (or, without BMR, the frames themselves).
    func unpairedTerms(_ images: Batch, _ events: Batch) -> [(String, Variable)] {
        let image = Variable(images.input)
        let tImage = withNoGrad { teacher(image) }
        var terms: [(String, Variable)] = []
        guard let e2i, let i2e else {
            let repeated = concat(Array(repeating: image, count: student.architecture.inputChannels), axis: 1)
            let s = student(repeated)
            terms.append(("task", crossEntropy(s.logits, targets: images.targets) * config.weight("task")))
            terms += distillationTerms(student: s, teacher: tImage)
            return terms
        }
        let event = Variable(events.input)
        let pseudoEvents = i2e(image).logits
        let pseudoImage = sigmoid(e2i(event).logits)
        // Labelled frames → pseudo events: the student learns the frame's labels and mimics the teacher.
        let sPseudo = student(pseudoEvents)
        terms.append(("task", crossEntropy(sPseudo.logits, targets: images.targets) * config.weight("task")))
        terms += distillationTerms(student: sPseudo, teacher: tImage).map { ("pseudo_events_" + $0.0, $0.1) }
        // Real events → pseudo frames: the teacher (frozen, but differentiable for E2I) supervises.
        let tPseudo = teacher(pseudoImage)
        let sReal = student(event)
        terms += distillationTerms(student: sReal, teacher: tPseudo, teacherIsConstant: false).map { ("pseudo_frames_" + $0.0, $0.1) }
        let cycle = l1Loss(sigmoid(e2i(pseudoEvents).logits), image) + l1Loss(i2e(pseudoImage).logits, event)
        terms.append(("cycle", cycle * config.weight("cycle")))
        return terms
    }

    /// The selected KD terms between one student and one teacher output. With
    /// `teacherIsConstant` false, prediction KD lets gradients reach what produced the teacher's
    /// input (E2I); feature losses always treat the teacher as constant.
    func distillationTerms(student s: UNet.Output, teacher t: UNet.Output, teacherIsConstant: Bool = true) -> [(String, Variable)] {
        var terms: [(String, Variable)] = []
        for loss in config.losses {
            let w = config.weight(loss.rawValue)
            switch loss {
            case .kd:
                if teacherIsConstant {
                    terms.append(("kd", predictionKD(student: s.logits, teacher: t.logits, temperature: config.temperature) * w))
                } else {
                    // KL(p_T ‖ p_S) with gradients to both: T²·Σ p_T (log p_T − log p_S) / positions.
                    let temperature = config.temperature
                    let pT = softmax(t.logits / temperature, axis: 1)
                    let logPS = logSoftmax(s.logits / temperature, axis: 1)
                    let positions = Float(s.logits.value.count / s.logits.shape[1])
                    let kl = sum(pT * (log(pT + 1e-8) - logPS)) * (temperature * temperature / positions)
                    terms.append(("kd", kl * w))
                }
            case .affinity:
                terms.append(("affinity", (affinityKD(student: s.bottleneck, teacher: t.bottleneck)
                                           + affinityKD(student: s.decoder, teacher: t.decoder)) * w))
            case .ds:
                terms.append(("ds", (channelDecorrelation(s.decoder) + uniformity(s.bottleneck)) * w))
            case .dm:
                if s.bottleneck.shape[1] == t.bottleneck.shape[1] {
                    terms.append(("dm", momentMatching(student: s.bottleneck, teacher: t.bottleneck) * w))
                }
            case .contrastive:
                if let studentHead, let teacherHead {
                    terms.append(("contrastive", contrastiveKD(student: s.bottleneck, teacher: t.bottleneck,
                                                               studentHead: studentHead, teacherHead: teacherHead) * w))
                }
            case .mi:
                if let studentHead, let teacherHead, let discriminator {
                    let mi = MutualInformationKD(student: s.bottleneck, teacher: t.bottleneck, auxiliary: nil, studentHead: studentHead,
                                                 teacherHead: teacherHead, auxiliaryHead: nil, discriminator: discriminator)
                    lastDiscriminatorLoss = mi.discriminatorLoss
                    terms.append(("mi", mi.studentLoss * w))
                }
            }
        }
        return terms
    }

    private func save(_ metrics: DistillationMetrics) throws {
        try Checkpoint.save(student, architecture: student.architecture, to: folder + "/last.safetensors")
        for (name, module) in auxiliaryModules {
            // E2I / I2E as model checkpoints: `evdistill predict --reconstruction` draws them.
            if let network = module as? UNet {
                try Checkpoint.save(network, architecture: network.architecture, to: folder + "/\(name).safetensors")
                continue
            }
            try SegmentationTrainer.writeData(try SafeTensorsFile.encode(Dictionary(uniqueKeysWithValues: module.stateDict().map { ($0.name, $0.value) })),
                                              to: folder + "/\(name).safetensors")
        }
        try SegmentationTrainer.writeData(try SafeTensorsFile.encode(optimizer.stateTensors()), to: folder + "/optimizer.safetensors")
        if let discriminatorOptimizer {
            try SegmentationTrainer.writeData(try SafeTensorsFile.encode(discriminatorOptimizer.stateTensors()),
                                              to: folder + "/discriminator_optimizer.safetensors")
        }
        if let miou = metrics.valMIoU, miou > (state.bestMIoU ?? -1) {
            state.bestMIoU = miou
            state.bestEpoch = metrics.epoch
            try Checkpoint.save(student, architecture: student.architecture, to: folder + "/model.safetensors")
        }
        try SegmentationTrainer.writeJSON(state, to: folder + "/state.json")
        try SegmentationTrainer.recordEpoch(metrics, epoch: \.epoch, in: folder + "/metrics.jsonl")
    }

    static func readTensors(_ path: String) throws -> [String: Tensor] {
        let file = try SafeTensorsFile(contentsOf: path)
        var tensors: [String: Tensor] = [:]
        for name in file.entries.keys { tensors[name] = try file.tensor(name) }
        return tensors
    }

    static func loadModule(_ module: any Module, from path: String) throws {
        try module.loadStateDict(try readTensors(path))
    }
}
