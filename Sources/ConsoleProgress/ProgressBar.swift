import Foundation

/// Progress of long work on stderr: a redrawn bar with rate and ETA on a terminal, a plain line
/// every few seconds otherwise (logs, CI), nothing when quiet. stdout stays free for `--json`.
public final class ProgressBar {
    public let label: String
    public let total: Int
    public let unit: String
    private let mode: Mode
    private let start = Date()
    private var completed = 0
    private var lastDraw = Date.distantPast
    private var extra = ""

    enum Mode { case terminal, lines, quiet }

    public init(label: String, total: Int, unit: String = "", quiet: Bool = false) {
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        if quiet { mode = .quiet } else { mode = isatty(STDERR_FILENO) != 0 ? .terminal : .lines }
    }

    /// Adds `count` finished units; `note` (e.g. "loss 0.31") is shown beside the bar.
    public func advance(by count: Int = 1, note: String? = nil) {
        completed = min(completed + count, total)
        if let note { extra = note }
        let now = Date()
        let interval: TimeInterval = mode == .terminal ? 0.1 : 10
        // Plain lines skip the 100 % line here: finish() prints the final one with the total time.
        if now.timeIntervalSince(lastDraw) >= interval || (completed == total && mode == .terminal) {
            lastDraw = now
            draw(final: false)
        }
    }

    /// Draws the final state and ends the line.
    public func finish() {
        draw(final: true)
    }

    private func draw(final: Bool) {
        guard mode != .quiet else { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(completed) / elapsed : 0
        let remaining = rate > 0 ? Double(total - completed) / rate : 0
        let fraction = total > 0 ? Double(completed) / Double(total) : 1
        let note = extra.isEmpty ? "" : "  \(extra)"
        let stats = "\(completed)/\(total)\(unit.isEmpty ? "" : " " + unit)  \(Self.format(rate: rate)) \(unit.isEmpty ? "it" : unit)/s"
            + (final ? "  \(Self.format(seconds: elapsed))" : "  ETA \(Self.format(seconds: remaining))") + note
        switch mode {
        case .terminal:
            let width = 28
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let line = "\r\u{1B}[2K\(label) \(bar) \(Int(fraction * 100))%  \(stats)"
            FileHandle.standardError.write(Data((line + (final ? "\n" : "")).utf8))
        case .lines:
            FileHandle.standardError.write(Data("\(label): \(Int(fraction * 100))%  \(stats)\n".utf8))
        case .quiet:
            break
        }
    }

    static func format(rate: Double) -> String {
        switch rate {
        case 1e9...: return String(format: "%.1fG", rate / 1e9)
        case 1e6...: return String(format: "%.1fM", rate / 1e6)
        case 1e3...: return String(format: "%.1fk", rate / 1e3)
        default: return String(format: "%.1f", rate)
        }
    }

    static func format(seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
