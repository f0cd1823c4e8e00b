/// Colour maps for pictures of event tensors.
public enum ColorMaps {
    /// Blue (−scale) → white (0) → red (+scale), clamped: OFF events blue, ON events red.
    public static func diverging(_ value: Float, scale: Float) -> (UInt8, UInt8, UInt8) {
        guard scale > 0, value.isFinite else { return (255, 255, 255) }
        let v = max(-1, min(1, value / scale))
        if v >= 0 {
            let fade = UInt8((255 * (1 - v)).rounded())
            return (255, fade, fade)  // white → red
        }
        let fade = UInt8((255 * (1 + v)).rounded())
        return (fade, fade, 255)  // white → blue
    }

    /// ON count in red and OFF count in blue on black, each scaled by `scale`.
    public static func twoChannel(on: Float, off: Float, scale: Float) -> (UInt8, UInt8, UInt8) {
        guard scale > 0 else { return (0, 0, 0) }
        let r = UInt8((255 * max(0, min(1, on / scale))).rounded())
        let b = UInt8((255 * max(0, min(1, off / scale))).rounded())
        return (r, 0, b)
    }

    /// A robust display scale: the `quantile` of |v| over non-zero values (1 if there are none),
    /// so a few hot pixels do not wash the picture out.
    public static func robustScale(_ values: [Float], quantile: Double = 0.99) -> Float {
        var magnitudes = values.lazy.filter { $0 != 0 && $0.isFinite }.map { abs($0) }.sorted()
        guard !magnitudes.isEmpty else { return 1 }
        let index = min(magnitudes.count - 1, Int(Double(magnitudes.count - 1) * quantile))
        let scale = magnitudes[index]
        magnitudes.removeAll()
        return scale > 0 ? scale : 1
    }

    /// Renders one `[H, W]` plane with the diverging map.
    public static func divergingImage(_ plane: ArraySlice<Float>, height: Int, width: Int, scale: Float) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        var i = 0
        for value in plane {
            let (r, g, b) = diverging(value, scale: scale)
            image.pixels[3 * i] = r
            image.pixels[3 * i + 1] = g
            image.pixels[3 * i + 2] = b
            i += 1
        }
        return image
    }
}
