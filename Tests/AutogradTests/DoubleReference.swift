import Foundation
import Tensor

/// A plain Double tensor for the slow, obvious reference implementations the engine's ops are
/// checked against. Nothing here shares code with the engine.
struct DTensor {
    var shape: [Int]
    var data: [Double]

    init(shape: [Int], data: [Double]) {
        precondition(data.count == shape.reduce(1, *), "DTensor: \(data.count) values for shape \(shape)")
        self.shape = shape
        self.data = data
    }
    init(zeros shape: [Int]) { self.init(shape: shape, data: Array(repeating: 0, count: shape.reduce(1, *))) }
    init(_ t: Tensor) { self.init(shape: t.shape, data: t.scalars.map(Double.init)) }
    init(_ value: Double) { self.init(shape: [], data: [value]) }

    var count: Int { data.count }
    var strides: [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var r = 1
        for a in stride(from: shape.count - 1, through: 0, by: -1) { s[a] = r; r *= shape[a] }
        return s
    }
    func offset(_ index: [Int]) -> Int {
        var o = 0
        for (a, i) in index.enumerated() { o = o * shape[a] + i }
        return o
    }
    subscript(_ index: [Int]) -> Double {
        get { data[offset(index)] }
        set { data[offset(index)] = newValue }
    }
    subscript(_ index: Int...) -> Double {
        get { self[index] }
        set { self[index] = newValue }
    }
    func map(_ f: (Double) -> Double) -> DTensor { DTensor(shape: shape, data: data.map(f)) }
    var tensor: Tensor { Tensor(shape: shape, scalars: data.map(Float.init)) }
}

/// Calls `body` with every multi-index of `shape` in row-major order.
func forEachIndex(_ shape: [Int], _ body: ([Int]) -> Void) {
    let total = shape.reduce(1, *)
    guard total > 0 else { return }
    var index = [Int](repeating: 0, count: shape.count)
    for _ in 0..<total {
        body(index)
        var a = shape.count - 1
        while a >= 0 {
            index[a] += 1
            if index[a] < shape[a] { break }
            index[a] = 0
            a -= 1
        }
    }
}

enum Reference {
    // MARK: elementwise and broadcasting

    static func broadcast(_ a: DTensor, _ b: DTensor, _ f: (Double, Double) -> Double) -> DTensor {
        let rank = max(a.shape.count, b.shape.count)
        let pa = Array(repeating: 1, count: rank - a.shape.count) + a.shape
        let pb = Array(repeating: 1, count: rank - b.shape.count) + b.shape
        let shape = (0..<rank).map { max(pa[$0], pb[$0]) }
        var out = DTensor(zeros: shape)
        forEachIndex(shape) { idx in
            let ia = Array(idx.enumerated().map { pa[$0.offset] == 1 ? 0 : $0.element }.suffix(a.shape.count))
            let ib = Array(idx.enumerated().map { pb[$0.offset] == 1 ? 0 : $0.element }.suffix(b.shape.count))
            out[idx] = f(a[ia], b[ib])
        }
        return out
    }

    static func matmul(_ a: DTensor, _ b: DTensor, transposeA: Bool, transposeB: Bool) -> DTensor {
        let m = transposeA ? a.shape[1] : a.shape[0], k = transposeA ? a.shape[0] : a.shape[1]
        let n = transposeB ? b.shape[0] : b.shape[1]
        var out = DTensor(zeros: [m, n])
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += (transposeA ? a[p, i] : a[i, p]) * (transposeB ? b[j, p] : b[p, j]) }
                out[i, j] = s
            }
        }
        return out
    }

    // MARK: convolution and normalisation

    /// Direct 7-loop convolution (cross-correlation), zero padding.
    static func conv2d(_ x: DTensor, _ w: DTensor, _ bias: DTensor?, stride: Int, padding: Int, dilation: Int) -> DTensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + 2 * padding - dilation * (kh - 1) - 1) / stride + 1
        let ow = (wd + 2 * padding - dilation * (kw - 1) - 1) / stride + 1
        var out = DTensor(zeros: [n, o, oh, ow])
        for b in 0..<n {
            for oc in 0..<o {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var s = bias?[oc] ?? 0
                        for ic in 0..<c {
                            for p in 0..<kh {
                                for q in 0..<kw {
                                    let y = i * stride - padding + p * dilation
                                    let xx = j * stride - padding + q * dilation
                                    if y >= 0 && y < h && xx >= 0 && xx < wd { s += x[b, ic, y, xx] * w[oc, ic, p, q] }
                                }
                            }
                        }
                        out[b, oc, i, j] = s
                    }
                }
            }
        }
        return out
    }

    /// Batch norm with PyTorch semantics; returns the output and the updated running stats.
    static func batchNorm(
        _ x: DTensor, weight: DTensor?, bias: DTensor?, runningMean: DTensor, runningVar: DTensor,
        training: Bool, momentum: Double = 0.1, eps: Double = 1e-5
    ) -> (DTensor, DTensor, DTensor) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let m = Double(n * h * w)
        var out = DTensor(zeros: x.shape)
        var rm = runningMean, rv = runningVar
        for ch in 0..<c {
            var mean = runningMean[ch], variance = runningVar[ch]
            if training {
                var s = 0.0
                forEachIndex([n, h, w]) { i in s += x[i[0], ch, i[1], i[2]] }
                mean = s / m
                var v = 0.0
                forEachIndex([n, h, w]) { i in v += (x[i[0], ch, i[1], i[2]] - mean) * (x[i[0], ch, i[1], i[2]] - mean) }
                variance = v / m
                rm[ch] = (1 - momentum) * runningMean[ch] + momentum * mean
                rv[ch] = (1 - momentum) * runningVar[ch] + momentum * variance * m / (m - 1)
            }
            let g = weight?[ch] ?? 1, b = bias?[ch] ?? 0
            forEachIndex([n, h, w]) { i in
                out[i[0], ch, i[1], i[2]] = g * (x[i[0], ch, i[1], i[2]] - mean) / (variance + eps).squareRoot() + b
            }
        }
        return (out, rm, rv)
    }

    // MARK: pooling and resampling

    static func maxPool(_ x: DTensor, kernel k: Int, stride s: Int) -> DTensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h - k) / s + 1, ow = (w - k) / s + 1
        var out = DTensor(zeros: [n, c, oh, ow])
        forEachIndex([n, c, oh, ow]) { i in
            var best = -Double.infinity
            for p in 0..<k { for q in 0..<k { best = max(best, x[i[0], i[1], i[2] * s + p, i[3] * s + q]) } }
            out[i] = best
        }
        return out
    }

    /// Average over arbitrary row/column windows (covers avg, adaptive and global pooling).
    static func windowAverage(_ x: DTensor, rows: [Range<Int>], cols: [Range<Int>]) -> DTensor {
        let (n, c) = (x.shape[0], x.shape[1])
        var out = DTensor(zeros: [n, c, rows.count, cols.count])
        forEachIndex(out.shape) { i in
            var s = 0.0
            for r in rows[i[2]] { for q in cols[i[3]] { s += x[i[0], i[1], r, q] } }
            out[i] = s / Double(rows[i[2]].count * cols[i[3]].count)
        }
        return out
    }

    static func avgPool(_ x: DTensor, kernel k: Int, stride s: Int) -> DTensor {
        let oh = (x.shape[2] - k) / s + 1, ow = (x.shape[3] - k) / s + 1
        return windowAverage(x, rows: (0..<oh).map { ($0 * s)..<($0 * s + k) }, cols: (0..<ow).map { ($0 * s)..<($0 * s + k) })
    }

    /// PyTorch adaptive pooling bins: start = ⌊i·in/out⌋, end = ⌈(i+1)·in/out⌉.
    static func adaptiveAvgPool(_ x: DTensor, outputHeight: Int, outputWidth: Int) -> DTensor {
        func bins(_ size: Int, _ out: Int) -> [Range<Int>] {
            (0..<out).map { i in
                Int((Double(i * size) / Double(out)).rounded(.down))..<Int((Double((i + 1) * size) / Double(out)).rounded(.up))
            }
        }
        return windowAverage(x, rows: bins(x.shape[2], outputHeight), cols: bins(x.shape[3], outputWidth))
    }

    /// Bilinear, align_corners=False, written from PyTorch's definition in Double.
    static func upsampleBilinear(_ x: DTensor, outputHeight: Int, outputWidth: Int) -> DTensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        func tap(_ i: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Double) {
            let src = max(0, (Double(i) + 0.5) * Double(inSize) / Double(outSize) - 0.5)
            let i0 = min(Int(src.rounded(.down)), inSize - 1)
            return (i0, min(i0 + 1, inSize - 1), src - Double(i0))
        }
        var out = DTensor(zeros: [n, c, outputHeight, outputWidth])
        forEachIndex(out.shape) { i in
            let (y0, y1, ly) = tap(i[2], h, outputHeight)
            let (x0, x1, lx) = tap(i[3], w, outputWidth)
            let v00 = x[i[0], i[1], y0, x0], v01 = x[i[0], i[1], y0, x1]
            let v10 = x[i[0], i[1], y1, x0], v11 = x[i[0], i[1], y1, x1]
            out[i] = (1 - ly) * ((1 - lx) * v00 + lx * v01) + ly * ((1 - lx) * v10 + lx * v11)
        }
        return out
    }

    // MARK: layout

    static func concat(_ xs: [DTensor], axis: Int) -> DTensor {
        var shape = xs[0].shape
        shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        var out = DTensor(zeros: shape)
        var start = 0
        for x in xs {
            forEachIndex(x.shape) { i in
                var j = i
                j[axis] += start
                out[j] = x[i]
            }
            start += x.shape[axis]
        }
        return out
    }

    static func slice(_ x: DTensor, axis: Int, _ range: Range<Int>) -> DTensor {
        var shape = x.shape
        shape[axis] = range.count
        var out = DTensor(zeros: shape)
        forEachIndex(shape) { i in
            var j = i
            j[axis] += range.lowerBound
            out[i] = x[j]
        }
        return out
    }

    static func permute(_ x: DTensor, _ perm: [Int]) -> DTensor {
        var out = DTensor(zeros: perm.map { x.shape[$0] })
        forEachIndex(out.shape) { i in
            var j = [Int](repeating: 0, count: perm.count)
            for (a, p) in perm.enumerated() { j[p] = i[a] }
            out[i] = x[j]
        }
        return out
    }

    // MARK: reductions

    static func sum(_ x: DTensor, axes: [Int], keepDims: Bool) -> DTensor {
        let kept = x.shape.indices.map { axes.contains($0) ? 1 : x.shape[$0] }
        var out = DTensor(zeros: kept)
        forEachIndex(x.shape) { i in
            out[i.indices.map { axes.contains($0) ? 0 : i[$0] }] += x[i]
        }
        return keepDims ? out : DTensor(shape: x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] }, data: out.data)
    }

    // MARK: softmax family and losses

    static func softmax(_ x: DTensor, axis: Int, logarithm: Bool) -> DTensor {
        var out = DTensor(zeros: x.shape)
        var outer = x.shape
        outer[axis] = 1
        forEachIndex(outer) { i in
            var j = i
            var values: [Double] = []
            for c in 0..<x.shape[axis] { j[axis] = c; values.append(x[j]) }
            let m = values.max() ?? 0
            let lse = m + Foundation.log(values.reduce(0) { $0 + Foundation.exp($1 - m) })
            for c in 0..<x.shape[axis] {
                j[axis] = c
                out[j] = logarithm ? values[c] - lse : Foundation.exp(values[c] - lse)
            }
        }
        return out
    }

    static func crossEntropy(_ x: DTensor, targets: [Int], weights: [Double]?, ignoreIndex: Int, reduction: String) -> DTensor {
        let logp = softmax(x, axis: 1, logarithm: true)
        let n = x.shape[0], c = x.shape[1]
        let spatial = Array(x.shape[2...])
        var perPosition = DTensor(zeros: [n] + spatial)
        var total = 0.0, weightTotal = 0.0
        var k = 0
        forEachIndex([n] + spatial) { i in
            let t = targets[k]
            k += 1
            guard t != ignoreIndex else { return }
            precondition(t < c)
            let w = weights?[t] ?? 1
            let term = -w * logp[[i[0], t] + Array(i[1...])]
            perPosition[i] = term
            total += term
            weightTotal += w
        }
        switch reduction {
        case "none": return perPosition
        case "sum": return DTensor(total)
        default: return DTensor(total / weightTotal)
        }
    }

    static func reduce(_ terms: DTensor, _ reduction: String) -> DTensor {
        let s = terms.data.reduce(0, +)
        switch reduction {
        case "none": return terms
        case "sum": return DTensor(s)
        case "batchmean": return DTensor(s / Double(terms.shape[0]))
        default: return DTensor(s / Double(terms.count))
        }
    }

    static func cosineSimilarity(_ a: DTensor, _ b: DTensor, axis: Int, eps: Double) -> DTensor {
        var shape = a.shape
        shape.remove(at: axis)
        var out = DTensor(zeros: shape)
        forEachIndex(shape) { i in
            var na = 0.0, nb = 0.0, dot = 0.0
            for c in 0..<a.shape[axis] {
                var j = i
                j.insert(c, at: axis)
                na += a[j] * a[j]; nb += b[j] * b[j]; dot += a[j] * b[j]
            }
            out[i] = dot / (max(na.squareRoot(), eps) * max(nb.squareRoot(), eps))
        }
        return out
    }

    static func l2Normalize(_ x: DTensor, axis: Int, eps: Double) -> DTensor {
        var out = DTensor(zeros: x.shape)
        var outer = x.shape
        outer[axis] = 1
        forEachIndex(outer) { i in
            var j = i
            var norm = 0.0
            for c in 0..<x.shape[axis] { j[axis] = c; norm += x[j] * x[j] }
            norm = max(norm.squareRoot(), eps)
            for c in 0..<x.shape[axis] { j[axis] = c; out[j] = x[j] / norm }
        }
        return out
    }
}
