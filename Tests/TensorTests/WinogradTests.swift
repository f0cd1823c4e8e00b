import CWinogradKernels
import XCTest
@testable import Tensor

/// Winograd F(4×4, 3×3) against a direct float64 loop: forward (with bias, ReLU, accumulate) and
/// the weight gradient, on shapes that exercise partial tiles at the right and bottom edges,
/// channel counts that are not multiples of the SIMD width, every padding it supports, several
/// bands per image and several weight-gradient shares.
final class WinogradTests: XCTestCase {
    struct Case {
        let n, c, o, h, w, padding: Int
    }

    static let cases: [Case] = [
        Case(n: 2, c: 90, o: 88, h: 12, w: 10, padding: 1), // ∂U larger than a unit: weight gradient by position
        Case(n: 3, c: 96, o: 90, h: 32, w: 30, padding: 1), // by position in several chunks of units
        Case(n: 1, c: 1, o: 1, h: 3, w: 3, padding: 0),     // one partial tile, one output
        Case(n: 2, c: 3, o: 5, h: 7, w: 9, padding: 1),     // partial tiles on both edges
        Case(n: 1, c: 8, o: 8, h: 8, w: 8, padding: 1),     // exact lanes and tiles
        Case(n: 3, c: 13, o: 10, h: 11, w: 6, padding: 2),  // padding 2 (the ∂x convolution of padding 0)
        Case(n: 2, c: 9, o: 17, h: 5, w: 14, padding: 0),
        Case(n: 9, c: 16, o: 12, h: 8, w: 7, padding: 1),   // several images per unit
        Case(n: 3, c: 64, o: 60, h: 64, w: 36, padding: 1), // several bands per image, > 8 units
    ]

    /// out[n][o][y][x] = b[o] + Σ_{c,i,j} in[n][c][y+i−p][x+j−p] · w[o][c][i][j] in float64.
    static func directConvolution(_ x: [Float], _ w: [Float], _ bias: [Float]?, _ k: Case) -> [Double] {
        let outH = k.h + 2 * k.padding - 2, outW = k.w + 2 * k.padding - 2
        var out = [Double](repeating: 0, count: k.n * k.o * outH * outW)
        for n in 0..<k.n {
            for o in 0..<k.o {
                for y in 0..<outH {
                    for xx in 0..<outW {
                        var s = Double(bias?[o] ?? 0)
                        for c in 0..<k.c {
                            for i in 0..<3 {
                                let iy = y + i - k.padding
                                guard iy >= 0, iy < k.h else { continue }
                                for j in 0..<3 {
                                    let ix = xx + j - k.padding
                                    guard ix >= 0, ix < k.w else { continue }
                                    s += Double(x[((n * k.c + c) * k.h + iy) * k.w + ix]) * Double(w[((o * k.c + c) * 3 + i) * 3 + j])
                                }
                            }
                        }
                        out[((n * k.o + o) * outH + y) * outW + xx] = s
                    }
                }
            }
        }
        return out
    }

    /// ∂w[o][c][i][j] = Σ_{n,y,x} g[n][o][y][x] · in[n][c][y+i−p][x+j−p] in float64.
    static func directWeightGradient(_ x: [Float], _ g: [Float], _ k: Case) -> [Double] {
        let outH = k.h + 2 * k.padding - 2, outW = k.w + 2 * k.padding - 2
        var dw = [Double](repeating: 0, count: k.o * k.c * 9)
        for n in 0..<k.n {
            for o in 0..<k.o {
                for c in 0..<k.c {
                    for i in 0..<3 {
                        for j in 0..<3 {
                            var s = 0.0
                            for y in 0..<outH {
                                let iy = y + i - k.padding
                                guard iy >= 0, iy < k.h else { continue }
                                for xx in 0..<outW {
                                    let ix = xx + j - k.padding
                                    guard ix >= 0, ix < k.w else { continue }
                                    s += Double(g[((n * k.o + o) * outH + y) * outW + xx]) * Double(x[((n * k.c + c) * k.h + iy) * k.w + ix])
                                }
                            }
                            dw[((o * k.c + c) * 3 + i) * 3 + j] += s
                        }
                    }
                }
            }
        }
        return dw
    }

    static func random(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
        Tensor.randomNormal([count], mean: 0, standardDeviation: 1, using: &generator).scalars
    }

    /// Largest |a − b| over the largest |b| (the products' scale).
    static func relativeError(_ a: [Float], _ b: [Double]) -> Double {
        let scale = max(b.map(abs).max() ?? 0, 1e-12)
        return zip(a, b).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? 0
    }

    func testForwardMatchesDirectConvolution() throws {
        var generator = SeededGenerator(seed: 44)
        for (index, k) in Self.cases.enumerated() {
            let g = try ConvGeometry(channels: k.c, height: k.h, width: k.w, kernelHeight: 3, kernelWidth: 3, padding: k.padding)
            let x = Self.random(k.n * k.c * k.h * k.w, &generator), w = Self.random(k.o * k.c * 9, &generator)
            let bias = Self.random(k.o, &generator)
            let expected = Self.directConvolution(x, w, bias, k)
            let outCount = k.n * k.o * g.outputHeight * g.outputWidth
            let plan = Winograd.Plan(g, outputChannels: k.o, batch: k.n)
            XCTAssertEqual(plan.weightGradientByPosition, index <= 1, "case \(index): weight gradient by position only in cases 0 and 1")
            if index == 1 {
                XCTAssertGreaterThan(plan.weightGradientChunks.count, 1, "case 1 must take the weight gradient in several chunks")
            }
            if index == Self.cases.count - 2 {
                XCTAssertGreaterThan(plan.units.map(\.images.count).max() ?? 0, 1, "case \(index) must put several images in a unit")
            }
            if index == Self.cases.count - 1 {
                XCTAssertGreaterThan(plan.units.count, max(k.n, Winograd.weightGradientShares), "case \(index) must split images into bands")
            }
            for (relu, accumulate) in [(false, false), (true, false), (false, true)] {
                let prior = accumulate ? Self.random(outCount, &generator) : [Float](repeating: .nan, count: outCount)
                var out = prior
                x.withUnsafeBufferPointer { px in
                    w.withUnsafeBufferPointer { pw in
                        bias.withUnsafeBufferPointer { pb in
                            out.withUnsafeMutableBufferPointer { po in
                                Winograd.forward(input: px.baseAddress!, batch: k.n, geometry: g, weights: pw.baseAddress!,
                                                 outputChannels: k.o, bias: pb.baseAddress!, output: po.baseAddress!,
                                                 accumulate: accumulate, relu: relu)
                            }
                        }
                    }
                }
                let reference = expected.enumerated().map { i, v in
                    accumulate ? v + Double(prior[i]) : (relu ? max(v, 0) : v)
                }
                let error = Self.relativeError(out, reference)
                XCTAssertLessThan(error, 1.5e-5, "case \(index) \(k) relu \(relu) accumulate \(accumulate)")
            }
        }
    }

    /// The moments `forward` gathers while writing equal float64 moments of what it wrote, per
    /// channel over the batch: for every case (partial tile rows and columns, several images
    /// per unit, several bands), with ReLU, and with a mean 10⁴ times the spread (where
    /// Σx² − (Σx)²/n in float would lose every digit).
    func testForwardMomentsMatchFloat64MomentsOfTheOutput() throws {
        var generator = SeededGenerator(seed: 45)
        for (index, k) in Self.cases.enumerated() {
            let g = try ConvGeometry(channels: k.c, height: k.h, width: k.w, kernelHeight: 3, kernelWidth: 3, padding: k.padding)
            let x = Self.random(k.n * k.c * k.h * k.w, &generator), w = Self.random(k.o * k.c * 9, &generator)
            let plane = g.outputHeight * g.outputWidth
            for (relu, offset) in [(false, Float(0)), (true, 0), (false, 1e4)] {
                let bias = Self.random(k.o, &generator).map { $0 + offset }
                var out = [Float](repeating: .nan, count: k.n * k.o * plane)
                let moments = x.withUnsafeBufferPointer { px in
                    w.withUnsafeBufferPointer { pw in
                        bias.withUnsafeBufferPointer { pb in
                            out.withUnsafeMutableBufferPointer { po in
                                Winograd.forward(input: px.baseAddress!, batch: k.n, geometry: g, weights: pw.baseAddress!,
                                                 outputChannels: k.o, bias: pb.baseAddress!, output: po.baseAddress!,
                                                 accumulate: false, relu: relu, moments: true)
                            }
                        }
                    }
                }
                let m = try XCTUnwrap(moments, "case \(index)")
                XCTAssertEqual(m.channels, k.o)
                for o in 0..<k.o {
                    var values: [Double] = []
                    for n in 0..<k.n {
                        let start = (n * k.o + o) * plane
                        values += out[start..<(start + plane)].map { Double($0) }
                    }
                    let mean: Double = values.reduce(0, +) / Double(values.count)
                    let m2: Double = values.reduce(0) { (total: Double, v: Double) in total + (v - mean) * (v - mean) }
                    let spread = (m2 / Double(values.count)).squareRoot()
                    let label = "case \(index) \(k) relu \(relu) offset \(offset) channel \(o)"
                    XCTAssertEqual(m.count[o], Double(values.count), label)
                    XCTAssertEqual(m.mean[o], mean, accuracy: 1e-6 * (abs(mean) + spread) + 1e-12, label)
                    XCTAssertEqual(m.m2[o], m2, accuracy: 1e-5 * m2 + 1e-12, label)
                }
            }
        }
    }

    func testWeightGradientMatchesDirectSum() throws {
        var generator = SeededGenerator(seed: 45)
        for (index, k) in Self.cases.enumerated() {
            let g = try ConvGeometry(channels: k.c, height: k.h, width: k.w, kernelHeight: 3, kernelWidth: 3, padding: k.padding)
            let x = Self.random(k.n * k.c * k.h * k.w, &generator)
            let gradOut = Self.random(k.n * k.o * g.outputHeight * g.outputWidth, &generator)
            let expected = Self.directWeightGradient(x, gradOut, k)
            for accumulate in [false, true] {
                let prior = accumulate ? Self.random(k.o * k.c * 9, &generator) : [Float](repeating: .nan, count: k.o * k.c * 9)
                var dw = prior
                x.withUnsafeBufferPointer { px in
                    gradOut.withUnsafeBufferPointer { pg in
                        dw.withUnsafeMutableBufferPointer { pw in
                            Winograd.weightGradient(input: px.baseAddress!, batch: k.n, geometry: g, gradOutput: pg.baseAddress!,
                                                    outputChannels: k.o, weightGradient: pw.baseAddress!, accumulate: accumulate)
                        }
                    }
                }
                let reference = expected.enumerated().map { i, v in accumulate ? v + Double(prior[i]) : v }
                XCTAssertLessThan(Self.relativeError(dw, reference), 1.5e-5, "case \(index) \(k) accumulate \(accumulate)")
            }
        }
    }

    /// `wg_product` against a float64 loop: every row remainder of its 6-row blocks (m = 1…13),
    /// 8- and 16-column blocks (n = 8…40), A read as stored and transposed, and accumulation.
    func testProductMatchesFloat64Loop() throws {
        try XCTSkipUnless(Winograd.cpuSupported, "needs AVX2 and FMA")
        var g = SeededGenerator(seed: 11)
        for m in 1...13 {
            for n in [8, 16, 24, 40] {
                for k in [1, 7, 33] {
                    for transposed in [false, true] {
                        // A is m × k (row stride k + 3) or stored k × m (row stride m + 2); C's
                        // row stride n + 8, with the gap left untouched.
                        let lda = transposed ? m + 2 : k + 3, ldb = n + 5, ldc = n + 8
                        let a = (0..<(transposed ? k : m) * lda).map { _ in Float.random(in: -1...1, using: &g) }
                        let b = (0..<k * ldb).map { _ in Float.random(in: -1...1, using: &g) }
                        let c0 = (0..<m * ldc).map { _ in Float.random(in: -1...1, using: &g) }
                        for accumulate in [false, true] {
                            var c = c0
                            wg_product(m, n, k, a, transposed ? 1 : lda, transposed ? lda : 1, b, ldb, &c, ldc, accumulate ? 1 : 0)
                            for i in 0..<m {
                                for j in 0..<ldc {
                                    guard j < n else {
                                        XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], "gap overwritten at \(i), \(j)")
                                        continue
                                    }
                                    var s = accumulate ? Double(c0[i * ldc + j]) : 0
                                    for p in 0..<k {
                                        s += Double(transposed ? a[p * lda + i] : a[i * lda + p]) * Double(b[p * ldb + j])
                                    }
                                    XCTAssertEqual(Double(c[i * ldc + j]), s, accuracy: 1e-5 * Double(k + 1),
                                                   "m \(m) n \(n) k \(k) transposed \(transposed) accumulate \(accumulate) at \(i), \(j)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
