/* Tile transforms of Winograd F(4×4, 3×3): AVX2 + FMA, channels in the 8 lanes. The matrices
 * are Lavin & Gray's (CVPR 2016): Bᵀ (input), Aᵀ (output) and A (the adjoint of Aᵀ, for ∂out).
 * Every function is compiled for AVX2 + FMA; callers check wg_supported() first. */
#include "WinogradKernels.h"

#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma")))

int wg_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* Columns of a strip: the 4·tilesX + 2 columns tiles read, rounded up to whole 8×8 blocks. */
static int strip_columns(int tilesX) { return (4 * tilesX + 2 + 7) / 8 * 8; }

long wg_scratch_floats(int tilesX) { return 8L * strip_columns(tilesX) * 8; }

/* r[i][j] ← r[j][i] for an 8×8 block held in 8 registers. */
AVX2 static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* strip[y mod 8][col][lane] = image[firstChannel + lane][y][firstColumn + col] for the rows y =
 * firstRow ..< firstRow + rows, zero outside the image and for channels ≥ channels: 8 channel
 * rows at a time, transposed in registers. The strip is a ring of 8 rows, so a band's next tile
 * row (4 rows down, 6 rows high) reuses the 2 rows it shares with the last one. */
AVX2 static void build_strip(const float *image, int channels, int height, int width, int firstChannel,
                             int firstRow, int rows, int firstColumn, int columns, float *strip) {
    for (int r = 0; r < rows; r++) {
        const int y = firstRow + r;
        float *destination = strip + (long)(y & 7) * columns * 8;
        if (y < 0 || y >= height) {
            memset(destination, 0, sizeof(float) * (size_t)columns * 8);
            continue;
        }
        for (int b = 0; b < columns; b += 8) {
            const int x0 = firstColumn + b;
            // Lanes of columns outside 0 ..< width are masked: maskload neither reads nor faults there.
            const __m256i column = _mm256_add_epi32(_mm256_set1_epi32(x0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            const __m256i mask = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), column),
                                                     _mm256_cmpgt_epi32(_mm256_set1_epi32(width), column));
            const int inside = x0 >= 0 && x0 + 8 <= width;
            __m256 v[8];
            for (int l = 0; l < 8; l++) {
                const int c = firstChannel + l;
                if (c >= channels) {
                    v[l] = _mm256_setzero_ps();
                    continue;
                }
                const float *row = image + ((long)c * height + y) * width;
                v[l] = inside ? _mm256_loadu_ps(row + x0) : _mm256_maskload_ps(row + x0, mask);
            }
            transpose8(v);
            for (int k = 0; k < 8; k++) _mm256_storeu_ps(destination + (long)(b + k) * 8, v[k]);
        }
    }
}

/* r = Bᵀ d, Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
 *                 [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]. */
AVX2 static inline void input_transform(const __m256 *d, __m256 r[6]) {
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4), five = _mm256_set1_ps(5);
    const __m256 sum12 = _mm256_add_ps(d[1], d[2]), diff12 = _mm256_sub_ps(d[1], d[2]);
    const __m256 sum34 = _mm256_add_ps(d[3], d[4]), diff43 = _mm256_sub_ps(d[4], d[3]);
    const __m256 e = _mm256_sub_ps(d[4], d[2]), f = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
    r[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
    r[1] = _mm256_fnmadd_ps(four, sum12, sum34);
    r[2] = _mm256_fmadd_ps(four, diff12, diff43);
    r[3] = _mm256_add_ps(e, f);
    r[4] = _mm256_sub_ps(e, f);
    r[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

/* y = Aᵀ m, Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]. */
AVX2 static inline void output_transform(const __m256 m[6], __m256 y[4]) {
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4), eight = _mm256_set1_ps(8);
    const __m256 sum12 = _mm256_add_ps(m[1], m[2]), diff12 = _mm256_sub_ps(m[1], m[2]);
    const __m256 sum34 = _mm256_add_ps(m[3], m[4]), diff34 = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], sum12), sum34);
    y[1] = _mm256_fmadd_ps(two, diff34, diff12);
    y[2] = _mm256_fmadd_ps(four, sum34, sum12);
    y[3] = _mm256_fmadd_ps(eight, diff34, _mm256_add_ps(diff12, m[5]));
}

/* r = A d for d of 4 (A = (Aᵀ)ᵀ, 6 × 4): the adjoint of output_transform. */
AVX2 static inline void grad_output_transform(const __m256 *d, __m256 r[6]) {
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4), eight = _mm256_set1_ps(8);
    const __m256 even = _mm256_fmadd_ps(four, d[2], d[0]), odd = _mm256_fmadd_ps(eight, d[3], _mm256_mul_ps(two, d[1]));
    r[0] = d[0];
    r[1] = _mm256_add_ps(_mm256_add_ps(d[0], d[1]), _mm256_add_ps(d[2], d[3]));
    r[2] = _mm256_sub_ps(_mm256_add_ps(d[0], d[2]), _mm256_add_ps(d[1], d[3]));
    r[3] = _mm256_add_ps(even, odd);
    r[4] = _mm256_sub_ps(even, odd);
    r[5] = d[3];
}

/* The 6×6 transforms of the side × side tiles of a band (6 input rows for the input, 4 output
 * rows for ∂out), from channel-interleaved strips of those rows: `transform` along each row of
 * the tile, then down each of the 6 resulting columns; position k·6 + l goes to
 * out[(k·6 + l)·positionStride + t·paddedChannels + channel]. */
typedef void (*tile_transform)(const __m256 *in, __m256 out[6]);

AVX2 __attribute__((always_inline)) static inline void transform_tiles(
    const float *image, int channels, int height, int width, int firstTileRow, int tileRows, int tilesX,
    long firstTile, long positionStride, int paddedChannels, int side, int offset, tile_transform transform,
    float *scratch, float *out) {
    const int columns = strip_columns(tilesX);
    for (int group = 0; group < paddedChannels / 8; group++) {
        for (int ty = firstTileRow; ty < firstTileRow + tileRows; ty++) {
            const int y0 = 4 * ty + offset, shared = ty > firstTileRow ? side - 4 : 0;
            build_strip(image, channels, height, width, group * 8, y0 + shared, side - shared, offset, columns, scratch);
            for (int tx = 0; tx < tilesX; tx++) {
                const long t = firstTile + (long)(ty - firstTileRow) * tilesX + tx;
                __m256 rows[6][6];
                for (int r = 0; r < side; r++) {
                    const float *base = scratch + ((long)((y0 + r) & 7) * columns + 4 * tx) * 8;
                    __m256 d[6];
                    for (int j = 0; j < side; j++) d[j] = _mm256_loadu_ps(base + j * 8);
                    transform(d, rows[r]);
                }
                float *destination = out + t * paddedChannels + group * 8;
                for (int l = 0; l < 6; l++) {
                    __m256 column[6], result[6];
                    for (int r = 0; r < side; r++) column[r] = rows[r][l];
                    transform(column, result);
                    for (int k = 0; k < 6; k++) _mm256_storeu_ps(destination + (k * 6 + l) * positionStride, result[k]);
                }
            }
        }
    }
}

AVX2 void wg_transform_input(const float *image, int channels, int height, int width, int padding,
                             int firstTileRow, int tileRows, int tilesX, long firstTile, long positionStride,
                             int paddedChannels, float *scratch, float *v) {
    transform_tiles(image, channels, height, width, firstTileRow, tileRows, tilesX, firstTile, positionStride,
                    paddedChannels, 6, -padding, input_transform, scratch, v);
}

AVX2 void wg_transform_grad_output(const float *grad, int channels, int height, int width,
                                   int firstTileRow, int tileRows, int tilesX, long firstTile, long positionStride,
                                   int paddedChannels, float *scratch, float *yhat) {
    transform_tiles(grad, channels, height, width, firstTileRow, tileRows, tilesX, firstTile, positionStride,
                    paddedChannels, 4, 0, grad_output_transform, scratch, yhat);
}

/* The 4×4 outputs Aᵀ M A (+ bias) of tile t, channels group·8 ..< +8. */
AVX2 static inline void output_tile(const float *m, long positionStride, __m256 bias, __m256 y[4][4]) {
    __m256 partial[4][6];
    for (int l = 0; l < 6; l++) {
        __m256 column[6], result[4];
        for (int k = 0; k < 6; k++) column[k] = _mm256_loadu_ps(m + (k * 6 + l) * positionStride);
        output_transform(column, result);
        for (int i = 0; i < 4; i++) partial[i][l] = result[i];
    }
    for (int i = 0; i < 4; i++) {
        __m256 result[4];
        output_transform(partial[i], result);
        for (int j = 0; j < 4; j++) y[i][j] = _mm256_add_ps(result[j], bias);
    }
}

/* Adds the block of `count` values with sum `sum` and squared deviations `m2` to the moments
 * (count, mean, M2) in s: Chan, Golub & LeVeque's pairwise update, in double. */
static inline void merge_moments(double *s, double count, double sum, double m2) {
    const double mean = sum / count;
    if (s[0] == 0) {
        s[0] = count, s[1] = mean, s[2] = m2;
        return;
    }
    const double total = s[0] + count, delta = mean - s[1];
    s[1] += delta * count / total;
    s[2] += m2 + delta * delta * s[0] * count / total;
    s[0] = total;
}

AVX2 static inline float horizontal_sum(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* Moments of rows × width values (rows `width` floats apart, L1-hot: just written), merged into
 * s. Two passes over the block: its float sum gives a provisional mean m, then Σ (v − m) and
 * Σ (v − m)² give the block's M2 about its exact mean, so a mean far larger than the spread
 * costs no accuracy (the sum of squares of v would cancel). Four accumulators each: with one,
 * the adds wait on each other and the passes cost as much as the two passes over memory they
 * replace. */
AVX2 static void block_moments(const float *rows, int count, int width, int fullVectors, __m256i tailMask, double *s) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 sum[4] = {zero, zero, zero, zero};
    for (int i = 0; i < count; i++) {
        const float *row = rows + (long)i * width;
        int v = 0;
        for (; v + 4 <= fullVectors; v += 4)
            for (int k = 0; k < 4; k++) sum[k] = _mm256_add_ps(sum[k], _mm256_loadu_ps(row + 8 * (v + k)));
        for (; v < fullVectors; v++) sum[0] = _mm256_add_ps(sum[0], _mm256_loadu_ps(row + 8 * v));
        if (width % 8) sum[1] = _mm256_add_ps(sum[1], _mm256_maskload_ps(row + 8 * fullVectors, tailMask));
    }
    const double n = (double)count * width;
    const float mean = (float)(horizontal_sum(_mm256_add_ps(_mm256_add_ps(sum[0], sum[1]), _mm256_add_ps(sum[2], sum[3]))) / n);
    const __m256 m = _mm256_set1_ps(mean);
    __m256 deviation[4] = {zero, zero, zero, zero}, square[4] = {zero, zero, zero, zero};
    for (int i = 0; i < count; i++) {
        const float *row = rows + (long)i * width;
        int v = 0;
        for (; v + 4 <= fullVectors; v += 4)
            for (int k = 0; k < 4; k++) {
                const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(row + 8 * (v + k)), m);
                deviation[k] = _mm256_add_ps(deviation[k], d);
                square[k] = _mm256_fmadd_ps(d, d, square[k]);
            }
        for (; v < fullVectors; v++) {
            const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(row + 8 * v), m);
            deviation[0] = _mm256_add_ps(deviation[0], d);
            square[0] = _mm256_fmadd_ps(d, d, square[0]);
        }
        if (width % 8) {
            const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(row + 8 * fullVectors, tailMask), m),
                                           _mm256_castsi256_ps(tailMask));
            deviation[1] = _mm256_add_ps(deviation[1], d);
            square[1] = _mm256_fmadd_ps(d, d, square[1]);
        }
    }
    const double dsum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(deviation[0], deviation[1]), _mm256_add_ps(deviation[2], deviation[3])));
    const double dsquare = horizontal_sum(_mm256_add_ps(_mm256_add_ps(square[0], square[1]), _mm256_add_ps(square[2], square[3])));
    merge_moments(s, n, n * mean + dsum, dsquare - dsum * dsum / n);
}

AVX2 void wg_transform_output(const float *m, int channels, int height, int width,
                              int firstTileRow, int tileRows, int tilesX, long firstTile, long positionStride,
                              int paddedChannels, const float *bias, int accumulate, int relu, float *scratch,
                              float *out, double *moments) {
    const __m256 zero = _mm256_setzero_ps();
    // A tile row of 8 channels is staged as rows[lane][i][x] and then written one channel row at
    // a time: stored straight from the transposes, the 8 channels' rows sit whole planes apart
    // (multiples of 4 KB) and their stores fight over one set of L1.
    const long stagedWidth = 8L * ((tilesX + 1) / 2);
    const int fullVectors = width / 8, tail = width % 8;
    const __m256i tailMask = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int group = 0; group < paddedChannels / 8; group++) {
        const int lanes = channels - group * 8 < 8 ? channels - group * 8 : 8;
        const __m256 b = bias ? _mm256_loadu_ps(bias + group * 8) : zero;
        for (int ty = firstTileRow; ty < firstTileRow + tileRows; ty++) {
            const int rowsHere = height - 4 * ty < 4 ? height - 4 * ty : 4;
            // Two tiles side by side make rows of 8 outputs: after a transpose, one vector per channel.
            for (int tx = 0; tx < tilesX; tx += 2) {
                const long t = firstTile + (long)(ty - firstTileRow) * tilesX + tx;
                __m256 y[2][4][4];
                output_tile(m + t * paddedChannels + group * 8, positionStride, b, y[0]);
                if (tx + 1 < tilesX) {
                    output_tile(m + (t + 1) * paddedChannels + group * 8, positionStride, b, y[1]);
                } else {
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) y[1][i][j] = zero;
                }
                for (int i = 0; i < rowsHere; i++) {
                    __m256 r[8] = {y[0][i][0], y[0][i][1], y[0][i][2], y[0][i][3],
                                   y[1][i][0], y[1][i][1], y[1][i][2], y[1][i][3]};
                    transpose8(r);
                    for (int l = 0; l < 8; l++) _mm256_storeu_ps(scratch + ((long)l * 4 + i) * stagedWidth + 4 * tx, r[l]);
                }
            }
            for (int l = 0; l < lanes; l++) {
                for (int i = 0; i < rowsHere; i++) {
                    const float *source = scratch + ((long)l * 4 + i) * stagedWidth;
                    float *destination = out + ((long)(group * 8 + l) * height + 4 * ty + i) * width;
                    for (int v = 0; v < fullVectors; v++) {
                        __m256 value = _mm256_loadu_ps(source + 8 * v);
                        if (accumulate) value = _mm256_add_ps(_mm256_loadu_ps(destination + 8 * v), value);
                        if (relu) value = _mm256_max_ps(value, zero);
                        _mm256_storeu_ps(destination + 8 * v, value);
                    }
                    if (tail) {
                        float *d = destination + 8 * fullVectors;
                        __m256 value = _mm256_loadu_ps(source + 8 * fullVectors);
                        if (accumulate) value = _mm256_add_ps(_mm256_maskload_ps(d, tailMask), value);
                        if (relu) value = _mm256_max_ps(value, zero);
                        _mm256_maskstore_ps(d, tailMask, value);
                    }
                }
                if (moments)
                    block_moments(out + ((long)(group * 8 + l) * height + 4 * ty) * width, rowsHere, width, fullVectors,
                                  tailMask, moments + 3L * (group * 8 + l));
            }
        }
    }
}

/* r = G g for a column g of 3 (8 kernels in the lanes), G = [[1/4, 0, 0], [−1/6, −1/6, −1/6],
 * [−1/6, 1/6, −1/6], [1/24, 1/12, 1/6], [1/24, −1/12, 1/6], [0, 0, 1]], with rounded reciprocals
 * (products, not divisions) and separate multiplies and adds (no FMA), as written. */
AVX2 static inline void kernel_transform(const __m256 g0, const __m256 g1, const __m256 g2, __m256 r[6]) {
    const __m256 quarter = _mm256_set1_ps(0.25f), sixth = _mm256_set1_ps(1.0f / 6);
    const __m256 twelfth = _mm256_set1_ps(1.0f / 12), twentyFourth = _mm256_set1_ps(1.0f / 24);
    const __m256 negativeZero = _mm256_set1_ps(-0.0f);
    r[0] = _mm256_mul_ps(quarter, g0);
    r[1] = _mm256_mul_ps(_mm256_xor_ps(_mm256_add_ps(_mm256_add_ps(g0, g1), g2), negativeZero), sixth);
    r[2] = _mm256_mul_ps(_mm256_xor_ps(_mm256_add_ps(_mm256_sub_ps(g0, g1), g2), negativeZero), sixth);
    const __m256 a = _mm256_mul_ps(g0, twentyFourth), b = _mm256_mul_ps(g1, twelfth), c = _mm256_mul_ps(g2, sixth);
    r[3] = _mm256_add_ps(_mm256_add_ps(a, b), c);
    r[4] = _mm256_add_ps(_mm256_sub_ps(a, b), c);
    r[5] = g2;
}

AVX2 void wg_transform_weights(const float *w, int outputs, int channels, int firstChannel, int lastChannel,
                               int paddedOutputs, long positionStride, float *u) {
    for (int ic = firstChannel; ic < lastChannel; ic++) {
        if (ic >= channels) {
            for (int xi = 0; xi < 36; xi++) memset(u + xi * positionStride + (long)ic * paddedOutputs, 0,
                                                   sizeof(float) * (size_t)paddedOutputs);
            continue;
        }
        for (int group = 0; group < paddedOutputs / 8; group++) {
            // taps[t][lane] = w[o = 8·group + lane][ic][t], zero past the last output channel.
            float taps[9][8];
            for (int lane = 0; lane < 8; lane++) {
                const int o = group * 8 + lane;
                const float *source = w + ((long)o * channels + ic) * 9;
                for (int t = 0; t < 9; t++) taps[t][lane] = o < outputs ? source[t] : 0;
            }
            __m256 g[9], left[3][6];  // left[b][k] = (G g)[k][b]
            for (int t = 0; t < 9; t++) g[t] = _mm256_loadu_ps(taps[t]);
            for (int b = 0; b < 3; b++) kernel_transform(g[b], g[3 + b], g[6 + b], left[b]);
            float *destination = u + (long)ic * paddedOutputs + group * 8;
            for (int k = 0; k < 6; k++) {
                __m256 row[6];
                kernel_transform(left[0][k], left[1][k], left[2][k], row);
                for (int l = 0; l < 6; l++) _mm256_storeu_ps(destination + (k * 6 + l) * positionStride, row[l]);
            }
        }
    }
}
