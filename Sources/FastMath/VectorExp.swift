/// `output[i] = e^input[i]` for `count` floats (in place allowed), by Cephes' `expf`: n =
/// round(x·log₂e), a degree-5 polynomial on the remainder |r| ≤ ½ ln 2, 2ⁿ put straight into
/// the exponent bits; within 2 ulp for arguments clamped to [−87, 88].
///
/// Why not libm: the simulator needs two exponentials for every pixel that fires, and a scalar
/// `expf` call each cost more than the firing; softmax and cross-entropy need one per logit
/// forward and again backward. A branch-free loop LLVM vectorises (Swift's SIMD
/// types were partly scalarised), with no float→int conversion, whose overflow trap would stop
/// it. Identical on every machine, unlike glibc's AVX2-only vector `expf`.
public func exponentials(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
    // In place, the loop reads and writes through one pointer: with two, LLVM guards its vector
    // loop with a check that the output starts at least a vector past the input, and equal
    // pointers fail it, so in-place calls ran the scalar loop (perf: 3.3 ns per value).
    if UnsafePointer(output) == input {
        for i in 0..<count { output[i] = exponential(output[i]) }
    } else {
        for i in 0..<count { output[i] = exponential(input[i]) }
    }
}

@inline(__always)
private func exponential(_ value: Float) -> Float {
    let x = min(max(value, -87), 88)
    // Adding 1.5·2²³ rounds x·log₂e to an integer n held in the sum's last mantissa bits.
    let shifted = x * 1.44269504088896341 + 12_582_912
    let nf = shifted - 12_582_912
    let n = Int32(bitPattern: shifted.bitPattern &- 0x4B40_0000)
    // ln 2 = 0.693359375 − 2.12194440e-4: the first part is exact in float, so r loses nothing.
    let r = x - nf * 0.693359375 - nf * -2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    return (p * r * r + r + 1) * Float(bitPattern: UInt32(bitPattern: (n &+ 127) &<< 23))
}
