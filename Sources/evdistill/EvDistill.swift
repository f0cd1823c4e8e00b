import ArgumentParser
import EventIO

@main
struct EvDistill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evdistill",
        abstract: "Event-camera recordings to tensors, and image-to-event knowledge distillation.",
        discussion: """
        Exit status: 0 success, 1 bad input or failed run (one line on stderr, no partial output), \
        2 usage error.
        """,
        version: evdistillVersion,
        subcommands: [Inspect.self, Convert.self, Render.self, Bench.self]
    )
}
