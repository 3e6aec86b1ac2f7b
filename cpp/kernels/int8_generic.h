// The int8 reference kernels (int8_generic.cpp): the generic table's
// spmv_i8 / spmv_i8a16 slots and quantizers, which every ISA's must match bit for bit.
#pragma once
#include <cstdint>

#include "kernels/table.h"

namespace sparsewave {

void spmv_i8_generic_4x4(const BsrView& a, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                         bool accumulate);
void spmv_i8_generic_8x4(const BsrView& a, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                         bool accumulate);
void spmv_i8a16_generic_4x4(const BsrView& a, const int16_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                            bool accumulate);
void spmv_i8a16_generic_8x4(const BsrView& a, const int16_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                            bool accumulate);
float quantize_generic(const float* x, int n, int8_t* q);
float quantize_i16_generic(const float* x, int n, int16_t* q, int qmax);

}  // namespace sparsewave
