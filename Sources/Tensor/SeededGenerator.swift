/// A reproducible random number generator: xoshiro256** seeded through SplitMix64.
///
/// xoshiro256** (Blackman & Vigna 2018) is fast and passes BigCrush; SplitMix64 spreads a
/// 64-bit seed over the 256-bit state (the authors' recommended seeding), so nearby seeds give
/// unrelated streams. The same seed gives the same sequence on every platform and run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var splitMix = seed
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits (every Float in the grid 2⁻²⁴·k is equally likely).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal sample (Box–Muller in Double, so the tails are right to ~8σ).
    public mutating func nextNormal() -> Double {
        // 1 − u lies in (0, 1], so the log is finite.
        let u1 = 1.0 - nextUnitDouble()
        let u2 = nextUnitDouble()
        return (-2.0 * _log(u1)).squareRoot() * _cos(2.0 * Double.pi * u2)
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) private func _log(_ x: Double) -> Double { log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { cos(x) }

extension Tensor {
    /// Samples from N(mean, std²), drawn in row-major order from `generator`.
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, using generator: inout SeededGenerator
    ) -> Tensor {
        var values = [Float](repeating: 0, count: shapeCount(shape))
        for i in values.indices {
            values[i] = mean + standardDeviation * Float(generator.nextNormal())
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// Samples uniformly from [low, high), drawn in row-major order from `generator`.
    public static func randomUniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, using generator: inout SeededGenerator
    ) -> Tensor {
        var values = [Float](repeating: 0, count: shapeCount(shape))
        for i in values.indices {
            values[i] = low + (high - low) * generator.nextUnitFloat()
        }
        return Tensor(shape: shape, scalars: values)
    }
}
