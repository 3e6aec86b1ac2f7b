#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#if defined(SPARSEWAVE_HAVE_AVX2)
#include "avx/vnni_tables.h"
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

namespace sparsewave {

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(_M_X64)
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & (1u << 27);
  const bool fma = ecx & (1u << 12);
  const bool f16c = ecx & (1u << 29);
  const bool avx = ecx & (1u << 28);
  if (!osxsave || !avx) return f;
  // The OS must save the wide registers on context switch (XCR0), or using
  // them corrupts state even though CPUID advertises them.
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool os_ymm = (xcr0_lo & 0x6) == 0x6;
  const bool os_zmm = (xcr0_lo & 0xe6) == 0xe6;
  if (!os_ymm || __get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.fma = fma;
  f.f16c = f16c;
  f.avx2 = (ebx & (1u << 5)) != 0;
  f.avx512f = os_zmm && (ebx & (1u << 16)) != 0;
  const bool avx512bw = (ebx & (1u << 30)) != 0, avx512vl = (ebx & (1u << 31)) != 0;
  f.avx512_vnni = f.avx512f && avx512bw && avx512vl && (ecx & (1u << 11)) != 0;
  if (eax >= 1) {  // leaf 7's highest subleaf
    unsigned eax1, ebx1, ecx1, edx1;
    __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
    f.avx_vnni = (eax1 & (1u << 4)) != 0;
  }
#elif defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is part of the aarch64 baseline.
#if defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  f.dotprod = (hw & HWCAP_ASIMDDP) != 0;
  f.fp16 = (hw & HWCAP_ASIMDHP) != 0;
#endif
#endif
  return f;
}

namespace {

struct Entry {
  const char* name;
  const KernelTable& (*table)();
  bool (*supported)(const CpuFeatures&);
};

// Slowest first; every entry here is compiled into this build.
const Entry kEntries[] = {
    {"generic", generic_kernels, [](const CpuFeatures&) { return true; }},
#if defined(SPARSEWAVE_HAVE_AVX2)
    {"avx2", avx2_kernels, [](const CpuFeatures& f) { return f.avx2 && f.fma && f.f16c; }},
#endif
#if defined(SPARSEWAVE_HAVE_AVX_VNNI)
    {"avx2_vnni", avx2_vnni_kernels, [](const CpuFeatures& f) { return f.avx2 && f.fma && f.f16c && f.avx_vnni; }},
#endif
#if defined(SPARSEWAVE_HAVE_AVX512)
    {"avx512", avx512_kernels, [](const CpuFeatures& f) { return f.avx512f && f.avx2 && f.fma && f.f16c; }},
#endif
#if defined(SPARSEWAVE_HAVE_AVX512_VNNI)
    {"avx512_vnni", avx512_vnni_kernels,
     [](const CpuFeatures& f) { return f.avx512_vnni && f.avx2 && f.fma && f.f16c; }},
#endif
#if defined(SPARSEWAVE_HAVE_NEON)
    {"neon", neon_kernels, [](const CpuFeatures& f) { return f.neon; }},
    {"neon_dotprod", neon_dotprod_kernels, [](const CpuFeatures& f) { return f.neon && f.dotprod; }},
#endif
};

const KernelTable* best_table() {
  const CpuFeatures f = detect_cpu_features();
  const KernelTable* best = &generic_kernels();
  for (const Entry& e : kEntries)
    if (e.supported(f)) best = &e.table();
  return best;
}

std::atomic<const KernelTable*>& active_slot() {
  static std::atomic<const KernelTable*> slot{best_table()};
  return slot;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::vector<std::string> available_isas() {
  const CpuFeatures f = detect_cpu_features();
  std::vector<std::string> names;
  for (const Entry& e : kEntries)
    if (e.supported(f)) names.emplace_back(e.name);
  return names;
}

const KernelTable& active_kernels() { return *active_slot().load(std::memory_order_acquire); }

std::string active_isa() { return active_kernels().name; }

void set_isa(const std::string& name) {
  if (name.empty() || name == "auto") {
    active_slot().store(best_table(), std::memory_order_release);
    return;
  }
  const CpuFeatures f = detect_cpu_features();
  for (const Entry& e : kEntries) {
    if (name != e.name) continue;
    if (!e.supported(f))
      throw std::invalid_argument("ISA '" + name + "' is compiled in but this CPU cannot run it; available: " +
                                  join(available_isas()));
    active_slot().store(&e.table(), std::memory_order_release);
    return;
  }
  throw std::invalid_argument("unknown or not compiled-in ISA '" + name + "'; available on this CPU: " +
                              join(available_isas()));
}

void apply_isa_from_environment() {
  const char* forced = std::getenv("SPARSEWAVE_ISA");
  if (!forced) return;
  try {
    set_isa(forced);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("SPARSEWAVE_ISA: ") + e.what());
  }
}

}  // namespace sparsewave
