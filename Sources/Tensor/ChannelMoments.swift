/// Per-channel count, mean and sum of squared deviations (M2) of a batch of NCHW values, in
/// Double: what batch normalisation needs, gathered by whoever has the values in cache (e.g.
/// `Winograd.forward` as it writes its output).
///
/// Blocks are combined with Chan, Golub & LeVeque's pairwise update (mean by the weighted
/// difference of means, M2 plus the between-block term), which stays accurate when the mean is
/// far larger than the spread, where Σx² − (Σx)²/n would cancel.
public struct ChannelMoments: Sendable, Equatable {
    /// Values per channel (the same for every channel of an NCHW batch).
    public private(set) var count: [Double]
    public private(set) var mean: [Double]
    public private(set) var m2: [Double]

    public init(channels: Int) {
        count = Array(repeating: 0, count: channels)
        mean = count
        m2 = count
    }

    public var channels: Int { mean.count }

    /// The biased (population) variance M2 / count of each channel.
    public var biasedVariance: [Double] { zip(m2, count).map { $0 / $1 } }

    /// Adds a block of `count` values with mean `mean` and squared deviations `m2` to `channel`.
    public mutating func merge(channel c: Int, count n: Double, mean blockMean: Double, m2 blockM2: Double) {
        guard n > 0 else { return }
        guard count[c] > 0 else {
            (count[c], mean[c], m2[c]) = (n, blockMean, blockM2)
            return
        }
        let total = count[c] + n, delta = blockMean - mean[c]
        mean[c] += delta * n / total
        m2[c] += blockM2 + delta * delta * count[c] * n / total
        count[c] = total
    }
}
