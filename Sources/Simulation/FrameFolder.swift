import Foundation
import HDF5
import Imaging

/// A folder of PNG frames plus `timestamps.txt`, the input of `evdistill simulate --frames`.
///
/// `timestamps.txt`: one line per frame, in the order of the PNG file names sorted
/// lexicographically; each line is either `<t_us>` or `<file name> <t_us>` (integer
/// microseconds, strictly increasing). Blank lines and lines starting with `#` are ignored.
public struct FrameFolder {
    public let folder: String
    public let frames: [(path: String, time: Int64)]

    public init(folder: String, timestampsFile: String? = nil) throws {
        self.folder = folder
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileError(file: folder, problem: "no such folder")
        }
        let pngs = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.lowercased().hasSuffix(".png") }.sorted()
        guard !pngs.isEmpty else { throw FileError(file: folder, problem: "no .png frames in the folder") }
        let listPath = timestampsFile ?? folder + "/timestamps.txt"
        guard let text = try? String(contentsOfFile: listPath, encoding: .utf8) else {
            throw FileError(file: listPath, problem: "timestamps file missing or unreadable (one µs timestamp per frame, see --help)")
        }
        var entries: [(name: String?, time: Int64, line: Int)] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            guard (1...2).contains(fields.count), let time = Int64(fields.last!) else {
                throw FileError(file: listPath, problem: "line \(number + 1): expected '<t_us>' or '<file> <t_us>', found '\(line)'")
            }
            entries.append((fields.count == 2 ? String(fields[0]) : nil, time, number + 1))
        }
        var frames: [(String, Int64)] = []
        if entries.allSatisfy({ $0.name != nil }) && !entries.isEmpty {
            for entry in entries {
                let path = folder + "/" + entry.name!
                guard FileManager.default.fileExists(atPath: path) else {
                    throw FileError(file: listPath, problem: "line \(entry.line): frame \(entry.name!) is missing")
                }
                frames.append((path, entry.time))
            }
        } else {
            guard entries.count == pngs.count else {
                throw FileError(file: listPath, problem: "\(entries.count) timestamps for \(pngs.count) PNG frames")
            }
            frames = zip(pngs, entries).map { (folder + "/" + $0, $1.time) }
        }
        for k in 1..<max(frames.count, 1) where frames[k].1 <= frames[k - 1].1 {
            throw FileError(file: listPath, problem: "timestamps not increasing at frame \(k) (\(frames[k].1) µs after \(frames[k - 1].1) µs)")
        }
        self.frames = frames
    }

    /// Frame `index` as intensities in [0, 1], checked against the expected size.
    public func intensities(_ index: Int, width: Int? = nil, height: Int? = nil) throws -> (width: Int, height: Int, values: [Float]) {
        let path = frames[index].path
        let image: (width: Int, height: Int, pixels: [UInt8])
        do { image = try PNGFile.readGray(path) } catch let error as PNGError {
            throw FileError(file: path, problem: error.problem)
        }
        if let width, let height, image.width != width || image.height != height {
            throw FileError(file: path, problem: "frame is \(image.width)×\(image.height), the first frame is \(width)×\(height)")
        }
        return (image.width, image.height, image.pixels.map { Float($0) / 255 })
    }
}
