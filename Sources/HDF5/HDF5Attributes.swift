import CHDF5
import Foundation

/// Attributes of one HDF5 object. Strings are written as variable-length UTF-8 (h5py gives `str`);
/// both fixed-length and variable-length strings are read.
public final class HDF5Attributes {
    let objectID: hid_t
    let file: String
    let object: String

    init(objectID: hid_t, file: String, object: String) {
        self.objectID = objectID
        self.file = file
        self.object = object
    }

    deinit { if objectID >= 0 { H5Oclose(objectID) } }

    public func has(_ name: String) -> Bool {
        objectID >= 0 && H5Aexists(objectID, name) > 0
    }

    private func open(_ name: String) -> hid_t? {
        guard has(name) else { return nil }
        let aid = H5Aopen(objectID, name, hid_t(H5P_DEFAULT))
        return aid >= 0 ? aid : nil
    }

    private func elementCount(_ aid: hid_t) -> Int {
        let space = H5Aget_space(aid)
        defer { H5Sclose(space) }
        return Int(H5Sget_simple_extent_npoints(space))
    }

    /// A numeric attribute (first element if it is an array), converted to Double; nil if
    /// absent or not numeric.
    public func double(_ name: String) -> Double? { doubles(name)?.first }

    public func int(_ name: String) -> Int? {
        guard let aid = open(name) else { return nil }
        defer { H5Aclose(aid) }
        let tid = H5Aget_type(aid)
        defer { H5Tclose(tid) }
        let cls = H5Tget_class(tid)
        guard cls == H5T_INTEGER || cls == H5T_FLOAT, elementCount(aid) >= 1 else { return nil }
        var values = [Int64](repeating: 0, count: elementCount(aid))
        guard H5Aread(aid, Int64.hdf5NativeType, &values) >= 0 else { return nil }
        return Int(values[0])
    }

    public func doubles(_ name: String) -> [Double]? {
        guard let aid = open(name) else { return nil }
        defer { H5Aclose(aid) }
        let tid = H5Aget_type(aid)
        defer { H5Tclose(tid) }
        let cls = H5Tget_class(tid)
        guard cls == H5T_INTEGER || cls == H5T_FLOAT else { return nil }
        var values = [Double](repeating: 0, count: elementCount(aid))
        guard H5Aread(aid, Double.hdf5NativeType, &values) >= 0 else { return nil }
        return values
    }

    /// A string attribute (or the first of a string array), also accepting numpy bytes.
    public func string(_ name: String) -> String? { strings(name)?.first }

    public func strings(_ name: String) -> [String]? {
        guard let aid = open(name) else { return nil }
        defer { H5Aclose(aid) }
        let tid = H5Aget_type(aid)
        defer { H5Tclose(tid) }
        guard H5Tget_class(tid) == H5T_STRING else { return nil }
        let count = elementCount(aid)
        if H5Tis_variable_str(tid) > 0 {
            let memType = H5Tcopy(evd_c_s1())
            H5Tset_size(memType, Int(bitPattern: UInt(bitPattern: -1)))  // H5T_VARIABLE
            // libhdf5 does not convert between ASCII and UTF-8: read in the stored character set.
            H5Tset_cset(memType, H5Tget_cset(tid))
            defer { H5Tclose(memType) }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(aid, memType, &pointers) >= 0 else { return nil }
            let result = pointers.map { $0.map { String(cString: $0) } ?? "" }
            for pointer in pointers { if let pointer { H5free_memory(pointer) } }
            return result
        }
        let size = H5Tget_size(tid)
        var bytes = [UInt8](repeating: 0, count: size * count)
        guard H5Aread(aid, tid, &bytes) >= 0 else { return nil }
        return (0..<count).map { index in
            let slice = bytes[(index * size)..<((index + 1) * size)]
            return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    // MARK: Writing

    private func replace(_ name: String) {
        if has(name) { H5Adelete(objectID, name) }
    }

    private func writeNumbers<T: HDF5Scalar>(_ name: String, _ values: [T], scalar: Bool) throws {
        replace(name)
        var dims = [hsize_t(values.count)]
        let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let aid = H5Acreate2(objectID, name, T.hdf5NativeType, space, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        guard aid >= 0 else { throw FileError(file: file, dataset: object, problem: "cannot write attribute \(name)") }
        defer { H5Aclose(aid) }
        values.withUnsafeBufferPointer { _ = H5Awrite(aid, T.hdf5NativeType, UnsafeRawPointer($0.baseAddress)) }
    }

    public func set(_ name: String, _ value: Int) throws { try writeNumbers(name, [Int64(value)], scalar: true) }
    public func set(_ name: String, _ value: Double) throws { try writeNumbers(name, [value], scalar: true) }
    public func set(_ name: String, _ value: Bool) throws { try writeNumbers(name, [UInt8(value ? 1 : 0)], scalar: true) }
    public func set(_ name: String, ints values: [Int]) throws { try writeNumbers(name, values.map(Int64.init), scalar: false) }

    public func set(_ name: String, _ value: String) throws { try writeStrings(name, [value], scalar: true) }
    public func set(_ name: String, strings values: [String]) throws { try writeStrings(name, values, scalar: false) }

    private func writeStrings(_ name: String, _ values: [String], scalar: Bool) throws {
        replace(name)
        let type = H5Tcopy(evd_c_s1())
        H5Tset_size(type, Int(bitPattern: UInt(bitPattern: -1)))  // H5T_VARIABLE
        H5Tset_cset(type, H5T_CSET_UTF8)
        defer { H5Tclose(type) }
        var dims = [hsize_t(values.count)]
        let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let aid = H5Acreate2(objectID, name, type, space, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        guard aid >= 0 else { throw FileError(file: file, dataset: object, problem: "cannot write attribute \(name)") }
        defer { H5Aclose(aid) }
        let cStrings = values.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = cStrings.map { $0.map { UnsafePointer($0) } }
        H5Awrite(aid, type, &pointers)
    }
}
