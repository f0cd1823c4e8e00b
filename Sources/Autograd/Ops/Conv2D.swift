import ParallelLoops

/// 2-D convolution (PyTorch `F.conv2d`, cross-correlation, groups = 1) by im2col + sgemm on
/// cache-sized bands of output rows (`Convolution`), or, for 3×3 stride-1 kernels at the sizes
/// and channel counts where it measured faster (`Winograd.pays`), by Winograd F(4×4, 3×3)
/// (`Winograd`, a quarter of the multiplies; `Convolution.usesWinograd` decides, for the
/// forward, ∂W and the ∂x convolution separately).
///
/// Shapes: `x` [N, C, H, W], `weight` [O, C, kH, kW], `bias` [O] (optional); output
/// [N, O, outH, outW] with `out = ⌊(in + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1`.
///
/// Forward per image n: `out_n [O, P] = W [O, K] · col_n [K, P]` with `col_n = im2col(x_n)`,
/// K = C·kH·kW, P = outH·outW, built and consumed one band at a time. A 1×1 kernel with stride
/// 1 and no padding uses `x_n` [C, P] as its column matrix.
///
/// Saved for backward: the input and weight values (no copies). The column matrices are not
/// kept (for the reference U-Net they would be 9× its activations, over a gigabyte at batch 8);
/// backward unfolds the input again, band by band, which costs far less than the sgemm it feeds.
///
/// Backward with G_n = ∂L/∂out_n [O, P]:
/// - ∂W [O, K] += Σ_n G_n · col_nᵀ;
/// - ∂x: with stride 1 and a square kernel, ∂x is the convolution of G with the kernel rotated
///   by 180° and channels swapped (`ConvGeometry.inputGradientGeometry`): the same banded
///   im2col + sgemm, with K = O·k² and no scratch the size of the columns. Otherwise
///   ∂x_n += col2im(Wᵀ · G_n), band by band;
/// - ∂bias[o] += Σ_{n,p} G_n[o, p].
///
/// Runs its tiles on all cores with OpenBLAS set to one thread for the duration
/// (`BLAS.withThreadCount`, a process-wide setting): call it from one thread at a time.
///
/// With `relu`, returns `relu(conv2d(...))`, applied to each band while it is in cache (the
/// inference path of conv → BN → ReLU with the BN folded into weight and bias); backward then
/// first masks G where the output is 0.
public func conv2d(
    _ x: Variable, weight: Variable, bias: Variable? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
    relu: Bool = false
) -> Variable {
    conv2dRecorded(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, relu: relu,
                   moments: false).output
}

/// `conv2d` that also returns the output channels' moments (mean and squared deviations over
/// the batch) when the convolution gathers them as it writes its output (Winograd does; nil
/// otherwise): what a following `batchNorm2d` in training needs, without its two passes over
/// the output.
public func conv2dWithMoments(
    _ x: Variable, weight: Variable, bias: Variable? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1
) -> (output: Variable, moments: ChannelMoments?) {
    conv2dRecorded(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, relu: false,
                   moments: true)
}

private func conv2dRecorded(
    _ x: Variable, weight: Variable, bias: Variable?, stride: Int, padding: Int, dilation: Int, relu: Bool, moments wanted: Bool
) -> (output: Variable, moments: ChannelMoments?) {
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
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    let xv = x.value, wv = weight.value, bv = bias?.value

    var moments: ChannelMoments?
    let out = Tensor(shape: [n, o, g.outputHeight, g.outputWidth]) { po in
        xv.withUnsafeBufferPointer { px in
            wv.withUnsafeBufferPointer { pw in
                withOptionalPointer(bv) { pb in
                    guard let px = px.baseAddress, let pw = pw.baseAddress, let po = po.baseAddress else { return }
                    moments = Convolution.forward(input: px, batch: n, geometry: g, weights: pw, outputChannels: o, bias: pb,
                                                  output: po, accumulate: false, relu: relu, moments: wanted)
                }
            }
        }
    }

    let result = Variable.result(out, op: relu ? "conv2dReLU" : "conv2d", inputs: inputs) { upstream in
        let gradOut = relu ? Tensor.zipMap(upstream, out) { g, y in y > 0 ? g : 0 } : upstream
        if let bias, bias.requiresGrad {
            // Σ over each (image, channel) plane on all cores, in Double, then over images in
            // order (as batch norm's sums; `sum(toShape:)` ran on one core).
            let plane = g.outputHeight * g.outputWidth
            let planeSums = perPlaneSums(n * o) { job in
                gradOut.withUnsafeBufferPointer { $0.baseAddress.map { BlockedSum.sum($0 + job * plane, count: plane) } ?? 0 }
            }
            let channelSums = (0..<o).map { Float(channelTotal(planeSums, channel: $0, channels: o, images: n)) }
            bias.accumulateGrad(Tensor(shape: [o], scalars: channelSums))
        }
        gradOut.withUnsafeBufferPointer { pgBuffer in
            guard let pg = pgBuffer.baseAddress else { return }
            if weight.requiresGrad {
                xv.withUnsafeBufferPointer { px in
                    weight.withGradBuffer(accumulatingOrOverwriting: { gw, accumulate in
                        guard let px = px.baseAddress, let gw = gw.baseAddress else { return }
                        Convolution.weightGradient(input: px, batch: n, geometry: g, gradOutput: pg, outputChannels: o,
                                                   weightGradient: gw, accumulate: accumulate)
                    })
                }
            }
            guard x.requiresGrad else { return }
            wv.withUnsafeBufferPointer { pwBuffer in
                guard let pw = pwBuffer.baseAddress else { return }
                if let transposed = g.inputGradientGeometry(outputChannels: o) {
                    var flipped = [Float](repeating: 0, count: c * o * kh * kw)
                    flipped.withUnsafeMutableBufferPointer { pf in
                        guard let pf = pf.baseAddress else { return }
                        Convolution.flippedWeights(pw, outputChannels: o, inputChannels: c, kernelSize: kh, into: pf)
                        x.withGradBuffer(accumulatingOrOverwriting: { gx, accumulate in
                            guard let gx = gx.baseAddress else { return }
                            Convolution.forward(input: pg, batch: n, geometry: transposed, weights: pf, outputChannels: c,
                                                bias: nil, output: gx, accumulate: accumulate)
                        })
                    }
                } else {
                    x.withGradBuffer { gx in
                        guard let gx = gx.baseAddress else { return }
                        Convolution.inputGradientByCol2im(gradOutput: pg, batch: n, geometry: g, weights: pw,
                                                          outputChannels: o, inputGradient: gx)
                    }
                }
            }
        }
    }
    return (result, moments)
}

/// Runs `body` with the base address of `tensor`'s elements, or nil when there is no tensor.
func withOptionalPointer<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer { body($0.baseAddress) }
}
