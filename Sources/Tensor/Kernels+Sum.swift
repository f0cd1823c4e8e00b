/// Sums over contiguous runs of floats for the normalisation kernels (batch norm statistics
/// and their gradients).
///
/// Why not a plain `Double` loop: each `Double` add depends on the previous one, so a plain
/// loop runs at one element per add latency (~4 cycles). These kernels keep 16 independent
/// `Float` lanes over runs of `sumRunLength` elements and add each run's total into a `Double`:
/// about 10× faster, and no lane ever sums more than 16 terms in `Float`, so the result stays
/// within a few ulps of the exact sum.
public enum BlockedSum {
    /// Elements summed in `Float` lanes before their total goes into the `Double` accumulator.
    public static let sumRunLength = 256

    /// Σ p[i].
    @inlinable
    public static func sum(_ p: UnsafePointer<Float>, count: Int) -> Double {
        reduce(count, { p[$0] }, { i in load(p + i) })
    }

    /// Σ (p[i] − center)², the second pass of a two-pass variance.
    @inlinable
    public static func squaredDeviations(_ p: UnsafePointer<Float>, count: Int, from center: Float) -> Double {
        let c8 = SIMD8<Float>(repeating: center)
        return reduce(count, { let d = p[$0] - center; return d * d }, { i in let d = load(p + i) - c8; return d * d })
    }

    /// Σ a[i]·b[i].
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
        reduce(count, { a[$0] * b[$0] }, { i in load(a + i) * load(b + i) })
    }

    /// The 8 floats at `p` (no alignment needed).
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Σ term(i) over `0..<count`, with `vectorTerm(i)` the terms i..<i+8: the blocked
    /// summation behind the other functions, for callers with their own terms.
    @inlinable @inline(__always)
    public static func reduce(_ count: Int, _ term: (Int) -> Float, _ vectorTerm: (Int) -> SIMD8<Float>) -> Double {
        // The second sum is zeros, and dead once inlined.
        reducePair(count, { (term($0), 0) }, { (vectorTerm($0), SIMD8<Float>()) }).0
    }

    /// Two sums at once, `(Σ first(i), Σ second(i))`, with `vectorTerms(i)` both terms for
    /// i..<i+8: `reduce` for callers that need two sums over the same data in one pass.
    @inlinable @inline(__always)
    public static func reducePair(_ count: Int, _ terms: (Int) -> (Float, Float),
                                  _ vectorTerms: (Int) -> (SIMD8<Float>, SIMD8<Float>)) -> (Double, Double) {
        var total = (0.0, 0.0)
        var start = 0
        while start < count {
            let end = Swift.min(start + sumRunLength, count)
            var first = (SIMD8<Float>(), SIMD8<Float>()), second = (SIMD8<Float>(), SIMD8<Float>())
            var i = start
            while i + 16 <= end {
                let (a0, b0) = vectorTerms(i), (a1, b1) = vectorTerms(i + 8)
                first.0 += a0
                first.1 += a1
                second.0 += b0
                second.1 += b1
                i += 16
            }
            var tail: (Float, Float) = (0, 0)
            while i < end {
                let (a, b) = terms(i)
                tail.0 += a
                tail.1 += b
                i += 1
            }
            total.0 += Double((first.0 + first.1).sum() + tail.0)
            total.1 += Double((second.0 + second.1).sum() + tail.1)
            start = end
        }
        return total
    }
}
