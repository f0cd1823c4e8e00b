/* Bilinear ×2 width pass and its adjoint (see include/ResampleKernels.h). */
#include "ResampleKernels.h"

#include <immintrin.h>

// Products and sums exactly as written: the scalar path must round like the Swift tables' loop.
#pragma clang fp contract(off)

#define AVX2 __attribute__((target("avx2")))

int rs_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

/* The even (p[0], p[2], …, p[14]) and odd (p[1], …, p[15]) elements of 16 floats. */
AVX2 static inline void deinterleave(const float *p, __m256 *even, __m256 *odd) {
    const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Outputs 2k + 1 and 2k + 2 of a row from its inputs k and k + 1. */
static inline void widen_at(const float *row, int k, float *o) {
    o[2 * k + 1] = 0.75f * row[k] + 0.25f * row[k + 1];
    o[2 * k + 2] = 0.25f * row[k] + 0.75f * row[k + 1];
}

AVX2 static void widen_avx2(const float *x, long rows, int w, float *out) {
    const __m256 q = _mm256_set1_ps(0.25f), tq = _mm256_set1_ps(0.75f);
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * w;
        float *o = out + r * 2L * w;
        int k = 0;
        for (; k + 8 <= w - 1; k += 8) {
            const __m256 a = _mm256_loadu_ps(row + k), b = _mm256_loadu_ps(row + k + 1);
            const __m256 odd = _mm256_add_ps(_mm256_mul_ps(tq, a), _mm256_mul_ps(q, b));   // j = 2k + 1
            const __m256 even = _mm256_add_ps(_mm256_mul_ps(q, a), _mm256_mul_ps(tq, b));  // j = 2k + 2
            const __m256 lo = _mm256_unpacklo_ps(odd, even), hi = _mm256_unpackhi_ps(odd, even);
            _mm256_storeu_ps(o + 2 * k + 1, _mm256_permute2f128_ps(lo, hi, 0x20));
            _mm256_storeu_ps(o + 2 * k + 9, _mm256_permute2f128_ps(lo, hi, 0x31));
        }
        for (; k < w - 1; k++) widen_at(row, k, o);
    }
}

static void widen_scalar(const float *x, long rows, int w, float *out) {
    for (long r = 0; r < rows; r++)
        for (int k = 0; k < w - 1; k++) widen_at(x + r * w, k, out + r * 2L * w);
}

void rs_widen_x2(const float *x, long rows, int w, float *out) {
    if (rs_supported()) widen_avx2(x, rows, w, out);
    else
        widen_scalar(x, rows, w, out);
}

/* dx[k] += 0.25·g[2k − 1] + 0.75·g[2k] + 0.75·g[2k + 1] + 0.25·g[2k + 2], each term added in
 * turn and only where that output is interior (1 ≤ j ≤ 2w − 2). */
static inline void adjoint_scalar_at(const float *g, int w, int k, float *dx) {
    float d = dx[k];
    if (k >= 1) d = d + 0.25f * g[2 * k - 1];
    if (k >= 1) d = d + 0.75f * g[2 * k];
    if (k <= w - 2) d = d + 0.75f * g[2 * k + 1];
    if (k <= w - 2) d = d + 0.25f * g[2 * k + 2];
    dx[k] = d;
}

AVX2 static void adjoint_avx2(const float *g, long rows, int w, float *dx) {
    const __m256 q = _mm256_set1_ps(0.25f), tq = _mm256_set1_ps(0.75f);
    for (long r = 0; r < rows; r++) {
        const float *gr = g + r * 2L * w;
        float *d = dx + r * w;
        if (w < 1) continue;
        adjoint_scalar_at(gr, w, 0, d);
        int k = 1;
        // Vectors of 8 k's whose four taps are all interior: 1 ≤ k and k + 7 ≤ w − 2.
        for (; k + 8 <= w - 1; k += 8) {
            __m256 previousOdd, unused, even, odd, nextEven;
            deinterleave(gr + 2 * k - 2, &unused, &previousOdd);  // g[2k − 1]
            deinterleave(gr + 2 * k, &even, &odd);                // g[2k], g[2k + 1]
            deinterleave(gr + 2 * k + 2, &nextEven, &unused);     // g[2k + 2]
            __m256 v = _mm256_loadu_ps(d + k);
            v = _mm256_add_ps(v, _mm256_mul_ps(q, previousOdd));
            v = _mm256_add_ps(v, _mm256_mul_ps(tq, even));
            v = _mm256_add_ps(v, _mm256_mul_ps(tq, odd));
            v = _mm256_add_ps(v, _mm256_mul_ps(q, nextEven));
            _mm256_storeu_ps(d + k, v);
        }
        for (; k < w; k++) adjoint_scalar_at(gr, w, k, d);
    }
}

static void adjoint_scalar(const float *g, long rows, int w, float *dx) {
    for (long r = 0; r < rows; r++)
        for (int k = 0; k < w; k++) adjoint_scalar_at(g + r * 2L * w, w, k, dx + r * w);
}

void rs_widen_x2_adjoint(const float *g, long rows, int w, float *dx) {
    if (rs_supported()) adjoint_avx2(g, rows, w, dx);
    else
        adjoint_scalar(g, rows, w, dx);
}
