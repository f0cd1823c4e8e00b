import CPUHints
import Dispatch
import Foundation
import Synchronization

/// Runs `body(0) ... body(iterations − 1)` on all cores and returns when all are done.
///
/// The calling thread and `WorkerPool`'s threads claim iterations one at a time. A call made
/// from inside another's body, or while another thread's call is running, falls back to
/// `DispatchQueue.concurrentPerform` (nested calls find the cores busy anyway).
/// The closure is not `@Sendable`: kernels hand disjoint slices of raw buffers to each
/// iteration, which Swift cannot prove safe. Each caller is responsible for iterations touching
/// disjoint memory.
public func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    guard iterations > 0 else { return }
    if iterations == 1 { body(0); return }
    withoutActuallyEscaping(body) { body in
        if WorkerPool.shared.run(iterations, body) { return }
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
    }
}

/// `availableCores − 1` threads that run `parallelFor`'s iterations with the calling thread.
///
/// Why not only `DispatchQueue.concurrentPerform`: its worker threads sleep between calls, and
/// a sleeping thread takes 35–65 µs to join a call (measured here: two 200 µs halves took
/// 234–265 µs), while a training step makes hundreds of calls of 0.1–2 ms each. These workers
/// spin (with `pause`) for `spinLimit` rounds after each call before they sleep, so the next
/// call, usually microseconds later, finds them awake.
///
/// Protocol: `published` holds the current call's generation (high 32 bits) and iteration count
/// (low 32); `claim` holds the generation and the next unclaimed iteration. A thread claims
/// iteration i of generation g by compare-and-swap only while i < count, so a successful claim
/// means the call is still running (it waits for `finished` to reach the count), and its body
/// is still the one published: a worker that wakes late cannot run a stale body.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: max(availableCores - 1, 0))

    /// Pause instructions a worker spins for before it sleeps: ≈ 0.65 ms here (32 ns each).
    static let spinLimit = 20_000

    private let published = Atomic<UInt64>(0)
    private let claim = Atomic<UInt64>(0)
    private let finished = Atomic<Int>(0)
    /// Set while a call runs: a second caller falls back to Dispatch.
    private let busy = Atomic<Bool>(false)
    /// Per worker: `sleeping` is 1 while it sleeps on `wakeUp` (or is about to).
    private final class Slot: Sendable {
        let sleeping = Atomic<Int>(0)
        let wakeUp = DispatchSemaphore(value: 0)
    }
    private let slots: [Slot]
    /// The running call's body; written before `published`, read after a successful claim.
    private var body: ((Int) -> Void)?
    private var generation: UInt64 = 0
    /// Calls run here rather than by Dispatch (for the tests).
    let callsRun = Atomic<Int>(0)

    /// Whether the current thread is running an iteration (nested calls run elsewhere).
    private static let insideKey = ThreadLocalFlag()

    init(workers: Int) {
        slots = (0..<workers).map { _ in Slot() }
        for index in 0..<workers {
            let thread = Thread { [unowned self] in self.work(index) }
            thread.name = "evdistill-worker-\(index)"
            thread.start()
        }
    }

    /// Runs the call and returns true, or returns false when this thread is inside an
    /// iteration or another call is running (the caller then uses Dispatch).
    func run(_ iterations: Int, _ body: @escaping (Int) -> Void) -> Bool {
        guard !slots.isEmpty, iterations < Int(UInt32.max), !Self.insideKey.isSet else { return false }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        generation = (generation + 1) & 0xFFFF_FFFF
        let g = generation
        finished.store(0, ordering: .relaxed)
        claim.store(g << 32, ordering: .releasing)
        self.body = body
        published.store(g << 32 | UInt64(iterations), ordering: .sequentiallyConsistent)
        for slot in slots where slot.sleeping.exchange(0, ordering: .sequentiallyConsistent) == 1 { slot.wakeUp.signal() }
        runClaims(generation: g, iterations: iterations)
        while finished.load(ordering: .acquiring) < iterations { evd_spin_pause() }
        self.body = nil
        callsRun.add(1, ordering: .relaxed)
        return true
    }

    /// Claims and runs iterations of generation g until none are left.
    private func runClaims(generation g: UInt64, iterations: Int) {
        var word = claim.load(ordering: .relaxed)
        while word >> 32 == g, Int(word & 0xFFFF_FFFF) < iterations {
            let (exchanged, original) = claim.compareExchange(expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
            guard exchanged else { word = original; continue }
            Self.insideKey.isSet = true
            body!(Int(word & 0xFFFF_FFFF))
            Self.insideKey.isSet = false
            finished.add(1, ordering: .releasing)
            word = claim.load(ordering: .relaxed)
        }
    }

    private func work(_ index: Int) {
        let slot = slots[index]
        var seen: UInt64 = 0
        while true {
            var spins = 0
            var job = published.load(ordering: .acquiring)
            while job >> 32 == seen {
                if spins < Self.spinLimit {
                    evd_spin_pause()
                    spins += 1
                } else {
                    // Announce the sleep, then look once more: a call published after this
                    // look sees the flag and signals; one published before it is seen here.
                    slot.sleeping.store(1, ordering: .sequentiallyConsistent)
                    job = published.load(ordering: .sequentiallyConsistent)
                    if job >> 32 != seen {
                        // Cancel the sleep; if the caller already took the flag it signalled too.
                        if slot.sleeping.exchange(0, ordering: .sequentiallyConsistent) == 0 { slot.wakeUp.wait() }
                        break
                    }
                    slot.wakeUp.wait()
                    spins = 0
                }
                job = published.load(ordering: .acquiring)
            }
            seen = job >> 32
            runClaims(generation: seen, iterations: Int(job & 0xFFFF_FFFF))
        }
    }
}

/// A per-thread boolean (pthread key): Swift has no stored thread-locals.
final class ThreadLocalFlag: @unchecked Sendable {
    private var key = pthread_key_t()
    init() { pthread_key_create(&key, nil) }
    var isSet: Bool {
        get { pthread_getspecific(key) != nil }
        set { pthread_setspecific(key, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
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
