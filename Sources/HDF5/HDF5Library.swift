import CHDF5

/// Process-wide libhdf5 set-up: `H5open` once, and libhdf5's own error printing turned off so
/// that failures reach the user as one `FileError` line instead of an HDF5 stack dump.
///
/// libhdf5 (Debian's serial build) is not thread-safe: every HDF5 call in EventDistill happens
/// on one thread at a time; only decompression of raw chunks runs on several cores.
public enum HDF5Library {
    private static let initialized: Bool = {
        _ = H5open()
        H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
        return true
    }()

    public static func ensureInitialized() {
        _ = initialized
    }

    /// The innermost messages of libhdf5's current error stack, most specific last, joined.
    static func currentErrorMessage() -> String? {
        final class Collector { var messages: [String] = [] }
        let collector = Collector()
        let unmanaged = Unmanaged.passRetained(collector)
        defer { unmanaged.release() }
        H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_UPWARD, { _, errorPointer, clientData in
            guard let errorPointer, let clientData else { return 0 }
            let collector = Unmanaged<Collector>.fromOpaque(clientData).takeUnretainedValue()
            if let desc = errorPointer.pointee.desc {
                collector.messages.append(String(cString: desc))
            }
            return 0
        }, unmanaged.toOpaque())
        H5Eclear2(hid_t(H5E_DEFAULT))
        let unique = collector.messages.reduce(into: [String]()) { acc, m in
            if !m.isEmpty && !acc.contains(m) { acc.append(m) }
        }
        return unique.isEmpty ? nil : unique.prefix(2).joined(separator: "; ")
    }

    /// Is an HDF5 filter (e.g. Blosc, id 32001) usable — registered or loadable as a plugin?
    public static func isFilterAvailable(_ id: Int32) -> Bool {
        ensureInitialized()
        return H5Zfilter_avail(H5Z_filter_t(id)) > 0
    }
}

/// Well-known HDF5 filter ids and what a user must install to read them.
public enum HDF5Filter {
    public static let deflate: Int32 = 1
    public static let shuffle: Int32 = 2
    public static let fletcher32: Int32 = 3
    public static let szip: Int32 = 4
    public static let nbit: Int32 = 5
    public static let scaleOffset: Int32 = 6
    public static let lzf: Int32 = 32000
    public static let blosc: Int32 = 32001
    public static let bzip2: Int32 = 307
    public static let lz4: Int32 = 32004
    public static let zstd: Int32 = 32015
    public static let blosc2: Int32 = 32026
    public static let prophesseeECF: Int32 = 36559

    public static func name(_ id: Int32) -> String {
        switch id {
        case deflate: return "gzip"
        case shuffle: return "shuffle"
        case fletcher32: return "fletcher32"
        case szip: return "szip"
        case nbit: return "nbit"
        case scaleOffset: return "scaleoffset"
        case lzf: return "lzf"
        case blosc: return "blosc"
        case bzip2: return "bzip2"
        case lz4: return "lz4"
        case zstd: return "zstd"
        case blosc2: return "blosc2"
        case prophesseeECF: return "prophesee-ecf"
        default: return "filter \(id)"
        }
    }

    /// What to tell a user whose libhdf5 cannot decode filter `id`.
    public static func missingAdvice(_ id: Int32) -> String {
        switch id {
        case blosc:
            return "the Blosc HDF5 filter (id 32001) is not available: install the Debian package "
                + "hdf5-filter-plugin-blosc-serial (apt-get install hdf5-filter-plugin-blosc-serial) "
                + "or point HDF5_PLUGIN_PATH at a folder holding libH5Zblosc.so"
        case prophesseeECF:
            return "compressed with Prophesee's ECF codec (HDF5 filter 36559), which no Debian package "
                + "provides; re-export the recording uncompressed with Prophesee's Metavision tools "
                + "(or install their hdf5_ecf plugin and set HDF5_PLUGIN_PATH)"
        case lzf:
            return "compressed with LZF (HDF5 filter 32000), which libhdf5 cannot decode without the "
                + "h5py/hdf5plugin LZF plugin on HDF5_PLUGIN_PATH"
        default:
            return "compressed with HDF5 filter \(id) (\(name(id))), which this libhdf5 cannot decode; "
                + "install its plugin and set HDF5_PLUGIN_PATH"
        }
    }
}
