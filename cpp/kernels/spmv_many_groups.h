// Splits a multi-vector product into passes of at most 4 vectors, the most
// whose accumulators fit in registers next to a block. Each ISA file supplies
// Group<NV>::run, its kernel for NV vectors (see spmv_many below).
#pragma once
#include <cstddef>

#include "kernels/bsr_view.h"

namespace sparsewave {

template <template <int> class Group>
void spmv_many_groups(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
                      int rb_begin, int rb_end, bool accumulate) {
  int v = 0;
  for (; v + 4 <= nvec; v += 4) Group<4>::run(a, x + v * ldx, ldx, y + v * ldy, ldy, rb_begin, rb_end, accumulate);
  switch (nvec - v) {
    case 3: Group<3>::run(a, x + v * ldx, ldx, y + v * ldy, ldy, rb_begin, rb_end, accumulate); break;
    case 2: Group<2>::run(a, x + v * ldx, ldx, y + v * ldy, ldy, rb_begin, rb_end, accumulate); break;
    case 1: Group<1>::run(a, x + v * ldx, ldx, y + v * ldy, ldy, rb_begin, rb_end, accumulate); break;
    default: break;
  }
}

// A SpmvManyFn from a kernel family with a member template Group<NV>.
template <class Kernel>
void spmv_many(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
               int rb_begin, int rb_end, bool accumulate) {
  spmv_many_groups<Kernel::template Group>(a, x, ldx, y, ldy, nvec, rb_begin, rb_end, accumulate);
}

// A SpmvManyFn that runs the single-vector kernel Spmv once per vector: for
// shapes whose blocks serve one row (1x4), where sharing a block's load
// across vectors saves little; each vector gets Spmv's bits exactly.
template <void (*Spmv)(const BsrView&, const float*, float*, int, int, bool)>
void spmv_each(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
               int rb_begin, int rb_end, bool accumulate) {
  for (int v = 0; v < nvec; ++v) Spmv(a, x + v * ldx, y + v * ldy, rb_begin, rb_end, accumulate);
}

}  // namespace sparsewave
