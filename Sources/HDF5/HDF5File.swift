import CHDF5
import Foundation

/// An open HDF5 file. Closed when the last reference goes away.
///
/// Errors are `FileError`s naming this file (`displayName`, the path the user gave).
public final class HDF5File {
    public enum Mode { case readOnly, readWrite }

    let id: hid_t
    public let path: String
    public var displayName: String { path }

    /// Opens an existing file, telling "missing", "not HDF5" and "damaged" apart.
    public init(path: String, mode: Mode = .readOnly) throws {
        HDF5Library.ensureInitialized()
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError(file: path, problem: "no such file")
        }
        if isDirectory.boolValue { throw FileError(file: path, problem: "is a folder, not an HDF5 file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw FileError(file: path, problem: "not readable (permission denied)")
        }
        if H5Fis_hdf5(path) <= 0 {
            H5Eclear2(hid_t(H5E_DEFAULT))
            throw FileError(file: path, problem: "not an HDF5 file (no HDF5 signature)")
        }
        let fid = H5Fopen(path, mode == .readOnly ? evd_acc_rdonly() : evd_acc_rdwr(), hid_t(H5P_DEFAULT))
        guard fid >= 0 else {
            let detail = HDF5Library.currentErrorMessage().map { " (\($0))" } ?? ""
            throw FileError(file: path, problem: "cannot open: the file is damaged or truncated\(detail)")
        }
        id = fid
    }

    /// Creates (truncating) a new file.
    public init(creating path: String) throws {
        HDF5Library.ensureInitialized()
        self.path = path
        let fid = H5Fcreate(path, evd_acc_trunc(), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        guard fid >= 0 else {
            let detail = HDF5Library.currentErrorMessage().map { " (\($0))" } ?? ""
            throw FileError(file: path, problem: "cannot create file\(detail)")
        }
        id = fid
    }

    deinit { H5Fclose(id) }

    /// Flushes and closes now (deinit would close too, but a writer wants errors before rename).
    public func flush() throws {
        if H5Fflush(id, H5F_SCOPE_GLOBAL) < 0 {
            throw FileError(file: path, problem: "cannot flush to disk (disk full?)")
        }
    }

    /// True when every component of `objectPath` exists (`/events/t`, `davis/left/events`).
    public func exists(_ objectPath: String) -> Bool {
        var prefix = ""
        for component in objectPath.split(separator: "/") {
            prefix += "/" + component
            if H5Lexists(id, prefix, hid_t(H5P_DEFAULT)) <= 0 {
                H5Eclear2(hid_t(H5E_DEFAULT))
                return false
            }
        }
        return !prefix.isEmpty
    }

    /// Is the object at `objectPath` a dataset (not a group)?
    public func isDataset(_ objectPath: String) -> Bool {
        guard exists(objectPath) else { return false }
        let oid = H5Oopen(id, objectPath, hid_t(H5P_DEFAULT))
        guard oid >= 0 else { H5Eclear2(hid_t(H5E_DEFAULT)); return false }
        defer { H5Oclose(oid) }
        return H5Iget_type(oid) == H5I_DATASET
    }

    /// Names of the members of a group ("/" for the root).
    public func memberNames(of group: String = "/") -> [String] {
        let gid = H5Gopen2(id, group, hid_t(H5P_DEFAULT))
        guard gid >= 0 else { H5Eclear2(hid_t(H5E_DEFAULT)); return [] }
        defer { H5Gclose(gid) }
        var info = H5G_info_t()
        guard H5Gget_info(gid, &info) >= 0 else { return [] }
        var names: [String] = []
        for index in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, hid_t(H5P_DEFAULT))
            guard length > 0 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, hid_t(H5P_DEFAULT))
            names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    public func openDataset(_ objectPath: String) throws -> HDF5Dataset {
        guard exists(objectPath) else {
            throw FileError(file: path, dataset: objectPath, problem: "dataset missing")
        }
        let did = H5Dopen2(id, objectPath, hid_t(H5P_DEFAULT))
        guard did >= 0 else {
            let detail = HDF5Library.currentErrorMessage().map { " (\($0))" } ?? ""
            throw FileError(file: path, dataset: objectPath, problem: "not a readable dataset\(detail)")
        }
        return HDF5Dataset(id: did, file: self, name: objectPath)
    }

    public func createGroup(_ objectPath: String) throws {
        let gid = H5Gcreate2(id, objectPath, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        guard gid >= 0 else { throw FileError(file: path, dataset: objectPath, problem: "cannot create group") }
        H5Gclose(gid)
    }

    /// Creates a dataset of `T` with `shape`; `chunk` enables chunked storage, `gzipLevel`
    /// (with byte shuffle) compression readable by stock h5py, `bloscZstdLevel` Blosc-zstd (DSEC).
    /// With `extendible`, the first dimension may grow later (`HDF5Dataset.append`); it needs `chunk`.
    public func createDataset<T: HDF5Scalar>(
        _ objectPath: String, of _: T.Type, shape: [Int], chunk: [Int]? = nil,
        gzipLevel: Int? = nil, bloscZstdLevel: Int? = nil, extendible: Bool = false
    ) throws -> HDF5Dataset {
        precondition(!extendible || chunk != nil, "an extendible dataset must be chunked")
        var dims = shape.map { hsize_t($0) }
        var maxDims = dims
        if extendible { maxDims[0] = evd_unlimited() }
        let space = H5Screate_simple(Int32(dims.count), &dims, &maxDims)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(evd_plist_dataset_create())
        defer { H5Pclose(dcpl) }
        if let chunk {
            var chunkDims = chunk.map { hsize_t(max(1, $0)) }
            H5Pset_chunk(dcpl, Int32(chunkDims.count), &chunkDims)
            if let level = gzipLevel {
                H5Pset_shuffle(dcpl)
                H5Pset_deflate(dcpl, UInt32(level))
            } else if let level = bloscZstdLevel {
                guard HDF5Library.isFilterAvailable(HDF5Filter.blosc) else {
                    throw FileError(file: path, dataset: objectPath, problem: HDF5Filter.missingAdvice(HDF5Filter.blosc))
                }
                // hdf5-blosc cd_values: [0..3] filled in by the filter; 4 clevel, 5 shuffle, 6 codec (5 = zstd).
                var cd: [UInt32] = [0, 0, 0, 0, UInt32(level), 1, 5]
                H5Pset_filter(dcpl, H5Z_filter_t(HDF5Filter.blosc), UInt32(H5Z_FLAG_OPTIONAL), cd.count, &cd)
            }
        }
        let lcpl = H5Pcreate(evd_plist_link_create())
        H5Pset_create_intermediate_group(lcpl, 1)
        defer { H5Pclose(lcpl) }
        let did = H5Dcreate2(id, objectPath, T.hdf5NativeType, space, lcpl, dcpl, hid_t(H5P_DEFAULT))
        guard did >= 0 else {
            let detail = HDF5Library.currentErrorMessage().map { " (\($0))" } ?? ""
            throw FileError(file: path, dataset: objectPath, problem: "cannot create dataset\(detail)")
        }
        return HDF5Dataset(id: did, file: self, name: objectPath)
    }

    /// Writes a whole dataset from a flat array (row-major `shape`).
    @discardableResult
    public func write<T: HDF5Scalar>(_ values: [T], to objectPath: String, shape: [Int]? = nil,
                                     chunk: [Int]? = nil, gzipLevel: Int? = nil) throws -> HDF5Dataset {
        let dataset = try createDataset(objectPath, of: T.self, shape: shape ?? [values.count],
                                        chunk: chunk, gzipLevel: gzipLevel)
        try values.withUnsafeBufferPointer { try dataset.writeAll($0) }
        return dataset
    }

    /// Writes a scalar (rank-0) dataset.
    public func writeScalar<T: HDF5Scalar>(_ value: T, to objectPath: String) throws {
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let lcpl = H5Pcreate(evd_plist_link_create())
        H5Pset_create_intermediate_group(lcpl, 1)
        defer { H5Pclose(lcpl) }
        let did = H5Dcreate2(id, objectPath, T.hdf5NativeType, space, lcpl, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        guard did >= 0 else { throw FileError(file: path, dataset: objectPath, problem: "cannot create dataset") }
        defer { H5Dclose(did) }
        let written = withUnsafePointer(to: value) {
            H5Dwrite(did, T.hdf5NativeType, hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), UnsafeRawPointer($0))
        }
        guard written >= 0 else {
            throw FileError(file: path, dataset: objectPath, problem: "cannot write")
        }
    }

    // MARK: Attributes (on the root or on any object)

    public func attributes(of objectPath: String = "/") throws -> HDF5Attributes {
        let oid = H5Oopen(id, objectPath, hid_t(H5P_DEFAULT))
        guard oid >= 0 else { H5Eclear2(hid_t(H5E_DEFAULT)); throw FileError(file: path, dataset: objectPath, problem: "object missing") }
        return HDF5Attributes(objectID: oid, file: path, object: objectPath)
    }
}
