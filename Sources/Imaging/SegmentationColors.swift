/// Pictures of segmentations: one fixed colour per class, optionally blended over a picture.
public enum SegmentationColors {
    /// Colours for class ids 0, 1, 2, …: the first six follow the DDD17 classes (flat,
    /// background, object, vegetation, human, vehicle) in Cityscapes-like colours; more classes
    /// get distinct hues. Ignored pixels (255) are black.
    public static func color(_ label: UInt8) -> (UInt8, UInt8, UInt8) {
        let fixed: [(UInt8, UInt8, UInt8)] = [(128, 64, 128), (70, 70, 70), (220, 220, 0), (107, 142, 35), (220, 20, 60), (0, 0, 142),
                                              (250, 170, 30), (152, 251, 152), (70, 130, 180), (119, 11, 32), (0, 80, 100)]
        if label == 255 { return (0, 0, 0) }
        if Int(label) < fixed.count { return fixed[Int(label)] }
        let hue = Double(label) * 0.618_033_988_75
        let f = hue - hue.rounded(.down)
        return (UInt8(128 + 127 * f), UInt8(255 * (1 - f)), UInt8(64 + 191 * f))
    }

    /// Class ids `[H·W]` as a picture.
    public static func image(labels: [UInt8], width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for (i, label) in labels.enumerated() {
            let (r, g, b) = color(label)
            image.pixels[3 * i] = r
            image.pixels[3 * i + 1] = g
            image.pixels[3 * i + 2] = b
        }
        return image
    }

    /// `labels` blended over `background` with weight `alpha` for the class colour.
    public static func overlay(labels: [UInt8], on background: RGBImage, alpha: Double = 0.5) -> RGBImage {
        var image = background
        for (i, label) in labels.enumerated() where label != 255 {
            let (r, g, b) = color(label)
            for (channel, value) in [r, g, b].enumerated() {
                let mixed = alpha * Double(value) + (1 - alpha) * Double(background.pixels[3 * i + channel])
                image.pixels[3 * i + channel] = UInt8(mixed.rounded())
            }
        }
        return image
    }

    /// A grey picture from 8-bit intensities.
    public static func grey(_ pixels: [UInt8], width: Int, height: Int) -> RGBImage {
        RGBImage(width: width, height: height, pixels: pixels.flatMap { [$0, $0, $0] })
    }
}
