import ArgumentParser
import Foundation
import Models
import ParallelLoops

// Benchmarks of the tensor engine on the reference U-Net of method.md §2 (shared/anchors.md
// "Training"). Tools/bench-engine.sh runs them beside the same model in PyTorch and prints the
// ratios.

extension Bench {
    struct Conv: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "3×3 convolutions of the reference U-Net, forward + backward, against sgemm.",
            discussion: """
            Times conv2d forward and backward (∂weight, and ∂input except for the first layer, whose input needs \
            none, as in training) at each 3×3 convolution of the reference U-Net (widths 16/32/64/128) for a \
            --batch × --channels × --size × --size input, and OpenBLAS sgemm at 1024³ in the same run. Reports \
            GFLOP/s per layer (2·N·O·C·9·H·W per product), the FLOP-weighted total (all FLOPs over all time) and \
            its fraction of the sgemm rate. Medians of --repeat runs after one warm-up. The FLOPs are a direct \
            convolution's: layers that run by Winograd F(4×4, 3×3) do a quarter of those multiplies, so their rate \
            can exceed sgemm's. EVDISTILL_CONV=im2col (or winograd) in the environment forces one algorithm.
            """
        )
        @OptionGroup var shape: UNetBenchOptions
        @Option(help: "Timed runs per layer (after one warm-up); the median is reported.")
        var `repeat`: Int = 5
        @Flag(help: "Print one JSON object.")
        var json = false

        func run() throws {
            let sgemm = sgemmGigaflops(size: 1024, repeat: max(`repeat`, 5))
            var g = SeededGenerator(seed: 1)
            var layers = JSONObject()
            var totalFlop = 0.0, totalSeconds = 0.0, totalCPUSeconds = 0.0
            for layer in shape.convolutionLayers() {
                let n = shape.batch
                let x = Variable(Tensor.randomNormal([n, layer.inputChannels, layer.size, layer.size], using: &g),
                                 requiresGrad: !layer.isFirst)
                let w = Variable(Initializer.kaimingNormal([layer.outputChannels, layer.inputChannels, 3, 3], using: &g),
                                 requiresGrad: true)
                let gradient = Tensor.randomNormal([n, layer.outputChannels, layer.size, layer.size], using: &g)
                var forward: [Double] = [], backward: [Double] = [], cpu: [Double] = []
                for run in 0...max(`repeat`, 1) {
                    x.zeroGrad()
                    w.zeroGrad()
                    var y: Variable?
                    let cpuStart = processCPUSeconds()
                    let f = seconds { y = conv2d(x, weight: w, padding: 1) }
                    let b = seconds { y?.backward(gradient) }
                    if run > 0 { forward.append(f); backward.append(b); cpu.append(processCPUSeconds() - cpuStart) }
                }
                let product = 2.0 * Double(n * layer.outputChannels * layer.inputChannels * 9 * layer.size * layer.size)
                let flop = product * (layer.isFirst ? 2 : 3)
                let (f, b) = (median(forward), median(backward))
                totalFlop += flop
                totalSeconds += f + b
                totalCPUSeconds += median(cpu)
                var entry = JSONObject()
                entry.add("in_channels", layer.inputChannels)
                entry.add("out_channels", layer.outputChannels)
                entry.add("size", layer.size)
                entry.add("gflop", flop / 1e9)
                entry.add("forward_ms", f * 1e3)
                entry.add("backward_ms", b * 1e3)
                entry.add("forward_gflops", product / f / 1e9)
                entry.add("backward_gflops", (flop - product) / b / 1e9)
                entry.add("gflops", flop / (f + b) / 1e9)
                entry.add("cpu_ms", median(cpu) * 1e3)
                layers.add(layer.name, object: entry)
                if !json {
                    print(String(format: "%@ %3d→%3d @%3d: forward %6.1f ms (%5.1f GFLOP/s), backward %6.1f ms (%5.1f GFLOP/s)",
                                 layer.name.padding(toLength: 10, withPad: " ", startingAt: 0), layer.inputChannels,
                                 layer.outputChannels, layer.size, f * 1e3, product / f / 1e9, b * 1e3, (flop - product) / b / 1e9))
                }
            }
            let rate = totalFlop / totalSeconds / 1e9
            if json {
                var object = JSONObject()
                object.add("benchmark", "conv")
                object.add("batch", shape.batch)
                object.add("channels", shape.channels)
                object.add("size", shape.size)
                object.add("widths", strings: shape.widthList.map(String.init))
                object.add("total_gflop", totalFlop / 1e9)
                object.add("total_ms", totalSeconds * 1e3)
                object.add("gflops", rate)
                object.add("sgemm_gflops", sgemm)
                object.add("fraction_of_sgemm", rate / sgemm)
                object.add("cpu_ms", totalCPUSeconds * 1e3)
                object.add("cores_used", totalCPUSeconds / totalSeconds)
                object.add("threads", availableCores)
                object.add("layers", object: layers)
                print(object.rendered)
            } else {
                print(String(format: "all 3×3 convs: %.1f GFLOP in %.1f ms = %.1f GFLOP/s, %.0f %% of sgemm 1024³ (%.1f GFLOP/s, %d threads); %.1f cores busy",
                             totalFlop / 1e9, totalSeconds * 1e3, rate, 100 * rate / sgemm, sgemm, availableCores,
                             totalCPUSeconds / totalSeconds))
            }
        }
    }

    struct TrainStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train-step",
            abstract: "Training step and inference of the reference U-Net (anchors.md \"Training\").",
            discussion: """
            The U-Net of method.md §2 (widths 16/32/64/128 by default) on a random --batch × --channels × --size \
            × --size input with random labels of --classes classes: one training step is forward (training mode), \
            cross-entropy, backward and an Adam update; forward_ms is a forward in evaluation mode without \
            gradients. Medians of --steps timed steps after --warmup untimed ones. peak_rss_mb is the process's \
            peak resident memory (VmHWM) at the end; page_faults_per_step counts minor faults during the timed \
            steps.
            """
        )
        @OptionGroup var shape: UNetBenchOptions
        @Option(help: "Output classes.")
        var classes: Int = 6
        @Option(help: "Timed training steps (the median is reported).")
        var steps: Int = 5
        @Option(help: "Untimed steps first (the first one fills the buffer pool).")
        var warmup: Int = 2
        @Flag(help: "Print one JSON object.")
        var json = false

        func run() throws {
            var g = SeededGenerator(seed: 1)
            let model = UNet(inputChannels: shape.channels, outputChannels: classes, widths: shape.widthList, using: &g)
            let x = Variable(Tensor.randomNormal([shape.batch, shape.channels, shape.size, shape.size], using: &g))
            let labels = (0..<(shape.batch * shape.size * shape.size)).map { _ in Int(g.next() % UInt64(classes)) }
            let optimizer = Adam(parameters: model.parameters(), learningRate: 1e-3)

            model.eval()
            var evalTimes: [Double] = []
            for run in 0..<(max(steps, 1) + 1) {
                let t = seconds { _ = withNoGrad { model(x).logits } }
                if run > 0 { evalTimes.append(t) }
            }
            model.train()
            var phases: [(forward: Double, backward: Double, optimizer: Double)] = []
            var faults = 0, misses = 0, cpu: [Double] = []
            for step in 0..<(max(warmup, 0) + max(steps, 1)) {
                let faultsBefore = minorPageFaults(), missesBefore = BufferPool.shared.currentStatistics.misses
                let cpuBefore = processCPUSeconds()
                model.zeroGrad()
                var loss: Variable?
                let f = seconds { loss = crossEntropy(model(x).logits, targets: labels) }
                let b = seconds { loss?.backward() }
                let o = seconds { optimizer.step() }
                loss = nil
                if step >= warmup {
                    phases.append((f, b, o))
                    cpu.append(processCPUSeconds() - cpuBefore)
                    faults += minorPageFaults() - faultsBefore
                    misses += BufferPool.shared.currentStatistics.misses - missesBefore
                }
            }
            let total = median(phases.map { $0.forward + $0.backward + $0.optimizer })
            let forwardMs = median(evalTimes) * 1e3
            let flop = shape.forwardGigaflop(classes: classes)
            let pool = BufferPool.shared.currentStatistics
            if json {
                var object = JSONObject()
                object.add("benchmark", "train-step")
                object.add("impl", "evdistill")
                object.add("batch", shape.batch)
                object.add("channels", shape.channels)
                object.add("size", shape.size)
                object.add("classes", classes)
                object.add("widths", strings: shape.widthList.map(String.init))
                object.add("parameters", model.parameterCount)
                object.add("ms_per_step", total * 1e3)
                object.add("forward_ms", forwardMs)
                object.add("train_forward_ms", median(phases.map(\.forward)) * 1e3)
                object.add("backward_ms", median(phases.map(\.backward)) * 1e3)
                object.add("optimizer_ms", median(phases.map(\.optimizer)) * 1e3)
                object.add("forward_gflop", flop)
                object.add("forward_gflops", flop / forwardMs * 1e3)
                object.add("cpu_ms_per_step", median(cpu) * 1e3)
                object.add("cores_used", median(cpu) / total)
                object.add("peak_rss_mb", peakResidentMegabytes())
                object.add("page_faults_per_step", Double(faults) / Double(phases.count))
                object.add("pool_misses_per_step", Double(misses) / Double(phases.count))
                object.add("pool_cached_mb", Double(pool.cachedBytes) / 1e6)
                object.add("pool_peak_live_mb", Double(pool.peakLiveBytes) / 1e6)
                object.add("steps", phases.count)
                object.add("threads", availableCores)
                print(object.rendered)
            } else {
                print(String(format: "U-Net %@ on %d×%d×%d×%d, %d classes (%@ parameters)", shape.widthList.map(String.init).joined(separator: "/"),
                             shape.batch, shape.channels, shape.size, shape.size, classes, grouped(model.parameterCount)))
                print(String(format: "  eval forward (no grad): %.1f ms = %.1f GFLOP/s", forwardMs, flop / forwardMs * 1e3))
                print(String(format: "  train step: %.1f ms = forward %.1f + backward %.1f + Adam %.1f (medians of %d)", total * 1e3,
                             median(phases.map(\.forward)) * 1e3, median(phases.map(\.backward)) * 1e3,
                             median(phases.map(\.optimizer)) * 1e3, phases.count))
                print(String(format: "  peak RSS %.0f MB, %.0f page faults and %.0f new pool blocks per step, %d threads",
                             peakResidentMegabytes() ?? .nan, Double(faults) / Double(phases.count),
                             Double(misses) / Double(phases.count), availableCores))
            }
        }
    }
}

/// The network and input the engine benchmarks use (the anchors' reference by default).
struct UNetBenchOptions: ParsableArguments {
    @Option(help: "Batch size.")
    var batch: Int = 8
    @Option(help: "Input channels (voxel-grid bins).")
    var channels: Int = 5
    @Option(help: "Input height and width (divisible by 8).")
    var size: Int = 128
    @Option(help: "Encoder widths, comma-separated.")
    var widths: String = "16,32,64,128"

    var widthList: [Int] { widths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard widthList.count == 4, widthList.allSatisfy({ $0 > 0 }) else { throw ValidationError("--widths needs 4 positive integers") }
        guard batch > 1, channels > 0 else { throw ValidationError("--batch must be at least 2 and --channels positive") }
        guard size > 0, size % 8 == 0 else { throw ValidationError("--size must be a positive multiple of 8") }
    }

    struct Layer {
        let name: String, inputChannels: Int, outputChannels: Int, size: Int
        var isFirst: Bool { name == "enc0.conv1" }
    }

    /// The 14 3×3 convolutions of the U-Net, in forward order.
    func convolutionLayers() -> [Layer] {
        let w = widthList
        let blocks: [(String, Int, Int, Int)] = [
            ("enc0", channels, w[0], size), ("enc1", w[0], w[1], size / 2), ("enc2", w[1], w[2], size / 4),
            ("enc3", w[2], w[3], size / 8), ("dec2", w[3] + w[2], w[2], size / 4), ("dec1", w[2] + w[1], w[1], size / 2),
            ("dec0", w[1] + w[0], w[0], size),
        ]
        return blocks.flatMap { name, cin, cout, s in
            [Layer(name: "\(name).conv1", inputChannels: cin, outputChannels: cout, size: s),
             Layer(name: "\(name).conv2", inputChannels: cout, outputChannels: cout, size: s)]
        }
    }

    /// Convolution GFLOP of one forward (the 3×3 layers and the 1×1 head).
    func forwardGigaflop(classes: Int) -> Double {
        let convs = convolutionLayers().reduce(0.0) {
            $0 + 2.0 * Double(batch * $1.outputChannels * $1.inputChannels * 9 * $1.size * $1.size)
        }
        return (convs + 2.0 * Double(batch * classes * widthList[0] * size * size)) / 1e9
    }
}

/// OpenBLAS sgemm GFLOP/s on size³ float32 matrices, all cores, median of `repeat` runs.
func sgemmGigaflops(size n: Int, repeat count: Int) -> Double {
    var g = SeededGenerator(seed: 2)
    let a = Tensor.randomNormal([n, n], using: &g), b = Tensor.randomNormal([n, n], using: &g)
    let time = medianSeconds(repeat: count) { _ = Tensor.matmul(a, b) }
    return 2.0 * Double(n * n * n) / time / 1e9
}

/// Wall time of `body` in seconds.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    return values.sorted()[values.count / 2]
}

/// Peak resident set size of this process (VmHWM in /proc/self/status), in MB (10⁶ bytes).
func peakResidentMegabytes() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kilobytes * 1024 / 1e6
}

/// CPU time of this process (all threads) so far, in seconds: with wall time it shows how many
/// cores a phase kept busy, which exposes a machine shared with other work.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Minor page faults of this process so far.
func minorPageFaults() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_minflt
}
