import XCTest
import Foundation
@testable import Tensor

final class TensorTests: XCTestCase {
    func testInitialisersAndElementAccess() {
        var t = Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(t[1, 2], 5)
        t[0, 1] = 9
        XCTAssertEqual(t.scalars, [0, 9, 2, 3, 4, 5])
        XCTAssertEqual(Tensor.zeros([2, 2]).scalars, [0, 0, 0, 0])
        XCTAssertEqual(Tensor.ones([3]).scalars, [1, 1, 1])
        XCTAssertEqual(Tensor(2.5).shape, [])
        XCTAssertEqual(t.reshaped([3, 2])[2, 1], 5)
        XCTAssertThrowsError(try Tensor(validatingShape: [2, 2], scalars: [1, 2, 3])) { error in
            XCTAssertEqual(error as? ShapeError, .countMismatch(shape: [2, 2], expected: 4, got: 3))
        }
    }

    func testCopyOnWriteKeepsValueSemantics() {
        let a = Tensor(shape: [2], scalars: [1, 2])
        var b = a
        b[0] = 7
        XCTAssertEqual(a.scalars, [1, 2])
        XCTAssertEqual(b.scalars, [7, 2])
    }

    func testSeededGeneratorIsReproducibleAndWellDistributed() {
        var g1 = SeededGenerator(seed: 123), g2 = SeededGenerator(seed: 123), g3 = SeededGenerator(seed: 124)
        let a = (0..<5).map { _ in g1.next() }, b = (0..<5).map { _ in g2.next() }, c = (0..<5).map { _ in g3.next() }
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        var g = SeededGenerator(seed: 1)
        let normal = Tensor.randomNormal([100_000], mean: 2, standardDeviation: 3, using: &g)
        let m = Double(normal.mean())
        let sd = (normal.scalars.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / 100_000).squareRoot()
        XCTAssertEqual(m, 2, accuracy: 0.05)   // standard error 3/√1e5 ≈ 0.01
        XCTAssertEqual(sd, 3, accuracy: 0.05)
        let uniform = Tensor.randomUniform([100_000], low: -1, high: 3, using: &g)
        XCTAssertEqual(Double(uniform.mean()), 1, accuracy: 0.03)
        XCTAssertTrue(uniform.scalars.allSatisfy { $0 >= -1 && $0 < 3 })
    }

    func testBroadcastMatchesExplicitLoopsIncludingParallelPath() {
        var g = SeededGenerator(seed: 3)
        // 4·16·64·64 = 262,144 elements: large enough to take the multi-threaded path.
        let a = Tensor.randomNormal([4, 16, 64, 64], using: &g), b = Tensor.randomNormal([1, 16, 1, 1], using: &g)
        let sum = a + b
        let product = a * b
        let (sa, sb, ss, sp) = (a.scalars, b.scalars, sum.scalars, product.scalars)
        for i in stride(from: 0, to: a.count, by: 997) {
            let channel = (i / 4096) % 16
            XCTAssertEqual(ss[i], sa[i] + sb[channel])
            XCTAssertEqual(sp[i], sa[i] * sb[channel])
        }
        let row = Tensor(shape: [3], scalars: [1, 2, 3]), column = Tensor(shape: [2, 1], scalars: [10, 20])
        XCTAssertEqual((row + column).scalars, [11, 12, 13, 21, 22, 23])
        XCTAssertEqual((column - row).shape, [2, 3])
        XCTAssertEqual(Tensor.broadcast(row, Tensor(2), .maximum).scalars, [2, 2, 3])
    }

    func testSumToShapeIsTheAdjointOfBroadcasting() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.sum(toShape: [1, 3]).scalars, [5, 7, 9])
        XCTAssertEqual(t.sum(toShape: [3]).scalars, [5, 7, 9])
        XCTAssertEqual(t.sum(toShape: [2, 1]).scalars, [6, 15])
        XCTAssertEqual(t.sum(toShape: []).scalars, [21])
        XCTAssertEqual(t.sum(alongAxes: [1]).scalars, [6, 15])
        XCTAssertEqual(t.sum(alongAxes: [-2], keepingDimensions: true).shape, [1, 3])
        XCTAssertEqual(Tensor(shape: [3], scalars: [1, 2, 3]).broadcasted(to: [2, 3]).scalars, [1, 2, 3, 1, 2, 3])
        XCTAssertEqual(t.sum(), 21)
    }

    func testPermuteConcatSlice() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.permuted([1, 0]).scalars, [1, 4, 2, 5, 3, 6])
        let x = Tensor(shape: [2, 2, 2], scalars: (0..<8).map(Float.init))
        XCTAssertEqual(x.permuted([2, 0, 1]).scalars, [0, 2, 4, 6, 1, 3, 5, 7])
        let joined = Tensor.concatenated([t, Tensor(shape: [2, 1], scalars: [7, 8])], along: 1)
        XCTAssertEqual(joined.scalars, [1, 2, 3, 7, 4, 5, 6, 8])
        XCTAssertEqual(joined.sliced(along: 1, 1..<3).scalars, [2, 3, 5, 6])
        XCTAssertEqual(Tensor.concatenated([t, t], along: 0).shape, [4, 3])
    }

    func testSgemmMatchesNaiveProductForAllTransposes() {
        var g = SeededGenerator(seed: 11)
        let (m, n, k) = (5, 7, 6)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Tensor.randomNormal(ta ? [k, m] : [m, k], using: &g)
            let b = Tensor.randomNormal(tb ? [n, k] : [k, n], using: &g)
            let c = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += Double(ta ? a[p, i] : a[i, p]) * Double(tb ? b[j, p] : b[p, j]) }
                    XCTAssertEqual(Double(c[i, j]), s, accuracy: 1e-5, "tA \(ta) tB \(tb) [\(i), \(j)]")
                }
            }
        }
    }

    /// beta = 0 overwrites C whatever it held (NaN included: we zero C ourselves, then
    /// accumulate) and leaves the columns past n of a wider C alone.
    func testSgemmWithBetaZeroOverwritesOnlyTheBlock() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), b = Tensor(shape: [2, 2], scalars: [5, 6, 7, 8])
        var c = [Float](repeating: .nan, count: 2 * 3)
        c[2] = 42; c[5] = -1
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 2, a: pa.baseAddress!, lda: 2,
                               b: pb.baseAddress!, ldb: 2, beta: 0, c: pc.baseAddress!, ldc: 3)
                }
            }
        }
        XCTAssertEqual(c, [19, 22, 42, 43, 50, -1])
    }

    func testSgemmAccumulatesWithBetaOne() {
        let a = Tensor(shape: [1, 2], scalars: [1, 2]), b = Tensor(shape: [2, 1], scalars: [3, 4])
        var c = Tensor(shape: [1, 1], scalars: [100])
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(transposeA: false, transposeB: false, m: 1, n: 1, k: 2, a: pa.baseAddress!, lda: 2,
                               b: pb.baseAddress!, ldb: 1, beta: 1, c: pc.baseAddress!, ldc: 1)
                }
            }
        }
        XCTAssertEqual(c.scalars, [111])
    }

    /// im2col against direct indexing, and col2im as its exact adjoint: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩.
    /// The stride-1 "same width" cases (rows 1, 5–7) take the one-copy-per-tap path, including
    /// column offsets as wide as the image.
    func testIm2ColAndCol2ImAreAdjoint() throws {
        var g = SeededGenerator(seed: 21)
        for (c, h, w, kh, kw, s, p, d) in [(2, 5, 6, 3, 3, 1, 1, 1), (3, 7, 5, 3, 2, 2, 2, 2), (1, 4, 4, 1, 1, 1, 0, 1), (2, 6, 9, 5, 3, 3, 0, 1),
                                           (3, 8, 7, 3, 3, 1, 2, 2), (2, 6, 3, 5, 5, 1, 2, 1), (1, 4, 2, 3, 3, 1, 1, 1)] {
            let geometry = try ConvGeometry(channels: c, height: h, width: w, kernelHeight: kh, kernelWidth: kw,
                                            stride: s, padding: p, dilation: d)
            let x = Tensor.randomNormal([c, h, w], using: &g)
            var columns = [Float](repeating: .nan, count: geometry.columnRows * geometry.columnCount)
            x.withUnsafeBufferPointer { px in
                columns.withUnsafeMutableBufferPointer { pc in
                    im2col(image: px.baseAddress!, geometry: geometry, channelRange: 0..<c, columns: pc.baseAddress!)
                }
            }
            for ch in 0..<c { for a in 0..<kh { for b in 0..<kw { for i in 0..<geometry.outputHeight { for j in 0..<geometry.outputWidth {
                let y = i * s - p + a * d, xx = j * s - p + b * d
                let expected: Float = y >= 0 && y < h && xx >= 0 && xx < w ? x[ch, y, xx] : 0
                let row = (ch * kh + a) * kw + b
                XCTAssertEqual(columns[row * geometry.columnCount + i * geometry.outputWidth + j], expected)
            } } } } }
            let y = Tensor.randomNormal([geometry.columnRows * geometry.columnCount], using: &g)
            var back = [Float](repeating: 0, count: c * h * w)
            y.withUnsafeBufferPointer { py in
                back.withUnsafeMutableBufferPointer { pb in
                    col2imAccumulate(columns: py.baseAddress!, geometry: geometry, channelRange: 0..<c, image: pb.baseAddress!)
                }
            }
            let lhs = zip(columns, y.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x.scalars, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)))

            // A band of output rows gives the band's columns of the full matrix, row by row.
            let (outH, outW) = (geometry.outputHeight, geometry.outputWidth)
            for band in [0..<1, (outH / 2)..<outH, 1..<max(1, outH - 1)] where !band.isEmpty {
                var banded = [Float](repeating: .nan, count: geometry.columnRows * band.count * outW)
                x.withUnsafeBufferPointer { px in
                    banded.withUnsafeMutableBufferPointer { pb in
                        im2col(image: px.baseAddress!, geometry: geometry, channelRange: 0..<c, outputRows: band, columns: pb.baseAddress!)
                    }
                }
                for row in 0..<geometry.columnRows {
                    XCTAssertEqual(Array(banded[(row * band.count * outW)..<((row + 1) * band.count * outW)]),
                                   Array(columns[(row * outH * outW + band.lowerBound * outW)..<(row * outH * outW + band.upperBound * outW)]),
                                   "band \(band) row \(row) of geometry \((c, h, w, kh, kw, s, p, d))")
                }
            }
        }
    }

    func testBufferPoolReusesBlocksAndHoldsLittleMoreThanThePeakDemand() {
        let pool = BufferPool()
        XCTAssertEqual(BufferPool.classBytes(for: 100), 100, "small requests are not rounded")
        XCTAssertEqual(BufferPool.classBytes(for: 1 << 20), 1 << 20)
        XCTAssertEqual(BufferPool.classBytes(for: (1 << 20) + 1), (1 << 20) + (1 << 17), "eighths of an octave")
        for bytes in [70_000, 1 << 20, 3_000_001, 50_000_000] {
            XCTAssertGreaterThanOrEqual(BufferPool.classBytes(for: bytes), bytes)
            XCTAssertLessThanOrEqual(Double(BufferPool.classBytes(for: bytes)), Double(bytes) * 1.125 + 64)
            XCTAssertEqual(BufferPool.classBytes(for: bytes) % 64, 0)
        }

        let a = pool.allocate(bytes: 1 << 20), b = pool.allocate(bytes: 3 << 20)
        XCTAssertEqual(Int(bitPattern: a) % BufferPool.alignment, 0)
        // Blocks of 2 MB or more start on a 2 MB boundary, so they can be backed by huge pages.
        XCTAssertEqual(Int(bitPattern: b) % (BufferPool.hugePagesWanted ? BufferPool.hugePageBytes : BufferPool.alignment), 0)
        pool.deallocate(a, bytes: 1 << 20)
        let again = pool.allocate(bytes: (1 << 20) - 100)  // same size class: the cached block
        XCTAssertEqual(again, a)
        var stats = pool.currentStatistics
        XCTAssertEqual(stats.hits, 1)
        XCTAssertEqual(stats.liveBytes, (1 << 20) + (3 << 20))
        pool.deallocate(again, bytes: (1 << 20) - 100)
        pool.deallocate(b, bytes: 3 << 20)
        stats = pool.currentStatistics
        XCTAssertEqual(stats.cachedBytes, 4 << 20)
        XCTAssertEqual(stats.peakLiveBytes, 4 << 20)

        // No 2 MB block cached: the request takes the 3 MB one (at most twice its size).
        let c = pool.allocate(bytes: 2 << 20)
        XCTAssertEqual(c, b)
        XCTAssertEqual(pool.currentStatistics.hits, 2)
        // A new peak of live bytes (8 MB) leaves room for an eighth of it in the cache.
        let d = pool.allocate(bytes: 5 << 20)
        stats = pool.currentStatistics
        XCTAssertEqual(stats.cachedBytes, 1 << 20, "the 1 MB block fits in the slack")
        XCTAssertEqual(stats.peakLiveBytes, 8 << 20)
        pool.deallocate(c, bytes: 2 << 20)
        pool.deallocate(d, bytes: 5 << 20)
        XCTAssertEqual(pool.currentStatistics.cachedBytes, 9 << 20, "c went back as its 3 MB block")
        // A miss that no cached block fits may not push live + cached above the peak plus an
        // eighth (9 MB): the largest cached blocks give way.
        let e = pool.allocate(bytes: 1_310_720)  // 1.25 MB: the 3 MB block is more than twice that
        stats = pool.currentStatistics
        XCTAssertLessThanOrEqual(stats.liveBytes + stats.cachedBytes, stats.peakLiveBytes + stats.peakLiveBytes / 8)
        XCTAssertEqual(stats.cachedBytes, 4 << 20, "the 5 MB block went back to the system")
        pool.deallocate(e, bytes: 1_310_720)
        pool.trim()
        XCTAssertEqual(pool.currentStatistics.cachedBytes, 0)

        let small = pool.allocate(bytes: 64)
        pool.deallocate(small, bytes: 64)
        XCTAssertEqual(pool.currentStatistics.liveBytes, 0, "small blocks bypass the pool")
    }

    func testBlockedSumsMatchDoubleSums() {
        var g = SeededGenerator(seed: 8)
        for count in [0, 1, 7, 15, 16, 17, 255, 256, 257, 1000, 10_001] {
            let a = Tensor.randomNormal([count], mean: 3, standardDeviation: 2, using: &g).scalars
            let b = Tensor.randomNormal([count], using: &g).scalars
            let sum = a.reduce(0.0) { $0 + Double($1) }
            let mean = Float(sum / Double(max(count, 1)))
            let squares = a.reduce(0.0) { $0 + Double($1 - mean) * Double($1 - mean) }
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    guard let pa = pa.baseAddress, let pb = pb.baseAddress else { return }
                    // Float lanes over 16 terms each: a few ulps of the magnitudes summed.
                    XCTAssertEqual(BlockedSum.sum(pa, count: count), sum, accuracy: 1e-6 * Double(count) * 5, "sum of \(count)")
                    XCTAssertEqual(BlockedSum.squaredDeviations(pa, count: count, from: mean), squares,
                                   accuracy: 1e-6 * Double(count) * 4, "squares of \(count)")
                    XCTAssertEqual(BlockedSum.dot(pa, pb, count: count), dot, accuracy: 1e-6 * Double(count) * 6, "dot of \(count)")
                }
            }
        }
    }

    func testConvGeometryFollowsPyTorchOutputSize() throws {
        let g = try ConvGeometry(channels: 1, height: 11, width: 10, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 2, dilation: 2)
        XCTAssertEqual([g.outputHeight, g.outputWidth], [6, 5])
        XCTAssertThrowsError(try ConvGeometry(channels: 1, height: 3, width: 3, kernelHeight: 3, kernelWidth: 3, stride: 0))
    }

    func testSafeTensorsRoundTrip() throws {
        let tensors = ["b.weight": Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), "a": Tensor(5)]
        let data = try SafeTensorsFile.encode(tensors, metadata: ["format": "pt"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("roundtrip-\(getpid()).safetensors").path
        try data.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(contentsOf: path)
        XCTAssertEqual(try file.tensor("b.weight"), tensors["b.weight"])
        XCTAssertEqual(try file.tensor("a"), tensors["a"])
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertThrowsError(try file.tensor("missing")) { error in
            XCTAssertEqual(error as? SafeTensorsFile.Error, .missingTensor(path: path, name: "missing"))
        }
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: "/nonexistent/x.safetensors"))

        let mixed = try SafeTensorsFile.encode(values: ["count": .int64(shape: [], values: [7]), "w": .float32(Tensor.ones([3]))])
        try mixed.write(to: URL(fileURLWithPath: path))
        let reread = try SafeTensorsFile(contentsOf: path)
        XCTAssertEqual(reread.entries["count"]?.dtype, "I64")
        XCTAssertEqual(try reread.int64s("count").values, [7])
        XCTAssertEqual(try reread.tensor("w"), Tensor.ones([3]))
        XCTAssertThrowsError(try reread.tensor("count")) { error in
            XCTAssertEqual(error as? SafeTensorsFile.Error, .wrongType(path: path, name: "count", dtype: "I64", expected: "F32"))
        }
    }
}
