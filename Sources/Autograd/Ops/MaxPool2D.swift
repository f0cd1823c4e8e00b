import ParallelLoops

/// Max pooling over k×k windows with stride s (default s = k), no padding, floor mode
/// (PyTorch `F.max_pool2d(x, k, s)`); the U-Net uses k = s = 2.
///
/// Shapes: `x` [N, C, H, W] → [N, C, ⌊(H − k)/s⌋ + 1, ⌊(W − k)/s⌋ + 1].
/// Ties go to the first maximum in row-major window order, and NaN wins, as in PyTorch.
/// Saved for backward: the in-plane index of each output's maximum (Int32, one per output);
/// backward adds G to that input position (and, for a fresh gradient with windows that tile
/// the plane, writes every input once instead of zero-filling first).
public func maxPool2d(_ x: Variable, kernelSize k: Int = 2, stride: Int? = nil) -> Variable {
    let s = stride ?? k
    enginePrecondition(x.rank == 4, "maxPool2d: input must be [N, C, H, W], got \(x.shape)")
    enginePrecondition(k >= 1 && s >= 1, "maxPool2d: kernel \(k) and stride \(s) must be ≥ 1")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    enginePrecondition(h >= k && w >= k, "maxPool2d: input \(h)×\(w) is smaller than the \(k)×\(k) window")
    let oh = (h - k) / s + 1, ow = (w - k) / s + 1
    let planes = n * c
    // The winners' indices are only needed by backward.
    let recording = Variable.recordsGradient([x])
    var argmax = [Int32](repeating: 0, count: recording ? planes * oh * ow : 0)
    let out = Tensor(shape: [n, c, oh, ow]) { po in
        x.value.withUnsafeBufferPointer { px in
            argmax.withUnsafeMutableBufferPointer { pa in
                parallelFor(planes) { plane in
                    let src = plane * h * w, dst = plane * oh * ow
                    if k == 2 && s == 2 {
                        // The U-Net's pooling, 8 outputs at a time (then one at a time), with the
                        // same rule as the general loop.
                        let source = px.baseAddress! + src
                        for i in 0..<oh {
                            let top = source + 2 * i * w, bottom = top + w
                            let values = po.baseAddress! + dst + i * ow
                            let winners = recording ? pa.baseAddress! + dst + i * ow : nil
                            var j = 0
                            while j + 8 <= ow {
                                let upper = UnsafeRawPointer(top + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
                                let lower = UnsafeRawPointer(bottom + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
                                var best = upper.evenHalf, offset = SIMD8<Int32>(repeating: 0)
                                @inline(__always) func consider(_ candidate: SIMD8<Float>, at: Int) {
                                    let wins = (candidate .> best .| candidate .!= candidate) .& (best .== best)
                                    best.replace(with: candidate, where: wins)
                                    offset.replace(with: Int32(at), where: wins)
                                }
                                consider(upper.oddHalf, at: 1)
                                consider(lower.evenHalf, at: w)
                                consider(lower.oddHalf, at: w + 1)
                                UnsafeMutableRawPointer(values + j).storeBytes(of: best, as: SIMD8<Float>.self)
                                if let winners {
                                    let first = SIMD8<Int32>(repeating: Int32(2 * i * w + 2 * j)) &+ SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
                                    UnsafeMutableRawPointer(winners + j).storeBytes(of: first &+ offset, as: SIMD8<Int32>.self)
                                }
                                j += 8
                            }
                            for j in j..<ow {
                                let first = 2 * i * w + 2 * j
                                var best = first, bestValue = top[2 * j]
                                @inline(__always) func consider(_ index: Int, _ v: Float) {
                                    if maxPoolPrefers(v, over: bestValue) { (best, bestValue) = (index, v) }
                                }
                                consider(first + 1, top[2 * j + 1])
                                consider(first + w, bottom[2 * j])
                                consider(first + w + 1, bottom[2 * j + 1])
                                values[j] = bestValue
                                winners?[j] = Int32(best)
                            }
                        }
                        return
                    }
                    for i in 0..<oh {
                        for j in 0..<ow {
                            var best = (i * s) * w + j * s
                            var bestValue = px[src + best]
                            for di in 0..<k {
                                for dj in 0..<k {
                                    let index = (i * s + di) * w + j * s + dj
                                    let v = px[src + index]
                                    if maxPoolPrefers(v, over: bestValue) { best = index; bestValue = v; if v.isNaN { break } }
                                }
                                if bestValue.isNaN { break }
                            }
                            po[dst + i * ow + j] = bestValue
                            if recording { pa[dst + i * ow + j] = Int32(best) }
                        }
                    }
                }
            }
        }
    }
    return Variable.result(out, op: "maxPool2d", inputs: [x]) { g in
        g.withUnsafeBufferPointer { pg in
            argmax.withUnsafeBufferPointer { pa in
                x.withGradBuffer(accumulatingOrOverwriting: { gx, accumulate in
                    parallelFor(planes) { plane in
                        let src = plane * h * w, dst = plane * oh * ow
                        if !accumulate && k == s {
                            // Windows tile the plane: write every input once (G at the maximum, 0
                            // elsewhere) instead of zero-filling and scattering.
                            for i in 0..<oh {
                                for j in 0..<ow {
                                    let winner = Int(pa[dst + i * ow + j]), gi = pg[dst + i * ow + j]
                                    for di in 0..<k {
                                        let row = (i * k + di) * w
                                        for dj in 0..<k {
                                            let index = row + j * k + dj
                                            gx[src + index] = index == winner ? gi : 0
                                        }
                                    }
                                }
                                for di in 0..<k where ow * k < w {
                                    let row = src + (i * k + di) * w
                                    for q in (ow * k)..<w { gx[row + q] = 0 }
                                }
                            }
                            for r in (oh * k)..<h {
                                for q in 0..<w { gx[src + r * w + q] = 0 }
                            }
                            return
                        }
                        // Overlapping windows (s < k) may hit one input twice: one plane per task.
                        if !accumulate { (gx.baseAddress! + src).update(repeating: 0, count: h * w) }
                        for i in 0..<(oh * ow) { gx[src + Int(pa[dst + i])] += pg[dst + i] }
                    }
                })
            }
        }
    }
}

/// PyTorch's max-pool rule, in window order: a larger value or a NaN replaces the current
/// maximum, ties keep the first, and a NaN once chosen stays.
@inline(__always)
private func maxPoolPrefers(_ value: Float, over best: Float) -> Bool {
    !best.isNaN && (value > best || value.isNaN)
}
