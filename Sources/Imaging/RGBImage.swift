/// An 8-bit RGB picture, rows top to bottom, `pixels` = height × width × 3 bytes.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        if fill != (0, 0, 0) {
            for i in 0..<(width * height) {
                pixels[3 * i] = fill.0
                pixels[3 * i + 1] = fill.1
                pixels[3 * i + 2] = fill.2
            }
        }
    }

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGB image needs width × height × 3 bytes")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        get {
            let i = 3 * (y * width + x)
            return (pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            let i = 3 * (y * width + x)
            pixels[i] = newValue.0
            pixels[i + 1] = newValue.1
            pixels[i + 2] = newValue.2
        }
    }

    /// Copies `image` with its top-left corner at (x, y).
    public mutating func paste(_ image: RGBImage, x: Int, y: Int) {
        for row in 0..<image.height where y + row < height {
            let source = 3 * row * image.width
            let target = 3 * ((y + row) * width + x)
            let count = 3 * min(image.width, width - x)
            pixels.withUnsafeMutableBufferPointer { dst in
                image.pixels.withUnsafeBufferPointer { src in
                    (dst.baseAddress! + target).update(from: src.baseAddress! + source, count: count)
                }
            }
        }
    }

    /// Places images left to right with `gap` pixels of `background` between them.
    public static func row(_ images: [RGBImage], gap: Int = 4, background: (UInt8, UInt8, UInt8) = (40, 40, 40)) -> RGBImage {
        let width = images.reduce(0) { $0 + $1.width } + gap * max(images.count - 1, 0)
        let height = images.map(\.height).max() ?? 0
        var canvas = RGBImage(width: max(width, 1), height: max(height, 1), fill: background)
        var x = 0
        for image in images {
            canvas.paste(image, x: x, y: 0)
            x += image.width + gap
        }
        return canvas
    }
}

extension RGBImage {
    /// Each pixel becomes a `factor` × `factor` block (nearest neighbour, keeps pixels crisp).
    public func upscaled(by factor: Int) -> RGBImage {
        guard factor > 1 else { return self }
        var out = RGBImage(width: width * factor, height: height * factor)
        for y in 0..<out.height {
            for x in 0..<out.width {
                out[x, y] = self[x / factor, y / factor]
            }
        }
        return out
    }
}
