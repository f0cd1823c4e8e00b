import CHDF5

/// An open dataset: shape, stored type, storage layout, and reads/writes of row ranges.
///
/// "Rows" are slices along the first dimension with every other dimension whole, which is how
/// event columns (`[N]`) and MVSEC's `[N, 4]` event table are streamed.
public final class HDF5Dataset {
    let id: hid_t
    public let file: HDF5File
    public let name: String
    public private(set) var shape: [Int]
    public let elementType: HDF5ElementType
    /// Chunk shape when the layout is chunked, nil for contiguous or compact storage.
    public let chunkShape: [Int]?
    /// HDF5 filter ids in pipeline order (e.g. [32001] for DSEC's Blosc).
    public let filters: [Int32]

    init(id: hid_t, file: HDF5File, name: String) {
        self.id = id
        self.file = file
        self.name = name
        let space = H5Dget_space(id)
        let rank = Int(H5Sget_simple_extent_ndims(space))
        var dims = [hsize_t](repeating: 0, count: max(rank, 0))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        H5Sclose(space)
        shape = dims.map { Int($0) }
        let tid = H5Dget_type(id)
        elementType = HDF5ElementType(typeID: tid)
        H5Tclose(tid)
        let dcpl = H5Dget_create_plist(id)
        defer { H5Pclose(dcpl) }
        if H5Pget_layout(dcpl) == H5D_CHUNKED {
            var chunkDims = [hsize_t](repeating: 0, count: max(rank, 1))
            let chunkRank = Int(H5Pget_chunk(dcpl, Int32(chunkDims.count), &chunkDims))
            chunkShape = chunkDims.prefix(max(chunkRank, 0)).map { Int($0) }
        } else {
            chunkShape = nil
        }
        var ids: [Int32] = []
        let count = H5Pget_nfilters(dcpl)
        if count > 0 {
            for index in 0..<UInt32(count) {
                var flags: UInt32 = 0
                var nElements: Int = 0
                var nameBuffer = [CChar](repeating: 0, count: 64)
                var config: UInt32 = 0
                let filterID = H5Pget_filter2(dcpl, index, &flags, &nElements, nil, nameBuffer.count, &nameBuffer, &config)
                ids.append(Int32(filterID))
            }
        }
        filters = ids
    }

    deinit { H5Dclose(id) }

    public var rank: Int { shape.count }
    public var rowCount: Int { shape.first ?? 1 }
    /// Elements in one row (product of all dimensions but the first).
    public var rowSize: Int { shape.dropFirst().reduce(1, *) }
    public var elementCount: Int { shape.reduce(1, *) }

    /// The first filter libhdf5 cannot decode on this machine, if any.
    public var unavailableFilter: Int32? {
        filters.first { !HDF5Library.isFilterAvailable($0) }
    }

    func error(_ problem: String) -> FileError {
        FileError(file: file.displayName, dataset: name, problem: problem)
    }

    func readFailure(_ what: String) -> FileError {
        if let missing = unavailableFilter { return error(HDF5Filter.missingAdvice(missing)) }
        let detail = HDF5Library.currentErrorMessage().map { ": \($0)" } ?? ""
        return error("cannot read \(what) (file damaged or truncated?)\(detail)")
    }

    /// Reads rows `rows` into `buffer` (which holds `rows.count * rowSize` elements), letting
    /// libhdf5 convert the stored type to `T`.
    public func readRows<T: HDF5Scalar>(_ rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<T>) throws {
        precondition(buffer.count >= rows.count * rowSize, "buffer too small for \(rows.count) rows")
        guard !rows.isEmpty else { return }
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw error("rows \(rows) outside 0..<\(rowCount)")
        }
        let fileSpace = H5Dget_space(id)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: rank)
        var count = shape.map { hsize_t($0) }
        start[0] = hsize_t(rows.lowerBound)
        count[0] = hsize_t(rows.count)
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
        let memSpace = H5Screate_simple(Int32(rank), &count, nil)
        defer { H5Sclose(memSpace) }
        guard H5Dread(id, T.hdf5NativeType, memSpace, fileSpace, hid_t(H5P_DEFAULT), buffer.baseAddress) >= 0 else {
            throw readFailure("rows \(rows.lowerBound)..<\(rows.upperBound)")
        }
    }

    public func readRows<T: HDF5Scalar>(_ rows: Range<Int>, as _: T.Type = T.self) throws -> [T] {
        var values = [T](unsafeUninitializedCapacity: rows.count * rowSize) { _, initialized in
            initialized = rows.count * rowSize
        }
        try values.withUnsafeMutableBufferPointer { try readRows(rows, into: $0) }
        return values
    }

    /// Reads the whole dataset (scalar datasets give one element).
    public func readAll<T: HDF5Scalar>(as _: T.Type = T.self) throws -> [T] {
        if rank == 0 {
            var value = [T](unsafeUninitializedCapacity: 1) { _, n in n = 1 }
            try value.withUnsafeMutableBufferPointer { buffer in
                guard H5Dread(id, T.hdf5NativeType, hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), buffer.baseAddress) >= 0 else {
                    throw readFailure("value")
                }
            }
            return value
        }
        return try readRows(0..<rowCount)
    }

    /// Writes rows starting at `firstRow` from a flat buffer of whole rows.
    public func writeRows<T: HDF5Scalar>(from buffer: UnsafeBufferPointer<T>, at firstRow: Int) throws {
        let rows = buffer.count / max(rowSize, 1)
        guard rows > 0 else { return }
        let fileSpace = H5Dget_space(id)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: rank)
        var count = shape.map { hsize_t($0) }
        start[0] = hsize_t(firstRow)
        count[0] = hsize_t(rows)
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
        let memSpace = H5Screate_simple(Int32(rank), &count, nil)
        defer { H5Sclose(memSpace) }
        guard H5Dwrite(id, T.hdf5NativeType, memSpace, fileSpace, hid_t(H5P_DEFAULT), buffer.baseAddress) >= 0 else {
            throw error("cannot write rows \(firstRow)..<\(firstRow + rows) (disk full?)")
        }
    }

    /// Grows an extendible dataset by the whole rows in `buffer` and writes them at the end.
    public func append<T: HDF5Scalar>(_ buffer: UnsafeBufferPointer<T>) throws {
        let rows = buffer.count / max(rowSize, 1)
        guard rows > 0 else { return }
        let first = rowCount
        var newDims = shape.map { hsize_t($0) }
        newDims[0] = hsize_t(first + rows)
        guard H5Dset_extent(id, &newDims) >= 0 else { throw error("cannot grow to \(first + rows) rows") }
        shape[0] = first + rows
        try writeRows(from: buffer, at: first)
    }

    public func writeAll<T: HDF5Scalar>(_ buffer: UnsafeBufferPointer<T>) throws {
        precondition(buffer.count == elementCount, "writeAll needs \(elementCount) elements")
        guard H5Dwrite(id, T.hdf5NativeType, hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), buffer.baseAddress) >= 0 else {
            throw error("cannot write (disk full?)")
        }
    }

    // MARK: Raw chunks (for decompressing on all cores outside libhdf5)

    /// Bytes the chunk starting at element `offset` (1-D datasets) occupies in the file.
    public func storedChunkSize(atElement offset: Int) throws -> Int {
        var coordinates = [hsize_t(offset)]
        var size: hsize_t = 0
        guard H5Dget_chunk_storage_size(id, &coordinates, &size) >= 0 else {
            throw readFailure("chunk at element \(offset)")
        }
        return Int(size)
    }

    /// Reads the stored (still compressed) bytes of the chunk starting at element `offset`.
    /// Returns the filter mask: bit k set means filter k was skipped for this chunk.
    public func readRawChunk(atElement offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> UInt32 {
        var coordinates = [hsize_t(offset)]
        var mask: UInt32 = 0
        guard H5Dread_chunk(id, hid_t(H5P_DEFAULT), &coordinates, &mask, buffer.baseAddress) >= 0 else {
            throw readFailure("chunk at element \(offset)")
        }
        return mask
    }

    public func attributes() -> HDF5Attributes {
        HDF5Attributes(objectID: H5Oopen(file.id, name, hid_t(H5P_DEFAULT)), file: file.displayName, object: name)
    }
}

extension HDF5Dataset {
    /// The stored element type as this machine holds it in memory (byte order swapped to native).
    public var nativeElementType: HDF5ElementType {
        let tid = H5Dget_type(id)
        defer { H5Tclose(tid) }
        let native = H5Tget_native_type(tid, H5T_DIR_ASCEND)
        defer { H5Tclose(native) }
        return HDF5ElementType(typeID: native)
    }

    /// Reads rows into `buffer` as `nativeElementType` values (no numeric conversion).
    public func readRowsNative(_ rows: Range<Int>, into buffer: UnsafeMutableRawPointer) throws {
        guard !rows.isEmpty else { return }
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw error("rows \(rows) outside 0..<\(rowCount)")
        }
        let tid = H5Dget_type(id)
        defer { H5Tclose(tid) }
        let native = H5Tget_native_type(tid, H5T_DIR_ASCEND)
        defer { H5Tclose(native) }
        let fileSpace = H5Dget_space(id)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: rank)
        var count = shape.map { hsize_t($0) }
        start[0] = hsize_t(rows.lowerBound)
        count[0] = hsize_t(rows.count)
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
        let memSpace = H5Screate_simple(Int32(rank), &count, nil)
        defer { H5Sclose(memSpace) }
        guard H5Dread(id, native, memSpace, fileSpace, hid_t(H5P_DEFAULT), buffer) >= 0 else {
            throw readFailure("rows \(rows.lowerBound)..<\(rows.upperBound)")
        }
    }
}
