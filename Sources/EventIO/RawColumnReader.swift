import CBlosc
import Foundation
import HDF5
import ParallelLoops

/// Reads element ranges of a 1-D numeric dataset as native bytes of its stored type.
///
/// DSEC's columns are Blosc-compressed in chunks. libhdf5 decompresses chunks one at a time on
/// one core; here the still-compressed chunks are fetched with `H5Dread_chunk` (cheap, one thread,
/// libhdf5 is not thread-safe) and decompressed with libblosc on all cores. Every other storage
/// (contiguous, gzip, ...) goes through libhdf5's own `H5Dread`.
final class RawColumnReader {
    let dataset: HDF5Dataset
    let elementType: HDF5ElementType
    private let bloscChunkLength: Int?

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

    var usesParallelBlosc: Bool { bloscChunkLength != nil }

    /// Reads elements `range` into `destination` (`range.count * elementType.size` bytes).
    func read(_ range: Range<Int>, into destination: UnsafeMutableRawPointer) throws {
        guard !range.isEmpty else { return }
        guard let chunkLength = bloscChunkLength else {
            try dataset.readRowsNative(range, into: destination)
            return
        }
        try readBlosc(range, chunkLength: chunkLength, into: destination)
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

    private func readBlosc(_ range: Range<Int>, chunkLength: Int, into destination: UnsafeMutableRawPointer) throws {
        let elementSize = elementType.size
        let firstChunk = range.lowerBound / chunkLength
        let lastChunk = (range.upperBound - 1) / chunkLength
        let chunkCount = lastChunk - firstChunk + 1
        let chunkBytes = chunkLength * elementSize

        // Fetch the compressed chunks (libhdf5, one thread).
        var sizes = [Int](repeating: 0, count: chunkCount)
        var offsets = [Int](repeating: 0, count: chunkCount + 1)
        for index in 0..<chunkCount {
            sizes[index] = try dataset.storedChunkSize(atElement: (firstChunk + index) * chunkLength)
            offsets[index + 1] = offsets[index] + sizes[index]
        }
        let compressed = UnsafeMutableRawBufferPointer.allocate(byteCount: max(offsets[chunkCount], 1), alignment: 64)
        defer { compressed.deallocate() }
        var masks = [UInt32](repeating: 0, count: chunkCount)
        for index in 0..<chunkCount {
            let slot = UnsafeMutableRawBufferPointer(rebasing: compressed[offsets[index]..<offsets[index + 1]])
            masks[index] = try dataset.readRawChunk(atElement: (firstChunk + index) * chunkLength, into: slot)
        }

        // Decompress on all cores; chunks wholly inside the range go straight to their place.
        let failures = FirstFailure()
        let totalRows = dataset.rowCount
        let lanes = min(chunkCount, availableCores)
        let compressedBase = UnsafeRawPointer(compressed.baseAddress!)
        sizes.withUnsafeBufferPointer { sizes in
        offsets.withUnsafeBufferPointer { offsets in
        masks.withUnsafeBufferPointer { masks in
            parallelFor(lanes) { lane in
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: chunkBytes, alignment: 64)
                defer { scratch.deallocate() }
                var index = lane
                while index < chunkCount {
                    defer { index += lanes }
                    let chunkStart = (firstChunk + index) * chunkLength
                    let chunkEnd = min(chunkStart + chunkLength, totalRows)
                    let low = max(range.lowerBound, chunkStart)
                    let high = min(range.upperBound, chunkEnd)
                    let source = compressedBase + offsets[index]
                    let target = destination + (low - range.lowerBound) * elementSize
                    let whole = low == chunkStart && high == chunkStart + chunkLength
                    let output = whole ? target : scratch
                    if masks[index] & 1 != 0 {
                        // The filter was skipped for this chunk (incompressible): stored raw.
                        guard sizes[index] >= chunkBytes else {
                            failures.record(index: chunkStart, "raw chunk of \(sizes[index]) bytes, expected \(chunkBytes)")
                            continue
                        }
                        output.copyMemory(from: source, byteCount: chunkBytes)
                    } else {
                        var decodedBytes = 0, compressedBytes = 0, blockSize = 0
                        blosc_cbuffer_sizes(source, &decodedBytes, &compressedBytes, &blockSize)
                        guard decodedBytes == chunkBytes, compressedBytes <= sizes[index] else {
                            failures.record(index: chunkStart, "Blosc chunk header is damaged")
                            continue
                        }
                        let decoded = blosc_decompress_ctx(source, output, chunkBytes, 1)
                        guard decoded == Int32(chunkBytes) else {
                            failures.record(index: chunkStart, "Blosc could not decompress the chunk (code \(decoded))")
                            continue
                        }
                    }
                    if !whole {
                        target.copyMemory(from: scratch + (low - chunkStart) * elementSize,
                                          byteCount: (high - low) * elementSize)
                    }
                }
            }
        }}}
        if let failure = failures.first {
            throw FileError(file: dataset.file.displayName, dataset: dataset.name,
                            problem: "chunk at element \(failure.index): \(failure.message)")
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
