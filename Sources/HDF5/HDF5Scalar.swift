import CHDF5

/// A Swift number type with a native HDF5 memory type, so reads and writes can let libhdf5
/// convert from whatever integer or float type the file stores.
public protocol HDF5Scalar {
    static var hdf5NativeType: hid_t { get }
}

extension UInt8: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_uint8() } }
extension Int8: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_int8() } }
extension UInt16: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_uint16() } }
extension Int16: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_int16() } }
extension UInt32: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_uint32() } }
extension Int32: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_int32() } }
extension UInt64: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_uint64() } }
extension Int64: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_int64() } }
extension Float: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_float() } }
extension Double: HDF5Scalar { public static var hdf5NativeType: hid_t { evd_native_double() } }

/// The element type a dataset stores in the file, in numpy's notation (`<u2`, `<f8`, ...).
public struct HDF5ElementType: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case signedInteger, unsignedInteger, float, string, compound, other }
    public var kind: Kind
    public var size: Int
    public var littleEndian: Bool

    public var isInteger: Bool { kind == .signedInteger || kind == .unsignedInteger }
    public var isNumeric: Bool { isInteger || kind == .float }

    public var description: String {
        let order = littleEndian ? "<" : ">"
        switch kind {
        case .signedInteger: return "\(order)i\(size)"
        case .unsignedInteger: return "\(order)u\(size)"
        case .float: return "\(order)f\(size)"
        case .string: return "string\(size)"
        case .compound: return "compound"
        case .other: return "opaque\(size)"
        }
    }

    init(typeID: hid_t) {
        size = H5Tget_size(typeID)
        littleEndian = H5Tget_order(typeID) != H5T_ORDER_BE
        switch H5Tget_class(typeID) {
        case H5T_INTEGER: kind = H5Tget_sign(typeID) == H5T_SGN_NONE ? .unsignedInteger : .signedInteger
        case H5T_FLOAT: kind = .float
        case H5T_STRING: kind = .string
        case H5T_COMPOUND: kind = .compound
        default: kind = .other
        }
    }

    public init(kind: Kind, size: Int, littleEndian: Bool = true) {
        self.kind = kind
        self.size = size
        self.littleEndian = littleEndian
    }
}
