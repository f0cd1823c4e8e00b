import ParallelLoops

/// Scales vectors along `axis` to unit Euclidean length (PyTorch `F.normalize(x, p=2, dim,
/// eps)`): y = x / max(‖x‖, eps).
///
/// Shapes: any; output as input.
/// Saved for backward: the output y and ‖x‖ per position. ∂x += (G − y·(G·y))/‖x‖ where
/// ‖x‖ > eps, and G/eps where the clamp is active (the clamp's gradient is 0, as PyTorch).
public func l2Normalize(_ x: Variable, axis: Int = 1, eps: Float = 1e-12) -> Variable {
    let ax = shapeCheck { () throws(ShapeError) in try normalizedAxis(axis, rank: x.rank, op: "l2Normalize") }
    let (outer, extent, inner) = x.value.blockSizes(around: ax)
    var norms = [Float](repeating: 0, count: outer * inner)
    let y = Tensor(shape: x.shape) { py in
        x.value.withUnsafeBufferPointer { px in
            norms.withUnsafeMutableBufferPointer { pn in
                parallelFor(outer) { o in
                    let base = o * extent * inner, row = o * inner
                    for i in 0..<inner { pn[row + i] = 0 }
                    for c in 0..<extent {
                        for i in 0..<inner { pn[row + i] += px[base + c * inner + i] * px[base + c * inner + i] }
                    }
                    for i in 0..<inner { pn[row + i] = pn[row + i].squareRoot() }
                    for c in 0..<extent {
                        for i in 0..<inner {
                            py[base + c * inner + i] = px[base + c * inner + i] / max(pn[row + i], eps)
                        }
                    }
                }
            }
        }
    }
    return Variable.result(y, op: "l2Normalize", inputs: [x]) { g in
        let dot = alongAxis(g, y, axis: ax) { _, _, d in d }  // Σ_axis G·y, broadcast along the axis
        x.withGradBuffer { gx in
            g.withUnsafeBufferPointer { pg in
                y.withUnsafeBufferPointer { py in
                    dot.withUnsafeBufferPointer { pd in
                        parallelFor(outer) { o in
                            let base = o * extent * inner, row = o * inner
                            for c in 0..<extent {
                                for i in 0..<inner {
                                    let k = base + c * inner + i
                                    let norm = norms[row + i]
                                    gx[k] += norm > eps ? (pg[k] - py[k] * pd[k]) / norm : pg[k] / eps
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
