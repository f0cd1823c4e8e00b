import ArgumentParser
import Foundation
import Models

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model as safetensors that the reference PyTorch U-Net loads with load_state_dict.",
        discussion: """
        The file holds every parameter and BatchNorm buffer under its PyTorch state-dict name (float32; \
        num_batches_tracked as int64) and the architecture as JSON in the metadata. In Python:

            from safetensors.torch import load_file
            model = UNet(cin, cout, widths)            # method.md §2
            model.load_state_dict(load_file("model.safetensors"))

        Tools/engine/check_export.py does this and compares logits with ours.
        """
    )

    @Option(help: "Checkpoint to export (e.g. RUN/model.safetensors).")
    var checkpoint: String

    @Option(name: .shortAndLong, help: "Output .safetensors.")
    var output: String

    func run() throws {
        let model = try UNet(checkpoint: checkpoint)  // checks names, shapes and dtypes
        try model.save(to: output)
        let a = model.architecture
        print("\(output): U-Net \(a.inputChannels) → \(a.outputChannels), widths \(a.widths), \(model.parameterCount) parameters")
    }
}
