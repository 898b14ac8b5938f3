// Run-time CPU feature checks: the binary is built for baseline x86-64 and picks
// SIMD paths at run time, so it runs (scalar) on CPUs without AVX2.
#pragma once

namespace shardq {

struct CpuFeatures {
  bool avx2 = false;   // AVX2 + FMA + F16C together (what our *_avx2.cpp files are compiled for)
  bool avx512 = false; // AVX-512 F/BW/VL
};

// Detected once. SHARDQ_FORCE_SCALAR=1 in the environment turns every SIMD path off;
// SHARDQ_NO_AVX512=1 only the AVX-512 ones (the dispatch an AVX2-only CPU gets).
const CpuFeatures& GetCpuFeatures();

}  // namespace shardq
