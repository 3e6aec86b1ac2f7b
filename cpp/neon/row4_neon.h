// 1x4-block float products on NEON (row4_neon.cpp): fills a table's 1x4
// spmv slots (spmm stays generic: it runs at load time).
#pragma once
#include "kernels/table.h"

namespace sparsewave {

void add_neon_1x4_kernels(KernelTable& table);

}  // namespace sparsewave
