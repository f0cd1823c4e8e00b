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

    /// A 1×1 kernel with stride 1 and no padding: the image `[C, H·W]` already is its column
    /// matrix.
    public var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }

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
/// `[C·kH·kW, rows·outW]` (row `(c·kH + kh)·kW + kw`), for the output rows `outputRows`
/// (default all: then the matrix is `[C·kH·kW, outH·outW]`), writing zeros where the window
/// hangs over the padding. Rows of other channels are untouched, so disjoint channel ranges may
/// run in parallel; a band of output rows lets a caller keep the matrix small enough to stay in
/// cache.
public func im2col(
    image: UnsafePointer<Float>, geometry g: ConvGeometry, channelRange: Range<Int>, outputRows: Range<Int>? = nil,
    columns: UnsafeMutablePointer<Float>
) {
    let outW = g.outputWidth
    let rows = outputRows ?? 0..<g.outputHeight
    let rowLength = rows.count * outW
    // Stride 1 with "same" width (2·padding = dilation·(kW − 1)): a tap's row of the band is the
    // input rows it reads, shifted by the column offset, so one copy per tap replaces one per
    // output row (which dominates for narrow images); the columns that wrapped around from the
    // neighbouring input row are zeroed after.
    let shiftedCopy = g.stride == 1 && outW == g.width
    for c in channelRange {
        let plane = image + c * g.height * g.width
        for kh in 0..<g.kernelHeight {
            let rowOffset = kh * g.dilation - g.padding
            let validRows = g.validOutputRange(offset: rowOffset, extent: g.height, outputs: g.outputHeight)
            for kw in 0..<g.kernelWidth {
                let colOffset = kw * g.dilation - g.padding
                let validCols = g.validOutputRange(offset: colOffset, extent: g.width, outputs: outW)
                let row = columns + ((c * g.kernelHeight + kh) * g.kernelWidth + kw) * rowLength
                if shiftedCopy {
                    let inside = validCols.isEmpty ? rows.lowerBound..<rows.lowerBound : validRows.clamped(to: rows)
                    let before = (inside.isEmpty ? rows.count : inside.lowerBound - rows.lowerBound) * outW
                    row.update(repeating: 0, count: before)
                    if !inside.isEmpty {
                        let count = inside.count * outW
                        let dst = row + before
                        let src = plane + (inside.lowerBound + rowOffset) * g.width
                        if colOffset >= 0 {
                            // dst[i] = src[i + colOffset]; the last colOffset columns of each row are padding.
                            dst.update(from: src + colOffset, count: count - colOffset)
                            for r in 1...inside.count { (dst + r * outW - colOffset).update(repeating: 0, count: colOffset) }
                        } else {
                            // dst[i] = src[i − s]; the first s columns of each row are padding.
                            let s = -colOffset
                            (dst + s).update(from: src, count: count - s)
                            for r in 0..<inside.count { (dst + r * outW).update(repeating: 0, count: s) }
                        }
                        let after = rowLength - before - count
                        (dst + count).update(repeating: 0, count: after)
                    }
                    continue
                }
                for oh in rows {
                    let dst = row + (oh - rows.lowerBound) * outW
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
/// came from, for channels `channelRange` of one image and the output rows `outputRows` (default
/// all; the matrix layout is `im2col`'s). Entries that came from padding are dropped. Disjoint
/// channel ranges may run in parallel; bands of output rows may overlap in the input, so bands of
/// one image run one after the other.
public func col2imAccumulate(
    columns: UnsafePointer<Float>, geometry g: ConvGeometry, channelRange: Range<Int>, outputRows: Range<Int>? = nil,
    image: UnsafeMutablePointer<Float>
) {
    let outW = g.outputWidth
    let rows = outputRows ?? 0..<g.outputHeight
    let rowLength = rows.count * outW
    for c in channelRange {
        let plane = image + c * g.height * g.width
        for kh in 0..<g.kernelHeight {
            let rowOffset = kh * g.dilation - g.padding
            let validRows = g.validOutputRange(offset: rowOffset, extent: g.height, outputs: g.outputHeight)
                .clamped(to: rows)
            for kw in 0..<g.kernelWidth {
                let colOffset = kw * g.dilation - g.padding
                let validCols = g.validOutputRange(offset: colOffset, extent: g.width, outputs: outW)
                if validCols.isEmpty { continue }
                let row = columns + ((c * g.kernelHeight + kh) * g.kernelWidth + kw) * rowLength
                for oh in validRows {
                    let src = row + (oh - rows.lowerBound) * outW
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
