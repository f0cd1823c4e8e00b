import Tensor

/// How samples become batches: order, augmentation, size.
public struct BatchOptions: Sendable, Equatable {
    public var batchSize: Int
    public var shuffle: Bool
    public var seed: UInt64
    /// Random crop to this size (multiples of 8) when set; else the whole frame.
    public var cropHeight: Int?
    public var cropWidth: Int?
    /// Mirror left–right with probability ½ (input and labels together).
    public var horizontalFlip: Bool

    public init(batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0, cropHeight: Int? = nil, cropWidth: Int? = nil,
                horizontalFlip: Bool = false) {
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.cropHeight = cropHeight
        self.cropWidth = cropWidth
        self.horizontalFlip = horizontalFlip
    }
}

/// A batch: input `[B, C, H, W]`, labels as class ids (row-major B·H·W, 255 = ignore).
public struct Batch {
    public let input: Tensor
    public let targets: [Int]
    public let indices: [Int]
}

/// Shuffles with a seed, crops, flips and pads samples into batches. Every random choice is a
/// function of (seed, epoch, batch), so an interrupted run resumed at a batch boundary sees
/// exactly the batches it would have seen.
///
/// The U-Net pools three times, so H and W must be multiples of 8: frames that are not are
/// padded at the bottom and right (inputs with 0, labels with 255 = ignored), never cropped.
public struct BatchLoader {
    public let dataset: SegmentationDataset
    public let options: BatchOptions

    public init(dataset: SegmentationDataset, options: BatchOptions) {
        precondition(options.batchSize > 0, "batch size must be positive")
        self.dataset = dataset
        self.options = options
    }

    public static func paddedToMultipleOf8(_ size: Int) -> Int { (size + 7) / 8 * 8 }

    public var batchesPerEpoch: Int { (dataset.count + options.batchSize - 1) / options.batchSize }

    /// The sample order of `epoch` (a seeded Fisher–Yates shuffle, or 0..<N).
    public func order(epoch: Int) -> [Int] {
        var indices = Array(0..<dataset.count)
        guard options.shuffle else { return indices }
        var random = SeededGenerator(seed: options.seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        indices.shuffle(using: &random)
        return indices
    }

    /// Batch `batch` of `epoch`.
    public func batch(_ batch: Int, epoch: Int, order: [Int]? = nil) throws -> Batch {
        let order = order ?? self.order(epoch: epoch)
        let indices = Array(order[(batch * options.batchSize)..<min((batch + 1) * options.batchSize, order.count)])
        var random = SeededGenerator(seed: options.seed ^ (UInt64(epoch) << 32 | UInt64(batch)) &* 0xD1B5_4A32_D192_ED03)
        let (c, h, w) = (dataset.channels, dataset.height, dataset.width)
        let outH = options.cropHeight ?? Self.paddedToMultipleOf8(h)
        let outW = options.cropWidth ?? Self.paddedToMultipleOf8(w)
        var input = [Float](repeating: 0, count: indices.count * c * outH * outW)
        var targets = [Int](repeating: 255, count: indices.count * outH * outW)
        for (slot, index) in indices.enumerated() {
            let sample = try dataset.sample(index)
            // Crop offset inside the (unpadded) frame when the crop is smaller; 0 otherwise.
            let top = options.cropHeight.map { $0 < h ? Int(random.next() % UInt64(h - $0 + 1)) : 0 } ?? 0
            let left = options.cropWidth.map { $0 < w ? Int(random.next() % UInt64(w - $0 + 1)) : 0 } ?? 0
            let flip = options.horizontalFlip && random.next() & 1 == 1
            for y in 0..<min(outH, h - top) {
                for x in 0..<min(outW, w - left) {
                    let sourceX = flip ? (left + min(outW, w - left) - 1 - x) : (left + x)
                    for channel in 0..<c {
                        input[((slot * c + channel) * outH + y) * outW + x] = sample.input[(channel * h + top + y) * w + sourceX]
                    }
                    if let labels = sample.labels {
                        targets[(slot * outH + y) * outW + x] = Int(labels[(top + y) * w + sourceX])
                    }
                }
            }
        }
        return Batch(input: Tensor(shape: [indices.count, c, outH, outW], scalars: input), targets: targets, indices: indices)
    }
}
