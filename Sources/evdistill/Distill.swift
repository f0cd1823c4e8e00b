import ArgumentParser
import ConsoleProgress
import Foundation
import Training

extension DistillationLoss: ExpressibleByArgument {}

struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Distil a frozen image teacher into an event student (paired, or unpaired with BMR).",
        discussion: """
        Losses (--losses, any subset; method.md §3): kd (prediction KD, T² · KL at temperature --temperature), \
        affinity (cosine affinity graphs of bottleneck and decoder features, 16×16 nodes), ds (channel \
        decorrelation of decoder features + uniformity of bottleneck nodes), dm (moment matching of bottleneck \
        features), contrastive (InfoNCE between projected node embeddings, τ 0.07), mi (InfoNCE MI bound + \
        adversarial conditional-entropy term with a pair discriminator). The student also learns labels when it \
        has them: --label-fraction of the paired event windows, or the labelled frames (through I2E) when unpaired.

        Weights (--weights name=value,...; defaults): task=1 kd=1 affinity=1 ds=0.1 dm=1 contrastive=0.1 mi=0.1 cycle=1.

        Paired (--paired): --images and --events name the same split (or splits in the same order). Unpaired: \
        --images holds labelled frames, --events unlabelled windows of other scenes; BMR (default; --no-bmr to \
        switch off) trains E2I/I2E networks, pre-trained for --bmr-pretrain-epochs on --bmr-pretrain (a paired \
        split), end to end with the KD losses. RUN/ receives model.safetensors (best student by validation \
        mIoU), last.safetensors, the heads/BMR networks, optimizer state, state.json, run.json and metrics.jsonl \
        (every loss term per epoch). --resume continues exactly.
        """
    )

    @Option(help: "Teacher checkpoint (a run's model.safetensors, trained on images).")
    var teacher: String
    @Option(help: "Frames (.h5 with /images).")
    var images: String
    @Option(help: "Events (.h5 with /events).")
    var events: String
    @Option(help: "Validation split with /events and /labels.")
    var val: String
    @Flag(help: "Frames and events show the same moments.")
    var paired = false
    @Option(help: "Comma-separated subset of kd,affinity,ds,dm,contrastive,mi, or none (labels only: the from-scratch baseline).")
    var losses: String = "kd,affinity,ds"
    @Option(help: "Loss weights, e.g. kd=1,affinity=0.5.")
    var weights: String?
    @Option(help: "Prediction-KD temperature.")
    var temperature: Float = 2
    @Option(help: "Paired: fraction of event windows whose labels the student uses (0–1).")
    var labelFraction: Double = 1
    @Flag(help: "Unpaired without E2I/I2E reconstruction.")
    var noBmr = false
    @Option(help: "Paired split for pre-training E2I/I2E (unpaired runs with BMR).")
    var bmrPretrain: String?
    @Option(help: "Pre-training epochs of E2I/I2E.")
    var bmrPretrainEpochs: Int = 5

    @OptionGroup var common: RunOptions

    func validate() throws {
        let names = losses == "none" ? [] : losses.split(separator: ",").map(String.init)
        guard names.allSatisfy({ DistillationLoss(rawValue: $0) != nil }) else {
            throw ValidationError("--losses: choose from \(DistillationLoss.allCases.map(\.rawValue).joined(separator: ","))")
        }
        if let weights {
            for pair in weights.split(separator: ",") {
                let parts = pair.split(separator: "=")
                guard parts.count == 2, Float(parts[1]) != nil,
                      (DistillationConfig.defaultWeights.keys).contains(String(parts[0])) else {
                    throw ValidationError("--weights: expected name=value with names \(DistillationConfig.defaultWeights.keys.sorted().joined(separator: ", "))")
                }
            }
        }
        guard (0...1).contains(labelFraction) else { throw ValidationError("--label-fraction must be in [0, 1]") }
    }

    func run() throws {
        var config = DistillationConfig(teacher: teacher, images: images, events: events, val: val, paired: paired,
                                        losses: losses == "none" ? [] : losses.split(separator: ",").compactMap { DistillationLoss(rawValue: String($0)) },
                                        epochs: common.epochs, batchSize: common.batchSize, learningRate: common.lr, seed: common.seed)
        for pair in (weights ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=")
            config.weights[String(parts[0])] = Float(parts[1])
        }
        config.temperature = temperature
        config.labelFraction = labelFraction
        config.bmr = !noBmr
        config.bmrPretrainData = bmrPretrain
        config.bmrPretrainEpochs = bmrPretrainEpochs
        config.widths = try parseList(common.widths, "--widths")
        let trainer = try DistillationTrainer(config: config, folder: common.out, resume: common.resume)
        try trainer.pretrainBMR { epoch, loss in
            if !common.quiet { FileHandle.standardError.write(Data(String(format: "BMR pre-training epoch %d: L1 %.4f\n", epoch, loss).utf8)) }
        }
        let bar = ProgressBar(label: "distill", total: (trainer.config.epochs - trainer.state.epochsDone) * trainer.stepsPerEpochCount,
                              unit: "steps", quiet: common.quiet)
        try trainer.run(onStep: { _, loss in bar.advance(note: String(format: "loss %.4f", loss)) }, onEpoch: { metrics in
            if !common.quiet {
                let terms = metrics.terms.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }.joined(separator: ", ")
                let miou = metrics.valMIoU.map { String(format: "%.2f %%", 100 * $0) } ?? "n/a"
                FileHandle.standardError.write(Data("\nepoch \(metrics.epoch)/\(trainer.config.epochs): val mIoU \(miou); \(terms)\n".utf8))
            }
        })
        bar.finish()
        if !common.quiet {
            let best = trainer.state.bestMIoU.map { String(format: "%.2f %%", 100 * $0) } ?? "n/a"
            FileHandle.standardError.write(Data("\(common.out)/model.safetensors: best student val mIoU \(best) (epoch \(trainer.state.bestEpoch ?? 0))\n".utf8))
        }
    }
}
