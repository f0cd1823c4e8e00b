import CBLAS

/// Thin, row-major wrappers over OpenBLAS.
public enum BLAS {
    /// `C[m×n] = alpha · op(A) · op(B) + beta · C`, all row-major.
    ///
    /// `op(A)` is `m×k` (A is stored `k×m` when `transposeA`), `op(B)` is `k×n`. `lda`, `ldb`,
    /// `ldc` are the row strides of the matrices as stored. `beta = 1` accumulates into C, which
    /// is how backward passes add their contribution to an existing gradient.
    @inlinable
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0 && n > 0 else { return }
        guard k > 0 else {
            // OpenBLAS rejects k == 0 on some paths; the product is empty, C = beta · C.
            for i in 0..<m {
                for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
            }
            return
        }
        // OpenBLAS 0.3.21 first scales C by beta in a separate pass whenever beta ≠ 1, and its
        // pass for beta = 0 is far slower than memset (the Winograd products spent 6 % of a
        // training step there; zeroing here and accumulating measured 8–13 % faster convs).
        var beta = beta
        if beta == 0 {
            if ldc == n {
                c.update(repeating: 0, count: m * n)
            } else {
                for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            }
            beta = 1
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Number of threads OpenBLAS uses for one call.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// Runs `body` with OpenBLAS limited to `count` threads and restores the previous count.
    ///
    /// For kernels that split their work over cores themselves and call sgemm from each task
    /// (the convolutions): OpenBLAS's own threads would compete with ours, and its pthreads
    /// build serialises concurrent multi-threaded calls. Call it from one thread at a time (the
    /// count is process-wide).
    public static func withThreadCount<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        let saved = threadCount
        if saved == count { return try body() }
        threadCount = count
        defer { threadCount = saved }
        return try body()
    }
}

extension Tensor {
    /// Plain 2-D matrix product `op(a) · op(b)` with no autograd (`a`: [m, k] or [k, m] when
    /// transposed; `b`: [k, n] or [n, k]).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        enginePrecondition(a.rank == 2 && b.rank == 2, "matmul: expects rank-2 tensors, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        enginePrecondition(k == kb, "matmul: inner dimensions differ: op(a) is \(m)×\(k), op(b) is \(kb)×\(n) (a \(a.shape), b \(b.shape), transposeA \(transposeA), transposeB \(transposeB))")
        var out = Tensor.zeros([m, n])
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    guard let pa = pa.baseAddress, let pb = pb.baseAddress, let pc = pc.baseAddress else { return }
                    BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                               a: pa, lda: a.shape[1], b: pb, ldb: b.shape[1], beta: 0, c: pc, ldc: n)
                }
            }
        }
        return out
    }
}
