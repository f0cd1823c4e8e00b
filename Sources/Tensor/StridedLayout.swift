/// Iteration plan for walking an output tensor in row-major order while reading one or two
/// operands through arbitrary strides (0 for a broadcast axis, permuted strides for a
/// transpose). Adjacent axes that are contiguous for every operand are merged first, so the
/// innermost loop runs as long as possible (e.g. `[N,C,H,W] + [1,C,1,1]` becomes a
/// `[N·C, H·W]` walk with strides `[H·W, 1]` and `[1, 0]`).
struct StridedLayout {
    /// Merged extents, outermost first; never empty (rank-0 becomes `[1]`).
    let extents: [Int]
    /// Merged strides of each operand, same length as `extents`.
    let strides: [[Int]]

    init(shape: [Int], operandStrides: [[Int]]) {
        var extents: [Int] = []
        var strides: [[Int]] = Array(repeating: [], count: operandStrides.count)
        for axis in shape.indices where shape[axis] != 1 {
            if let last = extents.last,
               operandStrides.indices.allSatisfy({ strides[$0].last == operandStrides[$0][axis] * shape[axis] })
            {
                _ = last
                extents[extents.count - 1] *= shape[axis]
                for o in operandStrides.indices { strides[o][strides[o].count - 1] = operandStrides[o][axis] }
            } else {
                extents.append(shape[axis])
                for o in operandStrides.indices { strides[o].append(operandStrides[o][axis]) }
            }
        }
        if extents.isEmpty {
            extents = [1]
            strides = Array(repeating: [0], count: operandStrides.count)
        }
        self.extents = extents
        self.strides = strides
    }

    /// Length of the innermost run.
    var innerCount: Int { extents[extents.count - 1] }
    /// Number of innermost runs.
    var rowCount: Int { extents.dropLast().reduce(1, *) }
    /// Innermost stride of operand `o`.
    func innerStride(_ o: Int) -> Int { strides[o][strides[o].count - 1] }

    /// Start offset of operand `o` for innermost run `row`.
    func offset(_ o: Int, row: Int) -> Int {
        var remainder = row
        var offset = 0
        var axis = extents.count - 2
        while axis >= 0 {
            let extent = extents[axis]
            offset += (remainder % extent) * strides[o][axis]
            remainder /= extent
            axis -= 1
        }
        return offset
    }
}

/// Strides of `shape` (right-aligned to `outputShape`) for reading it broadcast to
/// `outputShape`: 0 on axes where it has extent 1 or is missing.
func broadcastStrides(_ shape: [Int], to outputShape: [Int]) -> [Int] {
    let own = contiguousStrides(shape)
    let lead = outputShape.count - shape.count
    return outputShape.indices.map { axis in
        axis < lead || shape[axis - lead] == 1 ? 0 : own[axis - lead]
    }
}
