// Splits a multi-vector product into passes of at most 4 vectors, the most
// whose accumulators fit in registers next to a block. Included inside each
// ISA file's anonymous namespace; Group<NV>::run is that ISA's kernel.
#pragma once
#include <cstddef>

#include "bsr_view.h"

template <template <int> class Group>
void spmv_many_groups(const sparsewave::BsrView& a, const float* x, std::ptrdiff_t ldx, float* y,
                      std::ptrdiff_t ldy, int nvec, int rb_begin, int rb_end, bool accumulate) {
  int v = 0;
  for (; v + 4 <= nvec; v += 4) Group<4>::run(a, x + v * ldx, ldx, y + v * ldy, ldy, rb_begin, rb_end, accumulate);
  switch (nvec - v) {
    case 3: Group<3>::run(a, x + v * ldx, ldx, y + v * ldy, ldy, rb_begin, rb_end, accumulate); break;
    case 2: Group<2>::run(a, x + v * ldx, ldx, y + v * ldy, ldy, rb_begin, rb_end, accumulate); break;
    case 1: Group<1>::run(a, x + v * ldx, ldx, y + v * ldy, ldy, rb_begin, rb_end, accumulate); break;
    default: break;
  }
}
