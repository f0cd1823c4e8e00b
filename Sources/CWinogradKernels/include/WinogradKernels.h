#ifndef EVDISTILL_WINOGRAD_KERNELS_H
#define EVDISTILL_WINOGRAD_KERNELS_H

/* The tile transforms of Winograd F(4×4, 3×3) (see Sources/Tensor/Winograd.swift), with the
 * channels of a tile in the 8 lanes of an AVX2 register. Tiles of one band of tile rows of one
 * image are numbered t = firstTile + (ty − firstTileRow) · tilesX + tx; tile (ty, tx) has its outputs at rows
 * 4·ty ..< 4·ty + 4 and columns 4·tx ..< 4·tx + 4, and its input window at rows 4·ty − padding
 * ..< +6 and columns 4·tx − padding ..< +6 (zeros outside the image). Transformed matrices are
 * 36 matrices [tiles][paddedChannels], one per position, positionStride floats apart, with
 * paddedChannels a multiple of 8; a band's tiles are rows firstTile ..< firstTile + tileRows ·
 * tilesX of them, so several images can share one matrix. */

/* 1 when the CPU has AVX2 and FMA (the kernels need both); 0 otherwise. */
int wg_supported(void);

/* Floats of scratch any of the transforms needs for images `tilesX` tiles wide. */
long wg_scratch_floats(int tilesX);

/* V[ξ][t][c] = (Bᵀ d B)_ξ of channel c's input tile; zero for c ≥ channels. */
void wg_transform_input(const float *image, int channels, int height, int width, int padding,
                        int firstTileRow, int tileRows, int tilesX, long firstTile, long positionStride,
                        int paddedChannels, float *scratch, float *v);

/* Ŷ[ξ][t][o] = (A ∂Y Aᵀ)_ξ of channel o's 4×4 output tile (zeros past the edges). */
void wg_transform_grad_output(const float *grad, int channels, int height, int width,
                              int firstTileRow, int tileRows, int tilesX, long firstTile, long positionStride,
                              int paddedChannels, float *scratch, float *yhat);

/* Output tiles Aᵀ M A (+ bias[o], then max(·, 0) when relu) written to, or with accumulate added
 * to, out [channels][height][width] (the output of one image), clipped at its edges. `bias` is
 * NULL or holds paddedChannels values. `scratch`: wg_scratch_floats(tilesX) floats. `moments`:
 * NULL, or (count, mean, M2) per channel, 3 doubles each (count 0: none yet), into which the
 * written values are merged one tile row at a time. */
void wg_transform_output(const float *m, int channels, int height, int width,
                         int firstTileRow, int tileRows, int tilesX, long firstTile, long positionStride,
                         int paddedChannels, const float *bias, int accumulate, int relu, float *scratch,
                         float *out, double *moments);

/* C[m × n] = A · B, or with accumulate C += A · B, for the 36 products (WinogradProducts.c).
 * A's element (i, p) is a[i · ars + p · acs] (ars = lda, acs = 1 for A; ars = 1, acs = lda for a
 * transposed A); B and C are row-major with row strides ldb and ldc. n must be a multiple of 8. */
void wg_product(long m, long n, long k, const float *a, long ars, long acs, const float *b, long ldb,
                float *c, long ldc, int accumulate);

/* U_ξ[c][o] = (G g_{o,c} Gᵀ)_ξ at u[ξ · positionStride + c · paddedOutputs + o] for the input
 * channels c = firstChannel ..< lastChannel (c ≥ channels and o ≥ outputs give zeros), from the
 * weights w [outputs][channels][3][3]. */
void wg_transform_weights(const float *w, int outputs, int channels, int firstChannel, int lastChannel,
                          int paddedOutputs, long positionStride, float *u);

#endif
