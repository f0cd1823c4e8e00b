import ArgumentParser
import EventIO
import EventRepresentations
import HDF5
import Imaging

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw one window of a converted file as a PNG.",
        discussion: """
        Voxel grids and event frames: one panel per channel, side by side, blue (negative) – white (0) – red \
        (positive), one colour scale for all panels (99th percentile of |v|). Histograms and time surfaces: ON in \
        red and OFF in blue on black, beside each channel alone.
        """
    )

    @Argument(help: "A file written by `evdistill convert`.")
    var file: String

    @Option(help: "Dataset to draw (default: the file's `representation` attribute).")
    var dataset: String?

    @Option(help: "Window index.")
    var index: Int = 0

    @Option(name: .shortAndLong, help: "Output PNG.")
    var output: String

    @Option(help: "Integer upscaling of each pixel (default: so the picture is at least 512 px wide).")
    var zoom: Int?

    func run() throws {
        let h5 = try HDF5File(path: file)
        let attributes = try h5.attributes()
        let name = dataset ?? attributes.string("representation") ?? Representation.allCases.map(\.rawValue).first(where: h5.isDataset) ?? ""
        guard !name.isEmpty else {
            throw FileError(file: file, problem: "no representation dataset found; pass --dataset")
        }
        let grids = try h5.openDataset(name.hasPrefix("/") ? name : "/" + name)
        guard grids.rank == 4 else {
            throw FileError(file: file, dataset: grids.name, problem: "expected [N, C, H, W], found shape \(grids.shape)")
        }
        guard grids.elementType.isNumeric else {
            throw FileError(file: file, dataset: grids.name, problem: "expected numbers, found dtype \(grids.elementType)")
        }
        guard index >= 0, index < grids.rowCount else {
            throw FileError(file: file, dataset: grids.name, problem: "window index \(index) outside 0..<\(grids.rowCount)")
        }
        let (channels, height, width) = (grids.shape[1], grids.shape[2], grids.shape[3])
        let values: [Float] = try grids.readRows(index..<(index + 1))
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw FileError(file: file, dataset: grids.name, problem: "window \(index) holds \(values[bad]) at element \(bad)")
        }
        let kind = Representation(rawValue: String(grids.name.split(separator: "/").last ?? ""))
            ?? Representation(rawValue: attributes.string("representation") ?? "")
        let picture = Self.picture(values, kind: kind, channels: channels, height: height, width: width)
        let scale = zoom ?? max(1, 512 / max(picture.width, 1))
        try PNGFile.write(scale > 1 ? picture.upscaled(by: scale) : picture, to: output)
    }

    static func picture(_ values: [Float], kind: Representation?, channels: Int, height: Int, width: Int) -> RGBImage {
        let plane = height * width
        func channel(_ c: Int) -> ArraySlice<Float> { values[(c * plane)..<((c + 1) * plane)] }
        if (kind == .histogram || kind == .timeSurface) && channels == 2 {
            let scale = ColorMaps.robustScale(values)
            var combined = RGBImage(width: width, height: height)
            for i in 0..<plane {
                let (r, g, b) = ColorMaps.twoChannel(on: values[i], off: values[plane + i], scale: scale)
                combined.pixels[3 * i] = r
                combined.pixels[3 * i + 1] = g
                combined.pixels[3 * i + 2] = b
            }
            let on = ColorMaps.divergingImage(channel(0), height: height, width: width, scale: scale)
            let off = ColorMaps.divergingImage(channel(1).map { -$0 }[...], height: height, width: width, scale: scale)
            return RGBImage.row([combined, on, off])
        }
        let scale = ColorMaps.robustScale(values)
        return RGBImage.row((0..<channels).map { ColorMaps.divergingImage(channel($0), height: height, width: width, scale: scale) })
    }
}

