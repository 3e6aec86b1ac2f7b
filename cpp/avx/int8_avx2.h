// int8 products on AVX2 (int8_avx2.cpp): fills a table's spmv_i8 slots and
// its quantizer. Call only after CPUID reports AVX2.
#pragma once
#include "kernels/table.h"

namespace sparsewave {

void add_avx2_int8_kernels(KernelTable& table);

}  // namespace sparsewave
