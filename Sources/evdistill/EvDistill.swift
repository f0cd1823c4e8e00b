import ArgumentParser
import AtomicFiles
import EventIO
import Foundation

@main
struct EvDistill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evdistill",
        abstract: "Event-camera recordings to tensors, and image-to-event knowledge distillation.",
        discussion: """
        Exit status: 0 success, 1 bad input or failed run (one line on stderr, no partial output), \
        2 usage error, 130 / 143 interrupted by SIGINT / SIGTERM (no partial output either).
        """,
        version: evdistillVersion,
        subcommands: [Inspect.self, Convert.self, Render.self, Simulate.self, Train.self, Distill.self, Predict.self, Score.self, Export.self, Bench.self]
    )

    /// argument-parser exits with EX_USAGE (64) on Linux for usage errors; our contract
    /// (formats.md §5) is 2, so usage errors are mapped here and everything else passes through.
    static func main() {
        // Before any output file exists, so no interrupt can find one unguarded.
        AtomicOutput.removeTemporaryFilesOnInterrupt()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
