// Run-time choice of the kernel table: CPUID/XGETBV on x86, HWCAP on aarch64.
#pragma once
#include <string>
#include <vector>

#include "kernels/table.h"

namespace sparsewave {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avx512f = false;  // x86-64
  bool avx_vnni = false;     // VEX vpdpbusd (CPUID 7.1 EAX bit 4)
  bool avx512_vnni = false;  // EVEX vpdpbusd at 128/256 bits: AVX512 VNNI + VL + BW, OS saves zmm
  bool neon = false, dotprod = false, fp16 = false;  // aarch64
};

CpuFeatures detect_cpu_features();

// Paths this build can run on this CPU, slowest first ("generic" always).
std::vector<std::string> available_isas();

// The table in use: the best available unless forced.
const KernelTable& active_kernels();
std::string active_isa();

// Forces a path; throws std::invalid_argument naming the available ones.
void set_isa(const std::string& name);

// Applies SPARSEWAVE_ISA if set (empty or "auto" means best). Throws
// std::invalid_argument when it names a path this CPU cannot run.
void apply_isa_from_environment();

}  // namespace sparsewave
