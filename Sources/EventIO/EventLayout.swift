import HDF5

/// The on-disk layouts EventDistill reads (formats.md §1).
public enum EventLayout: String, CaseIterable, Sendable {
    /// `/events/{x,y,t,p}`, `/ms_to_idx`, `/t_offset` (DSEC, Gehrig et al. 2021).
    case dsec
    /// `/davis/left/events` float64 [N, 4]: x, y, t (s), p (MVSEC, Zhu et al. 2018).
    case mvsec
    /// `x, y, t, p` at the root or under `/events`.
    case plain
    /// `/CD/events` compound table (Prophesee Metavision): recognised, explained, not read.
    case prophesee

    /// The sensor each layout's own camera has, used when the file states no size.
    var defaultSensor: (width: Int, height: Int)? {
        switch self {
        case .dsec: return (640, 480)
        case .mvsec: return (346, 260)
        case .plain, .prophesee: return nil
        }
    }

    /// Guesses the layout from which datasets exist.
    static func detect(in file: HDF5File) -> EventLayout? {
        if file.exists("/CD/events") { return .prophesee }
        if file.isDataset("/davis/left/events") { return .mvsec }
        let underEvents = ["x", "y", "t", "p"].allSatisfy { file.isDataset("/events/\($0)") }
        if underEvents && file.exists("/ms_to_idx") { return .dsec }
        if underEvents { return .plain }
        if ["x", "y", "t", "p"].allSatisfy({ file.isDataset("/\($0)") }) { return .plain }
        // Partly there: say DSEC when its index is, so the error names the missing dataset.
        if file.exists("/events") && file.exists("/ms_to_idx") { return .dsec }
        if file.exists("/events") { return .plain }
        if file.exists("/davis") { return .mvsec }
        return nil
    }
}

/// `--format`: a layout, or `auto` to detect it.
public enum EventFormatChoice: String, CaseIterable, Sendable {
    case auto, dsec, mvsec, plain
}
