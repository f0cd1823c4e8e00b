import ParallelLoops

/// Cosine similarity along `axis` (PyTorch `F.cosine_similarity(a, b, dim, eps)`):
/// Σ (a/max(‖a‖, eps))·(b/max(‖b‖, eps)), so the result stays in [−1, 1].
///
/// Shapes: `a` and `b` equal; the output drops `axis`.
/// Saved for backward: both inputs and, per position, ‖a‖, ‖b‖ and the cosine. With
/// ca = max(‖a‖, eps): ∂a_j += G·(b_j/(ca·cb) − cos·a_j/(ca·‖a‖)) (the second term is 0 when
/// ‖a‖ = 0), and symmetrically for b — PyTorch's gradient, which passes through ‖a‖ even when
/// the eps clamp is active.
public func cosineSimilarity(_ a: Variable, _ b: Variable, axis: Int = 1, eps: Float = 1e-8) -> Variable {
    enginePrecondition(a.shape == b.shape, "cosineSimilarity: shapes \(a.shape) and \(b.shape) must be equal")
    let ax = shapeCheck { () throws(ShapeError) in try normalizedAxis(axis, rank: a.rank, op: "cosineSimilarity") }
    let (outer, extent, inner) = a.value.blockSizes(around: ax)
    var outShape = a.shape
    outShape.remove(at: ax)
    let av = a.value, bv = b.value
    var normA = [Float](repeating: 0, count: outer * inner)
    var normB = [Float](repeating: 0, count: outer * inner)
    let out = Tensor(shape: outShape) { po in
        av.withUnsafeBufferPointer { pa in
            bv.withUnsafeBufferPointer { pb in
                normA.withUnsafeMutableBufferPointer { na in
                    normB.withUnsafeMutableBufferPointer { nb in
                        parallelFor(outer) { o in
                            let base = o * extent * inner, row = o * inner
                            var dot = [Float](repeating: 0, count: inner)
                            for i in 0..<inner { na[row + i] = 0; nb[row + i] = 0 }
                            for c in 0..<extent {
                                for i in 0..<inner {
                                    let k = base + c * inner + i
                                    na[row + i] += pa[k] * pa[k]
                                    nb[row + i] += pb[k] * pb[k]
                                    dot[i] += pa[k] * pb[k]
                                }
                            }
                            for i in 0..<inner {
                                na[row + i] = na[row + i].squareRoot()
                                nb[row + i] = nb[row + i].squareRoot()
                                po[row + i] = dot[i] / (max(na[row + i], eps) * max(nb[row + i], eps))
                            }
                        }
                    }
                }
            }
        }
    }
    return Variable.result(out, op: "cosineSimilarity", inputs: [a, b]) { g in
        func gradient(for x: Tensor, other y: Tensor, normX: [Float], normY: [Float]) -> Tensor {
            Tensor(shape: x.shape) { pd in
                x.withUnsafeBufferPointer { px in
                    y.withUnsafeBufferPointer { py in
                        g.withUnsafeBufferPointer { pg in
                            out.withUnsafeBufferPointer { pcos in
                                parallelFor(outer) { o in
                                    let base = o * extent * inner, row = o * inner
                                    for c in 0..<extent {
                                        for i in 0..<inner {
                                            let k = base + c * inner + i
                                            let cx = max(normX[row + i], eps), cy = max(normY[row + i], eps)
                                            let through = normX[row + i] > 0 ? pcos[row + i] * px[k] / (cx * normX[row + i]) : 0
                                            pd[k] = pg[row + i] * (py[k] / (cx * cy) - through)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if a.requiresGrad { a.accumulateGrad(gradient(for: av, other: bv, normX: normA, normY: normB)) }
        if b.requiresGrad { b.accumulateGrad(gradient(for: bv, other: av, normX: normB, normY: normA)) }
    }
}
