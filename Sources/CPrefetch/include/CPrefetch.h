#ifndef EVENTDISTILL_CPREFETCH_H
#define EVENTDISTILL_CPREFETCH_H
/* Swift has no prefetch intrinsic. Scatter kernels over grids larger than L2 (voxel grids,
   histograms) are bound by cache-miss latency; prefetching the cell of an event a few events
   ahead overlaps those misses. */
static inline void evd_prefetch_write(const void *address) { __builtin_prefetch(address, 1, 3); }
#endif
