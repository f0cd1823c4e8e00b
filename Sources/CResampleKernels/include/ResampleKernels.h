#ifndef EVDISTILL_RESAMPLE_KERNELS_H
#define EVDISTILL_RESAMPLE_KERNELS_H

/* The width pass of bilinear ×2 upsampling with align_corners = false (see
 * Sources/Autograd/Ops/UpsampleBilinear.swift), for the interior outputs of a row: with w input
 * columns x, output column j = 2k + 1 is 0.75·x[k] + 0.25·x[k + 1] and j = 2k + 2 is
 * 0.25·x[k] + 0.75·x[k + 1], for k = 0 ..< w − 1; the edge columns 0 and 2w − 1 are the caller's.
 * Each is one product per tap and one sum, in that order, without FMA: the same rounding as the
 * table-driven loop. AVX2 when the CPU has it (rs_supported), else the same arithmetic in scalar
 * code. */

/* 1 when the CPU has AVX2. */
int rs_supported(void);

/* out[1 ..< 2w − 1] of each of `rows` rows: input rows `w` floats apart, output rows 2w apart. */
void rs_widen_x2(const float *x, long rows, int w, float *out);

/* The adjoint of rs_widen_x2 added into dx: for each row, dx[k] += the weights of the interior
 * outputs that read x[k] times their gradients g (2w per row), in output order per k. */
void rs_widen_x2_adjoint(const float *g, long rows, int w, float *dx);

#endif
