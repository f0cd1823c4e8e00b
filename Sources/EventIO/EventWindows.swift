import HDF5

/// How a recording is cut into windows (formats.md §2).
public enum WindowSpec: Sendable, Equatable {
    /// Window k covers [t_a + kD, t_a + (k+1)D) µs.
    case duration(microseconds: Int64)
    /// Consecutive runs of K events.
    case eventCount(Int)
}

/// Events `range` of `packet`: a view into a buffered block, so streaming does not copy.
public struct EventSlice {
    public let packet: EventPacket
    public let range: Range<Int>
    public init(packet: EventPacket, range: Range<Int>) { self.packet = packet; self.range = range }
    public init(_ packet: EventPacket) { self.init(packet: packet, range: 0..<packet.count) }
    public var count: Int { range.count }
}

/// One window of a recording.
public struct EventWindow: Sendable, Equatable {
    public let index: Int
    /// [tStart, tEnd) in absolute µs. For event-count windows: first event's t to last event's t + 1.
    public let tStart: Int64
    public let tEnd: Int64
    /// Indices of the window's events in the file.
    public let events: Range<Int>
    /// Timestamps of the window's first and last event (nil when the window is empty).
    public let tFirst: Int64?
    public let tLast: Int64?

    public init(index: Int, tStart: Int64, tEnd: Int64, events: Range<Int>, tFirst: Int64?, tLast: Int64?) {
        self.index = index
        self.tStart = tStart
        self.tEnd = tEnd
        self.events = events
        self.tFirst = tFirst
        self.tLast = tLast
    }
}

/// Cuts a recording into consecutive windows and streams each window's events in bounded
/// blocks. Memory stays at one block (`blockSize` events) whatever the file or window size.
///
/// Window ends are found inside the buffered block when they fall there (the usual case), else
/// with `EventFile.firstIndex(atOrAfter:)` (DSEC's `ms_to_idx`, a binary search elsewhere).
public final class WindowedEventReader {
    public let file: EventFile
    public let spec: WindowSpec
    public let windowCount: Int
    /// Absolute µs the first duration window starts at (t_a), and the end of the range.
    public let rangeStart: Int64
    public let rangeEnd: Int64
    /// Event indices inside the requested range.
    public let events: Range<Int>
    let blockSize: Int

    private var block = EventPacket()
    private var blockStart = 0
    private var position: Int
    private var nextWindowIndex = 0
    /// End of the current window's events (= start of the next window).
    private var pendingEnd: Int

    /// - Parameters:
    ///   - start, end: absolute µs of the requested range; nil = from the first event's
    ///     millisecond / to just after the last event.
    public init(file: EventFile, spec: WindowSpec, start: Int64? = nil, end: Int64? = nil, blockSize: Int = 1 << 20) throws {
        self.file = file
        self.spec = spec
        self.blockSize = max(blockSize, 1)
        guard file.count > 0 else {
            throw FileError(file: file.path, problem: "the recording holds no events")
        }
        if let start, let end, end <= start {
            throw FileError(file: file.path, problem: "empty time range: end \(end) µs is not after start \(start) µs")
        }
        let first = start.map { try? file.firstIndex(atOrAfter: $0) } ?? 0
        let last = end.map { try? file.firstIndex(atOrAfter: $0) } ?? file.count
        guard let firstIndex = first, let endIndex = last else {
            // Re-run to surface the reader's own error.
            _ = try start.map { try file.firstIndex(atOrAfter: $0) }
            _ = try end.map { try file.firstIndex(atOrAfter: $0) }
            throw FileError(file: file.path, problem: "cannot locate the requested time range")
        }
        guard firstIndex < endIndex else {
            let describe = { (t: Int64?) in t.map { "\($0) µs" } ?? "the end" }
            throw FileError(file: file.path, problem: "no events in the requested range [\(describe(start)), \(describe(end))) (empty window)")
        }
        events = firstIndex..<endIndex
        position = firstIndex
        pendingEnd = firstIndex
        blockStart = firstIndex
        let firstT = try file.timestamp(at: firstIndex)
        let lastT = try file.timestamp(at: endIndex - 1)
        rangeStart = start ?? Self.floorToMillisecond(firstT)
        rangeEnd = end ?? (lastT + 1)
        switch spec {
        case .duration(let microseconds):
            guard microseconds > 0 else { throw FileError(file: file.path, problem: "window duration must be positive") }
            windowCount = Int((rangeEnd - rangeStart + microseconds - 1) / microseconds)
        case .eventCount(let k):
            guard k > 0 else { throw FileError(file: file.path, problem: "events per window must be positive") }
            windowCount = (events.count + k - 1) / k
        }
    }

    static func floorToMillisecond(_ t: Int64) -> Int64 {
        t >= 0 ? t / 1000 * 1000 : -((-t + 999) / 1000 * 1000)
    }

    /// Makes `index` part of the buffered block (reading the next block when needed).
    private func ensureBuffered(_ index: Int) throws {
        if index >= blockStart && index < blockStart + block.count { return }
        let upper = min(index + blockSize, events.upperBound)
        try file.read(index..<upper, into: &block)
        blockStart = index
    }

    private func timestamp(_ index: Int) throws -> Int64 {
        if index >= blockStart && index < blockStart + block.count { return block.t[index - blockStart] }
        return try file.timestamp(at: index)
    }

    /// First event index ≥ `position` with t ≥ `time`, within the range.
    private func endIndex(before time: Int64) throws -> Int {
        if position < events.upperBound {
            try ensureBuffered(position)
            let bufferedEnd = blockStart + block.count
            if let lastBuffered = block.t.last, lastBuffered >= time {
                return blockStart + block.firstIndex(atOrAfter: time, in: (position - blockStart)..<block.count)
            }
            if bufferedEnd >= events.upperBound { return events.upperBound }
        }
        return min(max(try file.firstIndex(atOrAfter: time), position), events.upperBound)
    }

    /// The next window, or nil after the last. Call `nextSlice(of:)` until it returns nil before
    /// asking for the next window.
    public func nextWindow() throws -> EventWindow? {
        guard nextWindowIndex < windowCount else { return nil }
        let k = nextWindowIndex
        nextWindowIndex += 1
        // A window starts where the previous one ended, whether or not its slices were read.
        position = pendingEnd
        let range: Range<Int>
        var tStart: Int64, tEnd: Int64
        switch spec {
        case .duration(let d):
            tStart = rangeStart + Int64(k) * d
            tEnd = min(tStart + d, rangeEnd)
            range = position..<(k == windowCount - 1 ? events.upperBound : try endIndex(before: tEnd))
        case .eventCount(let n):
            let lower = events.lowerBound + k * n
            range = lower..<min(lower + n, events.upperBound)
            tStart = 0
            tEnd = 0
        }
        var tFirst: Int64?, tLast: Int64?
        if !range.isEmpty {
            try ensureBuffered(range.lowerBound)
            tFirst = try timestamp(range.lowerBound)
            tLast = try timestamp(range.upperBound - 1)
        }
        if case .eventCount = spec, let tFirst, let tLast {
            tStart = tFirst
            tEnd = tLast + 1
        }
        pendingEnd = range.upperBound
        return EventWindow(index: k, tStart: tStart, tEnd: tEnd, events: range, tFirst: tFirst, tLast: tLast)
    }


    /// The next run of the current window's events (at most one block), or nil when done.
    public func nextSlice() throws -> EventSlice? {
        guard position < pendingEnd else { return nil }
        try ensureBuffered(position)
        let lower = position - blockStart
        let upper = min(pendingEnd, blockStart + block.count) - blockStart
        position = blockStart + upper
        return EventSlice(packet: block, range: lower..<upper)
    }
}
