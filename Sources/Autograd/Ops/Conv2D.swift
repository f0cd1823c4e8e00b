import ParallelLoops

/// 2-D convolution (PyTorch `F.conv2d`, cross-correlation, groups = 1) by im2col + sgemm.
///
/// Shapes: `x` [N, C, H, W], `weight` [O, C, kH, kW], `bias` [O] (optional); output
/// [N, O, outH, outW] with `out = ⌊(in + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1`.
///
/// Forward per image n: `col_n = im2col(x_n)` [C·kH·kW, outH·outW] (all images at once, in
/// parallel over (n, c)), then one sgemm `out_n [O, P] = W [O, K] · col_n [K, P]` (OpenBLAS
/// threads it). A 1×1 kernel with stride 1 and no padding skips im2col: `x_n` viewed as
/// [C, H·W] already is the column matrix.
///
/// Saved for backward: the weight and input values (no copy) and, when the weight needs a
/// gradient, the column matrices (N·K·P floats) — recomputing them would cost a second im2col,
/// which for narrow layers takes as long as the sgemm.
///
/// Backward with G_n = ∂L/∂out_n [O, P]:
/// - ∂W [O, K] += Σ_n G_n · col_nᵀ (sgemm, beta = 1);
/// - ∂x_n += col2im(Wᵀ · G_n) (1×1: ∂x_n [C, P] += Wᵀ · G_n directly);
/// - ∂bias[o] += Σ_{n,p} G_n[o, p].
public func conv2d(
    _ x: Variable, weight: Variable, bias: Variable? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1
) -> Variable {
    enginePrecondition(x.rank == 4, "conv2d: input must be [N, C, H, W], got \(x.shape)")
    enginePrecondition(weight.rank == 4, "conv2d: weight must be [O, C, kH, kW], got \(weight.shape)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, wc, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    enginePrecondition(wc == c, "conv2d: input has \(c) channels (shape \(x.shape)) but weight expects \(wc) (shape \(weight.shape))")
    if let bias { enginePrecondition(bias.shape == [o], "conv2d: bias must be [\(o)], got \(bias.shape)") }
    let g = shapeCheck { () throws(ShapeError) in
        try ConvGeometry(channels: c, height: h, width: w, kernelHeight: kh, kernelWidth: kw,
                         stride: stride, padding: padding, dilation: dilation)
    }
    let p = g.columnCount, k = g.columnRows
    let pointwise = kh == 1 && kw == 1 && stride == 1 && padding == 0
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    let recording = Variable.recordsGradient(inputs)
    let xv = x.value, wv = weight.value

    // Column matrices of all images, [N, K, P]; the input itself on the 1×1 path.
    let columns: Tensor = pointwise ? xv : im2colBatch(xv, geometry: g)
    var out = Tensor(shape: [n, o, g.outputHeight, g.outputWidth]) { po in
        columns.withUnsafeBufferPointer { pc in
            wv.withUnsafeBufferPointer { pw in
                guard let pc = pc.baseAddress, let pw = pw.baseAddress, let po = po.baseAddress else { return }
                for image in 0..<n {
                    BLAS.sgemm(transposeA: false, transposeB: false, m: o, n: p, k: k,
                               a: pw, lda: k, b: pc + image * k * p, ldb: p, beta: 0, c: po + image * o * p, ldc: p)
                }
            }
        }
    }
    if let bias { addChannelBias(&out, bias.value) }

    let savedColumns = recording && weight.requiresGrad ? columns : nil
    return Variable.result(out, op: "conv2d", inputs: inputs) { gradOut in
        gradOut.withUnsafeBufferPointer { pgBuffer in
            guard let pg = pgBuffer.baseAddress else { return }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad(gradOut.sum(toShape: [1, o, 1, 1]).reshaped([o]))
            }
            if weight.requiresGrad, let savedColumns {
                savedColumns.withUnsafeBufferPointer { pc in
                    weight.withGradBuffer { gw in
                        guard let pc = pc.baseAddress, let gw = gw.baseAddress else { return }
                        for image in 0..<n {
                            // ∂W [O, K] += G_n [O, P] · col_nᵀ [P, K]
                            BLAS.sgemm(transposeA: false, transposeB: true, m: o, n: k, k: p,
                                       a: pg + image * o * p, lda: p, b: pc + image * k * p, ldb: p,
                                       beta: 1, c: gw, ldc: k)
                        }
                    }
                }
            }
            guard x.requiresGrad else { return }
            wv.withUnsafeBufferPointer { pwBuffer in
                guard let pw = pwBuffer.baseAddress else { return }
                if pointwise {
                    x.withGradBuffer { gx in
                        guard let gx = gx.baseAddress else { return }
                        for image in 0..<n {
                            // ∂x_n [C, P] += Wᵀ [C, O] · G_n [O, P]
                            BLAS.sgemm(transposeA: true, transposeB: false, m: k, n: p, k: o,
                                       a: pw, lda: k, b: pg + image * o * p, ldb: p,
                                       beta: 1, c: gx + image * c * h * w, ldc: p)
                        }
                    }
                    return
                }
                var gradColumns = [Float](repeating: 0, count: n * k * p)
                gradColumns.withUnsafeMutableBufferPointer { gcBuffer in
                    guard let gc = gcBuffer.baseAddress else { return }
                    for image in 0..<n {
                        // ∂col_n [K, P] = Wᵀ [K, O] · G_n [O, P]
                        BLAS.sgemm(transposeA: true, transposeB: false, m: k, n: p, k: o,
                                   a: pw, lda: k, b: pg + image * o * p, ldb: p,
                                   beta: 0, c: gc + image * k * p, ldc: p)
                    }
                    x.withGradBuffer { gx in
                        guard let gx = gx.baseAddress else { return }
                        // Each (image, channel) pair writes its own plane of ∂x: disjoint.
                        parallelFor(n * c) { job in
                            let image = job / c, channel = job % c
                            col2imAccumulate(columns: gc + image * k * p, geometry: g,
                                             channelRange: channel..<(channel + 1), image: gx + image * c * h * w)
                        }
                    }
                }
            }
        }
    }
}

/// im2col of every image of `x` [N, C, H, W] into [N, C·kH·kW, outH·outW], parallel over
/// (image, channel).
func im2colBatch(_ x: Tensor, geometry g: ConvGeometry) -> Tensor {
    let n = x.shape[0], c = g.channels
    let k = g.columnRows, p = g.columnCount, plane = g.height * g.width
    return Tensor(shape: [n, k, p]) { pc in
        x.withUnsafeBufferPointer { px in
            guard let px = px.baseAddress, let pc = pc.baseAddress else { return }
            parallelFor(n * c) { job in
                let image = job / c, channel = job % c
                im2col(image: px + image * c * plane, geometry: g, channelRange: channel..<(channel + 1),
                       columns: pc + image * k * p)
            }
        }
    }
}

/// `out[n, o, :, :] += bias[o]` in place, for `out` [N, O, H, W].
func addChannelBias(_ out: inout Tensor, _ bias: Tensor) {
    let planes = out.shape[0] * out.shape[1], channels = out.shape[1]
    let plane = out.shape[2] * out.shape[3]
    bias.withUnsafeBufferPointer { pb in
        out.withUnsafeMutableBufferPointer { po in
            parallelChunks(planes * plane) { range in
                for i in range { po[i] += pb[(i / plane) % channels] }
            }
        }
    }
}
