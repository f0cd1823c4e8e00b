import Foundation

/// A cache of large, 64-byte-aligned memory blocks that tensors reuse instead of asking the
/// system for fresh ones.
///
/// Why: a training step allocates and frees the same few hundred megabytes of activations and
/// gradients every step. glibc serves blocks above its mmap threshold (at most 32 MB) with a
/// fresh `mmap` and trims its heap when much is freed, so every step would touch new pages, and
/// each first touch is a page fault that zero-fills 4 KB (measured: 1.6 M faults in 9 s of
/// U-Net training). Blocks kept here stay mapped and resident, so the next step's tensors of the
/// same sizes reuse warm memory.
///
/// Blocks of `minimumPooledBytes` or more are rounded up to a size class (eighths of an octave,
/// so at most 12.5 % of address space is wasted; pages a tensor never touches are never made
/// resident) and cached when freed. A request takes a cached block of its class or else the
/// smallest cached one up to twice its size: the larger block's pages are resident already, so
/// this costs no memory, and it spares a fresh block whenever a step needs its sizes in another
/// order than the step before. The pool never holds much more than the program's peak demand:
/// when a request misses and `live + cached` would exceed the largest `live` seen so far plus an
/// eighth, cached blocks (largest first) go back to the system. A steady training loop therefore
/// reaches a fixed point after its first steps, with a resident size close to its peak need.
/// Smaller blocks go straight to `malloc`, which handles them well. Thread-safe.
public final class BufferPool: @unchecked Sendable {
    /// The pool every `Tensor` allocates from.
    public static let shared = BufferPool()

    /// Requests below this many bytes bypass the pool.
    public static let minimumPooledBytes = 1 << 16
    /// Alignment of every block (a cache line; also what AVX-512 loads prefer).
    public static let alignment = 64

    /// Byte counts of the pool's blocks.
    public struct Statistics: Sendable, Equatable {
        /// Bytes in blocks currently handed out (size-class bytes).
        public var liveBytes: Int
        /// Bytes in cached free blocks.
        public var cachedBytes: Int
        /// The largest `liveBytes` seen; a miss evicts cached blocks until `live + cached` is at
        /// most this plus an eighth.
        public var peakLiveBytes: Int
        /// Requests served from the cache, and requests that needed a new block.
        public var hits: Int, misses: Int
    }

    private let lock = NSLock()
    private var freeBlocks: [Int: [UnsafeMutableRawPointer]] = [:]
    /// The block size of every block handed out (a request may get a larger class's block).
    private var outstanding: [UnsafeMutableRawPointer: Int] = [:]
    private var statistics = Statistics(liveBytes: 0, cachedBytes: 0, peakLiveBytes: 0, hits: 0, misses: 0)

    public init() {}

    /// The block size a request of `bytes` is served with: `bytes` rounded up to the next
    /// multiple of 1/8 of its octave (and of 64 bytes).
    public static func classBytes(for bytes: Int) -> Int {
        guard bytes >= minimumPooledBytes else { return max(bytes, 1) }
        let octave = Int.bitWidth - 1 - bytes.leadingZeroBitCount  // 2^octave ≤ bytes
        let step = max(1 << (octave - 3), alignment)
        return (bytes + step - 1) / step * step
    }

    /// A block of at least `bytes` bytes, aligned to `alignment`; contents undefined.
    public func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let size = Self.classBytes(for: bytes)
        guard bytes >= Self.minimumPooledBytes else {
            return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: Self.alignment)
        }
        lock.lock()
        if let blockSize = cachedClass(atLeast: size), var blocks = freeBlocks[blockSize], let block = blocks.popLast() {
            freeBlocks[blockSize] = blocks.isEmpty ? nil : blocks
            outstanding[block] = blockSize
            statistics.cachedBytes -= blockSize
            statistics.liveBytes += blockSize
            statistics.peakLiveBytes = max(statistics.peakLiveBytes, statistics.liveBytes)
            statistics.hits += 1
            lock.unlock()
            return block
        }
        statistics.misses += 1
        statistics.liveBytes += size
        statistics.peakLiveBytes = max(statistics.peakLiveBytes, statistics.liveBytes)
        let evicted = evictLocked(toAtMost: heldLimitLocked - statistics.liveBytes)
        let block = Self.newBlock(bytes: size)
        outstanding[block] = size
        lock.unlock()
        for old in evicted { free(old) }
        return block
    }

    /// Returns a block obtained from `allocate(bytes:)` with the same `bytes`.
    public func deallocate(_ block: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= Self.minimumPooledBytes else {
            block.deallocate()
            return
        }
        lock.lock()
        guard let size = outstanding.removeValue(forKey: block) else {
            lock.unlock()
            preconditionFailure("BufferPool: deallocating a block it did not hand out")
        }
        freeBlocks[size, default: []].append(block)
        statistics.liveBytes -= size
        statistics.cachedBytes += size
        lock.unlock()
    }

    /// Blocks of at least this many bytes are aligned to it and marked `MADV_HUGEPAGE`, so that
    /// the kernel backs them with 2 MB pages where transparent huge pages are enabled (Debian's
    /// default is "madvise": only for memory that asks). Activations are walked as 8–64 planes
    /// a whole plane apart at once (a conv's 8 channels per vector, batch-norm's planes), which
    /// with 4 KB pages touches a new page every few rows of each. `evdistill bench conv`, sums
    /// of per-layer minima over 5 alternating rounds: 154 → 147 ms; peak RSS of a training step
    /// 290 → 296–316 MB (untouched parts of a huge page are resident too). `EVDISTILL_THP=0`
    /// turns it off.
    static let hugePageBytes = 1 << 21
    static let hugePagesWanted = ProcessInfo.processInfo.environment["EVDISTILL_THP"] != "0"

    /// A fresh pooled block (released with `free`).
    private static func newBlock(bytes: Int) -> UnsafeMutableRawPointer {
        var block: UnsafeMutableRawPointer?
        let huge = hugePagesWanted && bytes >= hugePageBytes
        // Whole huge pages: a tail past the last 2 MB boundary could not have one.
        let mapped = huge ? (bytes + hugePageBytes - 1) / hugePageBytes * hugePageBytes : bytes
        let status = posix_memalign(&block, huge ? hugePageBytes : alignment, mapped)
        guard status == 0, let block else { fatalError("BufferPool: cannot allocate \(bytes) bytes (error \(status))") }
        if huge { _ = madvise(block, mapped, MADV_HUGEPAGE) }
        return block
    }

    /// The most bytes the pool holds (live + cached) before a miss evicts: the peak live bytes
    /// plus an eighth. Without the slack a step that needs its sizes in another order than the
    /// step before evicts blocks the next step needs again (measured on the reference U-Net:
    /// 19 fresh blocks and 550 page faults per step; with it, none).
    private var heldLimitLocked: Int { statistics.peakLiveBytes + statistics.peakLiveBytes / 8 }

    /// The smallest class with a cached block of `size` to `2·size` bytes.
    private func cachedClass(atLeast size: Int) -> Int? {
        if freeBlocks[size] != nil { return size }
        var best: Int?
        for candidate in freeBlocks.keys where candidate > size && candidate <= 2 * size {
            if best.map({ candidate < $0 }) ?? true { best = candidate }
        }
        return best
    }

    /// Gives every cached block back to the system (e.g. after a phase that needed much more
    /// memory than what follows).
    public func trim() {
        lock.lock()
        let evicted = evictLocked(toAtMost: 0)
        statistics.peakLiveBytes = statistics.liveBytes
        lock.unlock()
        for block in evicted { free(block) }
    }

    /// Current byte counts.
    public var currentStatistics: Statistics {
        lock.lock()
        defer { lock.unlock() }
        return statistics
    }

    /// Removes cached blocks, largest first, until at most `limit` bytes stay cached; returns
    /// them for deallocation outside the lock.
    private func evictLocked(toAtMost limit: Int) -> [UnsafeMutableRawPointer] {
        guard statistics.cachedBytes > limit else { return [] }
        var evicted: [UnsafeMutableRawPointer] = []
        for size in freeBlocks.keys.sorted(by: >) {
            guard var blocks = freeBlocks[size] else { continue }
            while statistics.cachedBytes > limit, let block = blocks.popLast() {
                evicted.append(block)
                statistics.cachedBytes -= size
            }
            freeBlocks[size] = blocks.isEmpty ? nil : blocks
            if statistics.cachedBytes <= limit { break }
        }
        return evicted
    }

    /// Runs `body` with a scratch buffer of `count` floats from the pool (contents undefined),
    /// returned to the pool afterwards. For per-task workspaces such as im2col tiles.
    public func withScratch<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let block = allocate(bytes: bytes)
        defer { deallocate(block, bytes: bytes) }
        return try body(block.bindMemory(to: Float.self, capacity: max(count, 1)))
    }
}
