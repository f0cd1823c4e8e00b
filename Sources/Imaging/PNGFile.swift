import AtomicFiles
import CPNG

public struct PNGError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }
}

public enum PNGFile {
    /// Writes an RGB picture with libpng's simplified API, atomically (temporary file + rename).
    public static func write(_ image: RGBImage, to path: String) throws {
        let output: AtomicOutput
        do { output = try AtomicOutput(path: path) } catch let error as AtomicOutputError {
            throw PNGError(path: path, problem: error.problem)
        }
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_RGB)
        let ok = image.pixels.withUnsafeBufferPointer { pixels in
            png_image_write_to_file(&png, output.temporaryPath, 0, pixels.baseAddress, 0, nil)
        }
        guard ok != 0 else {
            let message = withUnsafeBytes(of: png.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw PNGError(path: path, problem: "cannot write PNG: \(message)")
        }
        do { try output.commit() } catch let error as AtomicOutputError {
            throw PNGError(path: path, problem: error.problem)
        }
    }

    /// Reads a PNG as 8-bit RGB (libpng converts grey, palette and 16-bit files).
    public static func readRGB(_ path: String) throws -> RGBImage {
        let (width, height, pixels) = try read(path, format: UInt32(PNG_FORMAT_RGB), channels: 3)
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Decodes a PNG into `format` (libpng's simplified API converts whatever is stored).
    static func read(_ path: String, format: UInt32, channels: Int) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        func message() -> String { withUnsafeBytes(of: png.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        guard png_image_begin_read_from_file(&png, path) != 0 else {
            throw PNGError(path: path, problem: "cannot read PNG: \(message())")
        }
        png.format = format
        var pixels = [UInt8](repeating: 0, count: Int(png.width) * Int(png.height) * channels)
        let ok = pixels.withUnsafeMutableBufferPointer { png_image_finish_read(&png, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw PNGError(path: path, problem: "cannot decode PNG: \(message())") }
        return (Int(png.width), Int(png.height), pixels)
    }
}

extension PNGFile {
    /// Reads a PNG as 8-bit grey (libpng converts colour with its sRGB luminance weights).
    public static func readGray(_ path: String) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        try read(path, format: UInt32(PNG_FORMAT_GRAY), channels: 1)
    }

    /// Writes 8-bit grey pixels (row-major) as a PNG, atomically.
    public static func writeGray(_ pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        try write(RGBImage(width: width, height: height, pixels: pixels.flatMap { [$0, $0, $0] }), to: path)
    }
}
