import CBlosc
import Foundation
import HDF5
import ParallelLoops

/// Reads element ranges of a 1-D numeric dataset as native bytes of its stored type, in two
/// steps so that decoding runs on all cores:
///
/// 1. `stage(range)` does the libhdf5 I/O on the calling thread (libhdf5 is not thread-safe):
///    for DSEC's Blosc-compressed columns it fetches the still-compressed chunks with
///    `H5Dread_chunk`; for any other storage (contiguous, gzip, ...) libhdf5 reads the range.
/// 2. `StagedColumn.withPiece` hands out the range piece by piece — decompressing a Blosc chunk
///    into a small per-thread scratch buffer — from any thread, so the caller converts each
///    piece while it is still in cache.
final class RawColumnReader {
    let dataset: HDF5Dataset
    let elementType: HDF5ElementType
    private let bloscChunkLength: Int?
    /// Pieces of non-Blosc storage: big enough to amortise the hand-off, small enough for L2.
    static let plainPieceLength = 1 << 16
    /// Staging memory reused by every `stage` call: fresh pages for each block would cost page
    /// faults comparable to the decoding itself. A staged column is valid until the next `stage`.
    private let staging = ScratchBuffer()

    init(_ dataset: HDF5Dataset) {
        self.dataset = dataset
        elementType = dataset.nativeElementType
        if dataset.filters == [HDF5Filter.blosc], let chunk = dataset.chunkShape, chunk.count == 1,
           dataset.elementType.littleEndian, dataset.elementType.isNumeric {
            bloscChunkLength = chunk[0]
        } else {
            bloscChunkLength = nil
        }
    }

    /// Largest piece `withPiece` may need scratch for, in bytes.
    var scratchBytes: Int { (bloscChunkLength ?? 0) * elementType.size }

    /// Fetches what `range` needs from the file.
    func stage(_ range: Range<Int>) throws -> StagedColumn {
        let size = elementType.size
        guard let chunkLength = bloscChunkLength, !range.isEmpty else {
            let bytes = max(range.count * size, 1)
            let buffer = UnsafeMutableRawBufferPointer(start: staging.reserve(bytes), count: bytes)
            try dataset.readRowsNative(range, into: buffer.baseAddress!)
            var pieces: [Range<Int>] = []
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + Self.plainPieceLength, range.upperBound)
                pieces.append(start..<end)
                start = end
            }
            return StagedColumn(range: range, pieces: pieces, elementSize: size, storage: .plain(buffer))
        }
        let firstChunk = range.lowerBound / chunkLength
        let lastChunk = (range.upperBound - 1) / chunkLength
        let chunkCount = lastChunk - firstChunk + 1
        var offsets = [Int](repeating: 0, count: chunkCount + 1)
        for index in 0..<chunkCount {
            offsets[index + 1] = offsets[index] + (try dataset.storedChunkSize(atElement: (firstChunk + index) * chunkLength))
        }
        let bytes = max(offsets[chunkCount], 1)
        let compressed = UnsafeMutableRawBufferPointer(start: staging.reserve(bytes), count: bytes)
        var masks = [UInt32](repeating: 0, count: chunkCount)
        for index in 0..<chunkCount {
            let slot = UnsafeMutableRawBufferPointer(rebasing: compressed[offsets[index]..<offsets[index + 1]])
            masks[index] = try dataset.readRawChunk(atElement: (firstChunk + index) * chunkLength, into: slot)
        }
        let pieces = (0..<chunkCount).map { index -> Range<Int> in
            let chunkStart = (firstChunk + index) * chunkLength
            return max(range.lowerBound, chunkStart)..<min(range.upperBound, chunkStart + chunkLength)
        }
        return StagedColumn(range: range, pieces: pieces, elementSize: size,
                            storage: .blosc(compressed: compressed, offsets: offsets, masks: masks,
                                            firstChunk: firstChunk, chunkLength: chunkLength))
    }

    /// The Blosc codec of the first chunk ("zstd", "lz4", ...), read from its header.
    func bloscCodecName() -> String? {
        guard bloscChunkLength != nil, dataset.rowCount > 0,
              let size = try? dataset.storedChunkSize(atElement: 0), size >= 16 else { return nil }
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { raw.deallocate() }
        guard (try? dataset.readRawChunk(atElement: 0, into: raw)) == 0 else { return nil }
        guard let name = blosc_cbuffer_complib(raw.baseAddress) else { return nil }
        return String(cString: name).lowercased()
    }
}

/// A column range fetched from the file, handed out in pieces that any thread may decode.
/// Borrows its reader's staging memory: valid until that reader stages again.
final class StagedColumn {
    enum Storage {
        case plain(UnsafeMutableRawBufferPointer)
        case blosc(compressed: UnsafeMutableRawBufferPointer, offsets: [Int], masks: [UInt32], firstChunk: Int, chunkLength: Int)
    }

    let range: Range<Int>
    /// Element index ranges (absolute), in order, covering `range`.
    let pieces: [Range<Int>]
    let elementSize: Int
    private let storage: Storage

    init(range: Range<Int>, pieces: [Range<Int>], elementSize: Int, storage: Storage) {
        self.range = range
        self.pieces = pieces
        self.elementSize = elementSize
        self.storage = storage
    }

    /// Calls `body` with the native bytes of piece `index` (`pieces[index].count` elements).
    /// `scratch` must hold one chunk; returns a message instead of calling `body` if the
    /// stored chunk cannot be decoded. Safe to call from several threads for different pieces.
    func withPiece(_ index: Int, scratch: UnsafeMutableRawPointer, _ body: (UnsafeRawPointer) -> Void) -> String? {
        let piece = pieces[index]
        switch storage {
        case .plain(let buffer):
            body(UnsafeRawPointer(buffer.baseAddress!) + (piece.lowerBound - range.lowerBound) * elementSize)
            return nil
        case .blosc(let compressed, let offsets, let masks, let firstChunk, let chunkLength):
            let chunkBytes = chunkLength * elementSize
            let source = UnsafeRawPointer(compressed.baseAddress!) + offsets[index]
            let storedBytes = offsets[index + 1] - offsets[index]
            if masks[index] & 1 != 0 {
                // The filter was skipped for this chunk (incompressible): stored as is.
                guard storedBytes >= chunkBytes else { return "raw chunk of \(storedBytes) bytes, expected \(chunkBytes)" }
                scratch.copyMemory(from: source, byteCount: chunkBytes)
            } else {
                var decodedBytes = 0, compressedBytes = 0, blockSize = 0
                blosc_cbuffer_sizes(source, &decodedBytes, &compressedBytes, &blockSize)
                guard decodedBytes == chunkBytes, compressedBytes <= storedBytes else { return "Blosc chunk header is damaged" }
                let decoded = blosc_decompress_ctx(source, scratch, chunkBytes, 1)
                guard decoded == Int32(chunkBytes) else { return "Blosc could not decompress the chunk (code \(decoded))" }
            }
            let chunkStart = (firstChunk + index) * chunkLength
            body(UnsafeRawPointer(scratch) + (piece.lowerBound - chunkStart) * elementSize)
            return nil
        }
    }
}

/// Collects the failure with the lowest index from several threads.
final class FirstFailure: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var first: (index: Int, message: String)?

    func record(index: Int, _ message: String) {
        lock.lock()
        defer { lock.unlock() }
        if first == nil || index < first!.index { first = (index, message) }
    }
}
