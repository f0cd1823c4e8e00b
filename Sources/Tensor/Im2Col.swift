/// The sizes of one 2-D convolution (or pooling window sweep) over a single image plane.
///
/// Output size follows PyTorch:
/// `out = floor((in + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1`.
public struct ConvGeometry: Sendable, Equatable {
    public let channels: Int
    public let height: Int
    public let width: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let stride: Int
    public let padding: Int
    public let dilation: Int
    public let outputHeight: Int
    public let outputWidth: Int

    public init(channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
                stride: Int = 1, padding: Int = 0, dilation: Int = 1) throws(ShapeError) {
        guard stride >= 1, dilation >= 1, padding >= 0, kernelHeight >= 1, kernelWidth >= 1 else {
            throw .mismatch(op: "conv2d", detail: "need kernel ≥ 1, stride ≥ 1, dilation ≥ 1, padding ≥ 0; got kernel \(kernelHeight)×\(kernelWidth), stride \(stride), dilation \(dilation), padding \(padding)")
        }
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        outputHeight = (height + 2 * padding - dilation * (kernelHeight - 1) - 1) / stride + 1
        outputWidth = (width + 2 * padding - dilation * (kernelWidth - 1) - 1) / stride + 1
        guard height + 2 * padding - dilation * (kernelHeight - 1) - 1 >= 0,
              width + 2 * padding - dilation * (kernelWidth - 1) - 1 >= 0
        else {
            throw .mismatch(op: "conv2d", detail: "input \(height)×\(width) with padding \(padding) is smaller than the dilated kernel \(dilation * (kernelHeight - 1) + 1)×\(dilation * (kernelWidth - 1) + 1)")
        }
    }

    /// Rows of the column matrix: C · kH · kW.
    public var columnRows: Int { channels * kernelHeight * kernelWidth }
    /// Columns of the column matrix: outH · outW.
    public var columnCount: Int { outputHeight * outputWidth }

    /// The output columns `ow` whose input column `ow·stride + offset` lies inside `0..<extent`.
    @inline(__always)
    func validOutputRange(offset: Int, extent: Int, outputs: Int) -> Range<Int> {
        let lo = max(0, ceilDivide(-offset, stride))
        let hi = min(outputs, ceilDivide(extent - offset, stride))
        return lo < hi ? lo..<hi : 0..<0
    }
}

/// ⌈a / b⌉ for b > 0 and any sign of a.
@inline(__always)
func ceilDivide(_ a: Int, _ b: Int) -> Int {
    a >= 0 ? (a + b - 1) / b : -((-a) / b)
}

/// Unfolds channels `channelRange` of one image `[C, H, W]` into rows of the column matrix
/// `[C·kH·kW, outH·outW]` (row `(c·kH + kh)·kW + kw`), writing zeros where the window hangs over
/// the padding. Rows of other channels are untouched, so disjoint channel ranges may run in
/// parallel.
public func im2col(
    image: UnsafePointer<Float>, geometry g: ConvGeometry, channelRange: Range<Int>,
    columns: UnsafeMutablePointer<Float>
) {
    let outH = g.outputHeight, outW = g.outputWidth
    for c in channelRange {
        let plane = image + c * g.height * g.width
        for kh in 0..<g.kernelHeight {
            let rowOffset = kh * g.dilation - g.padding
            let validRows = g.validOutputRange(offset: rowOffset, extent: g.height, outputs: outH)
            for kw in 0..<g.kernelWidth {
                let colOffset = kw * g.dilation - g.padding
                let validCols = g.validOutputRange(offset: colOffset, extent: g.width, outputs: outW)
                let row = columns + ((c * g.kernelHeight + kh) * g.kernelWidth + kw) * outH * outW
                for oh in 0..<outH {
                    let dst = row + oh * outW
                    guard validRows.contains(oh), !validCols.isEmpty else {
                        dst.update(repeating: 0, count: outW)
                        continue
                    }
                    let src = plane + (oh * g.stride + rowOffset) * g.width
                    if validCols.lowerBound > 0 { dst.update(repeating: 0, count: validCols.lowerBound) }
                    if g.stride == 1 {
                        (dst + validCols.lowerBound).update(
                            from: src + validCols.lowerBound + colOffset, count: validCols.count)
                    } else {
                        for ow in validCols { dst[ow] = src[ow * g.stride + colOffset] }
                    }
                    if validCols.upperBound < outW {
                        (dst + validCols.upperBound).update(repeating: 0, count: outW - validCols.upperBound)
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds (`+=`) each column-matrix entry back onto the input pixel it
/// came from, for channels `channelRange` of one image. Entries that came from padding are
/// dropped. Disjoint channel ranges may run in parallel.
public func col2imAccumulate(
    columns: UnsafePointer<Float>, geometry g: ConvGeometry, channelRange: Range<Int>,
    image: UnsafeMutablePointer<Float>
) {
    let outH = g.outputHeight, outW = g.outputWidth
    for c in channelRange {
        let plane = image + c * g.height * g.width
        for kh in 0..<g.kernelHeight {
            let rowOffset = kh * g.dilation - g.padding
            let validRows = g.validOutputRange(offset: rowOffset, extent: g.height, outputs: outH)
            for kw in 0..<g.kernelWidth {
                let colOffset = kw * g.dilation - g.padding
                let validCols = g.validOutputRange(offset: colOffset, extent: g.width, outputs: outW)
                if validCols.isEmpty { continue }
                let row = columns + ((c * g.kernelHeight + kh) * g.kernelWidth + kw) * outH * outW
                for oh in validRows {
                    let src = row + oh * outW
                    let dst = plane + (oh * g.stride + rowOffset) * g.width + colOffset
                    if g.stride == 1 {
                        for ow in validCols { dst[ow] += src[ow] }
                    } else {
                        for ow in validCols { dst[ow * g.stride] += src[ow] }
                    }
                }
            }
        }
    }
}
