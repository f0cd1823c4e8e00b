import Dispatch
import Foundation

/// Runs `body(0) ... body(iterations − 1)` on all cores and returns when all are done.
///
/// A thin wrapper over `DispatchQueue.concurrentPerform` whose closure is not `@Sendable`:
/// kernels hand disjoint slices of raw buffers to each iteration, which Swift cannot prove safe.
/// Each caller is responsible for iterations touching disjoint memory.
public func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    guard iterations > 0 else { return }
    if iterations == 1 { body(0); return }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
    }
}

/// The number of cores to split work over.
public var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }

/// Splits `0..<count` into at most `availableCores` contiguous parts of at least `minimumPart`
/// elements and runs `body(part, range)` for each in parallel. Part boundaries depend only on
/// `count`, `minimumPart` and the core count.
public func parallelRanges(_ count: Int, minimumPart: Int, _ body: (Int, Range<Int>) -> Void) {
    let parts = max(1, min(availableCores, count / max(minimumPart, 1)))
    parallelFor(parts) { part in
        body(part, (count * part / parts)..<(count * (part + 1) / parts))
    }
}

/// Number of parts `parallelRanges` will use for `count` elements.
public func parallelPartCount(_ count: Int, minimumPart: Int) -> Int {
    max(1, min(availableCores, count / max(minimumPart, 1)))
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
