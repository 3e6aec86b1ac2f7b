// AVX2 multi-vector product for 9 or more vectors (see many_wide_avx2.cpp).
// Internal to the AVX2 kernel files; call only after the CPU check.
#pragma once
#include <cstddef>

#include "kernels/bsr_view.h"

namespace sparsewave {

// The SpmvManyFn contract (kernels/table.h), float32 weights, 4x4 blocks.
// Chunks of 16 vectors run the wide kernel; a rest of 8 or fewer goes to
// `narrow` (the 4-vector group kernel), whose bits the wide one matches.
void spmv_many_wide_4x4_avx2(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                             int nvec, int rb_begin, int rb_end, bool accumulate,
                             void (*narrow)(const BsrView&, const float*, std::ptrdiff_t, float*, std::ptrdiff_t, int,
                                            int, int, bool));

}  // namespace sparsewave
