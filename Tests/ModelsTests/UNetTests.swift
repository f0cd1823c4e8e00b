import TensorTestSupport
import XCTest
import Models

/// Structure, initialisation, learning and checkpoints of the networks of method.md §2.
final class UNetTests: XCTestCase {
    let small = Architecture.unet(inputChannels: 3, outputChannels: 3, widths: [4, 8, 16, 32])
    var temporary: URL!

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory.appendingPathComponent("evdistill-models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temporary) }

    func testReferenceSizeShapesAndNames() {
        var g = SeededGenerator(seed: 1)
        let model = UNet(inputChannels: 5, outputChannels: 6, using: &g)
        XCTAssertEqual(model.parameterCount, 488_374, "the anchors' reference size")
        let names = model.stateDict().map(\.name)
        XCTAssertEqual(names.first, "enc0.conv1.weight")
        XCTAssertEqual(Array(names.prefix(7)), ["enc0.conv1.weight", "enc0.bn1.weight", "enc0.bn1.bias", "enc0.bn1.running_mean",
                                                "enc0.bn1.running_var", "enc0.bn1.num_batches_tracked", "enc0.conv2.weight"])
        XCTAssertEqual(Array(names.suffix(2)), ["head.weight", "head.bias"])
        XCTAssertEqual(names.count, 7 * 12 + 2)

        let tiny = UNet(small, using: &g)
        let out = withNoGrad { tiny(Variable(Tensor.zeros([2, 3, 24, 16]))) }
        XCTAssertEqual(out.logits.shape, [2, 3, 24, 16])
        XCTAssertEqual(out.bottleneck.shape, [2, 32, 3, 2])
        XCTAssertEqual(out.decoder.shape, [2, 4, 24, 16])
    }

    /// Kaiming-normal, fan_out, ReLU gain: std √(2 / (out·9)); BN weight 1, bias 0; head bias 0.
    func testInitialisationFollowsTheSpec() {
        var g = SeededGenerator(seed: 2)
        let model = UNet(inputChannels: 5, outputChannels: 6, using: &g)
        let weights = model.dec2.conv1.weight.value.scalars  // [64, 192, 3, 3]: 110,592 samples
        let mean = weights.reduce(0.0) { $0 + Double($1) } / Double(weights.count)
        let std = (weights.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(weights.count)).squareRoot()
        let expected = (2.0 / (64 * 9)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 4 * expected / Double(weights.count).squareRoot())
        XCTAssertEqual(std, expected, accuracy: 0.01 * expected)
        XCTAssertEqual(model.enc1.bn2.weight.value.scalars, [Float](repeating: 1, count: 32))
        XCTAssertEqual(model.enc1.bn2.bias.value.scalars, [Float](repeating: 0, count: 32))
        XCTAssertEqual(model.head.bias?.value.scalars, [Float](repeating: 0, count: 6))
    }

    /// Inference (evaluation mode, no gradients) folds each BN into its convolution; it must give
    /// what evaluation mode with gradients (separate conv, BN, ReLU) gives.
    func testInferenceWithFoldedBatchNormMatchesEvaluationMode() {
        let (model, x) = trainedSmallUNet()
        model.eval()
        let folded = withNoGrad { model(Variable(x)) }
        let separate = model(Variable(x))
        // Float32 rounding of W·s instead of (W·x)·s, through 15 layers.
        assertMatchesReference(folded.logits.value, separate.logits.value, tolerance: 1e-5, "logits")
        assertMatchesReference(folded.decoder.value, separate.decoder.value, tolerance: 1e-5, "decoder")
        assertMatchesReference(folded.bottleneck.value, separate.bottleneck.value, tolerance: 1e-5, "bottleneck")
    }

    /// A small U-Net memorises one batch: Adam drives the cross-entropy below a tenth of its
    /// starting value (it starts near ln 3 ≈ 1.1).
    func testSmallUNetOverfitsOneBatch() {
        var g = SeededGenerator(seed: 5)
        let model = UNet(small, using: &g)
        let x = Variable(Tensor.randomNormal([2, 3, 32, 32], using: &g))
        // Labels constant on 4×4 blocks, some ignored: learnable but not trivial.
        let blockLabels = (0..<(2 * 8 * 8)).map { _ in Int(g.next() % 4) }
        let labels = (0..<(2 * 32 * 32)).map { i -> Int in
            let (image, y, x) = (i / 1024, (i / 32) % 32, i % 32)
            let label = blockLabels[image * 64 + (y / 4) * 8 + x / 4]
            return label == 3 ? 255 : label
        }
        let optimizer = Adam(parameters: model.parameters(), learningRate: 1e-2)
        var first: Float = 0, last: Float = 0
        for step in 0..<80 {
            model.zeroGrad()
            let loss = crossEntropy(model(x).logits, targets: labels, ignoreIndex: 255)
            loss.backward()
            optimizer.step()
            if step == 0 { first = loss.value.scalar }
            last = loss.value.scalar
        }
        XCTAssertGreaterThan(first, 0.8)
        XCTAssertLessThan(last, 0.1 * first, "loss went from \(first) to \(last)")
    }

    // MARK: checkpoints

    /// A U-Net after two training steps (running statistics and batch counts away from their
    /// defaults).
    func trainedSmallUNet(seed: UInt64 = 7) -> (UNet, Tensor) {
        var g = SeededGenerator(seed: seed)
        let model = UNet(small, using: &g)
        let x = Tensor.randomNormal([2, 3, 16, 16], using: &g)
        let labels = (0..<(2 * 16 * 16)).map { _ in Int(g.next() % 3) }
        let optimizer = Adam(parameters: model.parameters(), learningRate: 1e-2)
        for _ in 0..<2 {
            model.zeroGrad()
            crossEntropy(model(Variable(x)).logits, targets: labels).backward()
            optimizer.step()
        }
        return (model, x)
    }

    func testCheckpointRoundTripKeepsEveryTensorAndTheArchitecture() throws {
        let (model, x) = trainedSmallUNet()
        let path = temporary.appendingPathComponent("model.safetensors").path
        try model.save(to: path)

        let file = try SafeTensorsFile(contentsOf: path)
        XCTAssertEqual(file.entries["enc0.bn1.num_batches_tracked"]?.dtype, "I64")
        XCTAssertEqual(file.entries["enc0.bn1.num_batches_tracked"]?.shape, [])
        XCTAssertEqual(try file.int64s("dec1.bn2.num_batches_tracked").values, [2])
        XCTAssertEqual(file.entries["head.weight"]?.dtype, "F32")
        XCTAssertEqual(Set(file.entries.keys), Set(model.stateDict().map(\.name)))
        XCTAssertEqual(try Checkpoint.architecture(at: path), small)
        XCTAssertEqual(file.metadata["architecture"], #"{"in_channels":3,"model":"unet","out_channels":3,"widths":[4,8,16,32]}"#)

        let loaded = try UNet(checkpoint: path)
        XCTAssertEqual(loaded.architecture, small)
        for ((name, a), (_, b)) in zip(model.stateDict(), loaded.stateDict()) { XCTAssertEqual(a, b, name) }
        model.eval()
        loaded.eval()
        XCTAssertEqual(withNoGrad { model(Variable(x)).logits.value }, withNoGrad { loaded(Variable(x)).logits.value })

        var g = SeededGenerator(seed: 11)
        let classifier = Classifier(.classifier(inputChannels: 2, classes: 4, widths: [4, 8, 8, 16]), using: &g)
        let classifierPath = temporary.appendingPathComponent("classifier.safetensors").path
        try classifier.save(to: classifierPath)
        let loadedClassifier = try Classifier(checkpoint: classifierPath)
        for ((name, a), (_, b)) in zip(classifier.stateDict(), loadedClassifier.stateDict()) { XCTAssertEqual(a, b, name) }
    }

    /// Writes `model`'s state with `edit` applied, as a checkpoint with `metadata`.
    func writeEdited(_ model: UNet, name: String, metadata: [String: String]? = nil,
                     _ edit: (inout [String: SafeTensorsFile.Value]) -> Void) throws -> String {
        let path = temporary.appendingPathComponent(name).path
        try model.save(to: path)
        let file = try SafeTensorsFile(contentsOf: path)
        var values: [String: SafeTensorsFile.Value] = [:]
        for (key, entry) in file.entries {
            values[key] = entry.dtype == "I64" ? .int64(shape: entry.shape, values: try file.int64s(key).values) : .float32(try file.tensor(key))
        }
        edit(&values)
        try SafeTensorsFile.encode(values: values, metadata: metadata ?? file.metadata).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testLoadingRejectsMismatchedCheckpointsWithTypedErrorsAndChangesNothing() throws {
        let (model, _) = trainedSmallUNet()
        var g = SeededGenerator(seed: 99)
        let target = UNet(small, using: &g)
        let before = target.stateDict()
        func expect(_ path: String, _ expected: CheckpointError, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Checkpoint.load(path, into: target), file: file, line: line) { error in
                XCTAssertEqual(error as? CheckpointError, expected, file: file, line: line)
                XCTAssertTrue("\(error)".hasPrefix(path), "the message names the file: \(error)", file: file, line: line)
            }
            for ((name, a), (_, b)) in zip(before, target.stateDict()) {
                XCTAssertEqual(a, b, "\(name) changed by a failed load", file: file, line: line)
            }
        }

        let missing = try writeEdited(model, name: "missing.safetensors") { $0["head.bias"] = nil }
        expect(missing, .missingTensors(path: missing, names: ["head.bias"]))
        let extra = try writeEdited(model, name: "extra.safetensors") { $0["head.scale"] = .float32(Tensor.ones([3])) }
        expect(extra, .unexpectedTensors(path: extra, names: ["head.scale"]))
        let shape = try writeEdited(model, name: "shape.safetensors") { $0["dec0.conv2.weight"] = .float32(Tensor.zeros([4, 4, 1, 1])) }
        expect(shape, .wrongShape(path: shape, name: "dec0.conv2.weight", expected: [4, 4, 3, 3], found: [4, 4, 1, 1]))
        let dtype = try writeEdited(model, name: "dtype.safetensors") { $0["enc2.bn1.num_batches_tracked"] = .float32(Tensor(2)) }
        expect(dtype, .wrongDType(path: dtype, name: "enc2.bn1.num_batches_tracked", expected: "I64", found: "F32"))
        let nowhere = temporary.appendingPathComponent("absent.safetensors").path
        XCTAssertThrowsError(try UNet(checkpoint: nowhere)) { error in
            guard case .unreadable(let path, _) = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, nowhere)
        }

        let bare = try writeEdited(model, name: "bare.safetensors", metadata: [:]) { _ in }
        XCTAssertThrowsError(try UNet(checkpoint: bare)) { XCTAssertEqual($0 as? CheckpointError, .missingArchitecture(path: bare)) }
        let classifierFile = try writeEdited(model, name: "classifier.safetensors",
                                             metadata: ["architecture": #"{"model":"classifier","in_channels":3,"out_channels":3,"widths":[4,8,16,32]}"#]) { _ in }
        XCTAssertThrowsError(try UNet(checkpoint: classifierFile)) {
            XCTAssertEqual($0 as? CheckpointError, .wrongModel(path: classifierFile, expected: "unet", found: "classifier"))
        }
        let badWidths = try writeEdited(model, name: "widths.safetensors",
                                        metadata: ["architecture": #"{"model":"unet","in_channels":3,"out_channels":3,"widths":[4,8]}"#]) { _ in }
        XCTAssertThrowsError(try UNet(checkpoint: badWidths)) { error in
            guard case .invalidArchitecture(badWidths, let reason) = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("4 channel counts"), reason)
        }
    }

    func testSavingIntoAMissingFolderFailsWithoutLeavingAFile() {
        let (model, _) = trainedSmallUNet()
        let folder = temporary.appendingPathComponent("no-such-folder")
        let path = folder.appendingPathComponent("model.safetensors").path
        XCTAssertThrowsError(try model.save(to: path)) { error in
            guard case .unwritable(path, _) = error as? CheckpointError else { return XCTFail("\(error)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path))
    }

    /// Our checkpoint loads into the reference PyTorch model (`safetensors.torch.load_file` +
    /// `load_state_dict(strict=True)`) and gives our logits, in evaluation mode, for the U-Net
    /// and the classifier. Needs the venv of Tools/engine/make_goldens.sh.
    func testCheckpointLoadsIntoPyTorchAndGivesTheSameLogits() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".venv-torch/bin/python").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: python),
                          "SKIPPED: \(python) not found; run Tools/engine/make_goldens.sh to create the PyTorch venv for this check")

        let (unet, x) = trainedSmallUNet()
        var g = SeededGenerator(seed: 12)
        let classifier = Classifier(.classifier(inputChannels: 3, classes: 5, widths: [4, 8, 16, 32]), using: &g)
        var cases: [(String, any CheckpointableModel, Tensor)] = []
        unet.eval()
        cases.append(("unet", unet, withNoGrad { unet(Variable(x)).logits.value }))
        classifier.eval()
        cases.append(("classifier", classifier, withNoGrad { classifier(Variable(x)).logits.value }))

        for (name, model, logits) in cases {
            let checkpoint = temporary.appendingPathComponent("\(name).safetensors").path
            let expected = temporary.appendingPathComponent("\(name)-logits.safetensors").path
            try model.save(to: checkpoint)
            try SafeTensorsFile.encode(["x": x, "logits": logits]).write(to: URL(fileURLWithPath: expected))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [root.appendingPathComponent("Tools/engine/check_export.py").path, checkpoint, expected]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "\(name): check_export.py failed:\n\(output)")
            XCTAssertTrue(output.contains("\"ok\": true"), "\(name): \(output)")
        }
    }
}
