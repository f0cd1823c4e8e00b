/// Matrix product of two rank-2 variables, `op(a) · op(b)` with optional transposes (sgemm).
///
/// Shapes: `a` [m, k] (or [k, m] with `transposeA`), `b` [k, n] (or [n, k] with
/// `transposeB`); output [m, n]. Saved for backward: both inputs (the values, no copy).
/// Backward, with G = ∂L/∂out:
/// - ∂L/∂op(a) = G · op(b)ᵀ, so ∂L/∂a = G · op(b)ᵀ, or its transpose op(b) · Gᵀ when `transposeA`;
/// - ∂L/∂op(b) = op(a)ᵀ · G, so ∂L/∂b = op(a)ᵀ · G, or Gᵀ · op(a) when `transposeB`.
/// Each is one sgemm with beta = 1 straight into the existing gradient.
public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
    let av = a.value, bv = b.value
    let out = Tensor.matmul(av, bv, transposeA: transposeA, transposeB: transposeB)
    let m = out.shape[0], n = out.shape[1]
    let k = transposeA ? av.shape[0] : av.shape[1]
    return Variable.result(out, op: "matmul", inputs: [a, b]) { g in
        g.withUnsafeBufferPointer { pg in
            guard let pg = pg.baseAddress else { return }
            if a.requiresGrad {
                bv.withUnsafeBufferPointer { pb in
                    a.withGradBuffer { ga in
                        guard let pb = pb.baseAddress, let ga = ga.baseAddress else { return }
                        if !transposeA {
                            // ∂a [m, k] += G [m, n] · op(b)ᵀ [n, k]
                            BLAS.sgemm(transposeA: false, transposeB: !transposeB, m: m, n: k, k: n,
                                       a: pg, lda: n, b: pb, ldb: bv.shape[1], beta: 1, c: ga, ldc: k)
                        } else {
                            // ∂a [k, m] += op(b) [k, n] · Gᵀ [n, m]
                            BLAS.sgemm(transposeA: transposeB, transposeB: true, m: k, n: m, k: n,
                                       a: pb, lda: bv.shape[1], b: pg, ldb: n, beta: 1, c: ga, ldc: m)
                        }
                    }
                }
            }
            if b.requiresGrad {
                av.withUnsafeBufferPointer { pa in
                    b.withGradBuffer { gb in
                        guard let pa = pa.baseAddress, let gb = gb.baseAddress else { return }
                        if !transposeB {
                            // ∂b [k, n] += op(a)ᵀ [k, m] · G [m, n]
                            BLAS.sgemm(transposeA: !transposeA, transposeB: false, m: k, n: n, k: m,
                                       a: pa, lda: av.shape[1], b: pg, ldb: n, beta: 1, c: gb, ldc: n)
                        } else {
                            // ∂b [n, k] += Gᵀ [n, m] · op(a) [m, k]
                            BLAS.sgemm(transposeA: true, transposeB: transposeA, m: n, n: k, k: m,
                                       a: pg, lda: n, b: pa, ldb: av.shape[1], beta: 1, c: gb, ldc: k)
                        }
                    }
                }
            }
        }
    }
}
