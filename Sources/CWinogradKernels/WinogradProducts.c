/* The 36 matrix products of Winograd F(4×4, 3×3), without OpenBLAS's packing.
 *
 * The products are short (tens to a few hundred rows, 16–192 columns and inner length) and run
 * once per unit of tiles, so OpenBLAS's copies of A and B into its packed panels (and, for
 * beta = 0, zeroing C first) cost a third of their time. Here both operands are read where they
 * are: B (U_ξ or Ŷ_ξ) is row-major with the output channels padded to multiples of 8, so a row
 * segment of 16 is two aligned-size loads; A is read one element at a time by broadcast, which
 * needs no layout at all, so V_ξ serves as A (forward) and as Aᵀ (weight gradient) alike.
 *
 * The register block is 6 rows × 16 columns: 12 accumulators, 2 loads of B and 6 broadcasts of
 * A per step of the inner index, 12 FMAs (the FMA ports, not the loads, bound it on Zen 3). */
#include "WinogradKernels.h"

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

/* C[rows × 16 or 8] (+)= A[rows × k] · B[k × 16 or 8]. `rows` and `wide` are constants after
 * inlining (see block), so every accumulator lives in a register. */
AVX2 static inline __attribute__((always_inline)) void
micro(const int rows, const int wide, long k, const float *a, long ars, long acs, const float *b, long ldb,
      float *c, long ldc, int accumulate) {
    __m256 acc[6][2];
    for (int i = 0; i < 6; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (long p = 0; p < k; p++) {
        const float *bp = b + p * ldb, *ap = a + p * acs;
        const __m256 b0 = _mm256_loadu_ps(bp);
        const __m256 b1 = wide ? _mm256_loadu_ps(bp + 8) : _mm256_setzero_ps();
        for (int i = 0; i < rows; i++) {
            const __m256 ai = _mm256_broadcast_ss(ap + i * ars);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            if (wide) acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
        if (accumulate) {
            acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(ci));
            if (wide) acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(ci + 8));
        }
        _mm256_storeu_ps(ci, acc[i][0]);
        if (wide) _mm256_storeu_ps(ci + 8, acc[i][1]);
    }
}

/* One block of `rows` ≤ 6 rows and 16 (wide) or 8 columns, dispatched to a specialised micro. */
AVX2 static void block(int rows, int wide, long k, const float *a, long ars, long acs, const float *b, long ldb,
                       float *c, long ldc, int accumulate) {
#define CASE(r)                                                                    \
    case r:                                                                        \
        if (wide) micro(r, 1, k, a, ars, acs, b, ldb, c, ldc, accumulate);         \
        else micro(r, 0, k, a, ars, acs, b, ldb, c, ldc, accumulate);              \
        break;
    switch (rows) {
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
    }
#undef CASE
}

AVX2 void wg_product(long m, long n, long k, const float *a, long ars, long acs, const float *b, long ldb,
                     float *c, long ldc, int accumulate) {
    // Row blocks outside, column blocks inside: a block's 6 rows of A (≤ 6 · 192 floats) stay in
    // L1 while every column block of B (≤ 36 KB for one position) streams from L2.
    for (long i = 0; i < m; i += 6) {
        const int rows = (int)(m - i < 6 ? m - i : 6);
        const float *ai = a + i * ars;
        long j = 0;
        for (; j + 16 <= n; j += 16) block(rows, 1, k, ai, ars, acs, b + j, ldb, c + i * ldc + j, ldc, accumulate);
        if (j < n) block(rows, 0, k, ai, ars, acs, b + j, ldb, c + i * ldc + j, ldc, accumulate);
    }
}
