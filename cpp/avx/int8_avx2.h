// int8 products on AVX2: int8_avx2.cpp fills a table's spmv_i8 slots and its
// quantizer, int8_many_avx2.cpp its spmv_many_i8 slots, int8a16_avx2.cpp its
// spmv_i8a16 slots and 16-bit quantizer. Call only after CPUID
// reports AVX2.
#pragma once
#include "kernels/table.h"

namespace sparsewave {

void add_avx2_int8_kernels(KernelTable& table);
void add_avx2_int8_many_kernels(KernelTable& table);
void add_avx2_int8a16_kernels(KernelTable& table);

}  // namespace sparsewave
