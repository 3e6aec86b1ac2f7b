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

}  // namespace sparsewave
