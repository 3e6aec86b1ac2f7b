// 1x4-block float products on AVX2 (row4_avx2.cpp): fills a table's 1x4
// spmv slots (spmm stays generic: it runs at load time). Call only after
// CPUID reports AVX2, FMA and F16C.
#pragma once
#include "kernels/table.h"

namespace sparsewave {

void add_avx2_1x4_kernels(KernelTable& table);

}  // namespace sparsewave
