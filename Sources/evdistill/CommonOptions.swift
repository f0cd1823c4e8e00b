import ArgumentParser
import EventIO

/// `--format`, `--width`, `--height`: how to read a recording.
struct ReaderOptions: ParsableArguments {
    @Option(help: "Input layout: auto, dsec, mvsec or plain.")
    var format: EventFormatChoice = .auto

    @Option(help: "Sensor width in pixels (default: file attributes, else the layout's camera).")
    var width: Int?

    @Option(help: "Sensor height in pixels (default: file attributes, else the layout's camera).")
    var height: Int?

    func validate() throws {
        if (width == nil) != (height == nil) { throw ValidationError("give --width and --height together") }
        if let width, width <= 0 { throw ValidationError("--width must be positive") }
        if let height, height <= 0 { throw ValidationError("--height must be positive") }
    }

    var fileOptions: EventFileOptions { EventFileOptions(format: format, width: width, height: height) }
}

extension EventFormatChoice: ExpressibleByArgument {}

/// What every training command takes: the run folder, the schedule, the network's widths.
struct RunOptions: ParsableArguments {
    @Option(help: "Run folder.")
    var out: String
    @Option(help: "Epochs.")
    var epochs: Int = 10
    @Option(help: "Samples per batch.")
    var batchSize: Int = 8
    @Option(help: "Initial learning rate (Adam, poly decay).")
    var lr: Float = 2e-3
    @Option(help: "Random seed (initialisation, shuffling, augmentation, label subsets).")
    var seed: UInt64 = 0
    @Option(help: "U-Net widths, comma-separated (four).")
    var widths: String = "16,32,64,128"
    @Flag(help: "Continue the run in --out.")
    var resume = false
    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard epochs > 0, batchSize > 0, lr > 0 else { throw ValidationError("--epochs, --batch-size and --lr must be positive") }
        let w: [Int] = try parseList(widths, "--widths")
        guard w.count == 4, w.allSatisfy({ $0 > 0 }) else { throw ValidationError("--widths needs four positive numbers") }
    }
}

/// Formats a count with thousands separators (1,234,567).
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { result.append(",") }
        result.append(c)
    }
    return (value < 0 ? "-" : "") + result
}

/// Renders a JSON object with keys in the given order (stable output for scripts and tests).
struct JSONObject {
    private var entries: [(String, String)] = []

    mutating func add(_ key: String, _ value: String?) { entries.append((key, value.map(quoted) ?? "null")) }
    mutating func add(_ key: String, _ value: Int?) { entries.append((key, value.map(String.init) ?? "null")) }
    mutating func add(_ key: String, _ value: Int64?) { entries.append((key, value.map(String.init) ?? "null")) }
    mutating func add(_ key: String, _ value: Double?) {
        entries.append((key, value.map { $0.isFinite ? "\($0)" : "null" } ?? "null"))
    }
    mutating func add(_ key: String, _ value: Bool?) { entries.append((key, value.map { $0 ? "true" : "false" } ?? "null")) }
    mutating func add(_ key: String, object: JSONObject) { entries.append((key, object.rendered)) }
    mutating func add(_ key: String, strings: [String]) {
        entries.append((key, "[" + strings.map(quoted).joined(separator: ", ") + "]"))
    }

    var rendered: String { "{" + entries.map { "\(quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}" }

    private func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

import Foundation
