#ifndef EVENTDISTILL_CPUHINTS_H
#define EVENTDISTILL_CPUHINTS_H
/* Hints to the CPU that Swift has no intrinsic for. */

/* Scatter kernels over grids larger than L2 (voxel grids, histograms) are bound by cache-miss
   latency; prefetching the cell of an event a few events ahead overlaps those misses. */
static inline void evd_prefetch_write(const void *address) { __builtin_prefetch(address, 1, 3); }

/* In a spin-wait loop: tells the core it is spinning (x86 `pause`), so it yields its pipeline
   to a hyperthread sibling and does not flood the memory system with speculative loads. */
static inline void evd_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
#endif
