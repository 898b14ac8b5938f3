// Run-time CPU feature checks: the binary is built for baseline x86-64 and picks
// SIMD paths at run time, so it runs (scalar) on CPUs without AVX2.
#pragma once

namespace shardq {

struct CpuFeatures {
  bool avx2 = false;   // AVX2 + FMA + F16C together (what our *_avx2.cpp files are compiled for)
  bool avx512 = false; // AVX-512 F/BW/VL
};

// Detected once. SHARDQ_FORCE_SCALAR=1 in the environment turns every SIMD path off;
// SHARDQ_MAX_ISA=avx2 (or scalar) caps what is used below what the CPU reports, so
// an AVX-512 machine can measure the paths an AVX2-only machine would run.
const CpuFeatures& GetCpuFeatures();

// "avx512", "avx2" or "scalar": the widest SIMD paths GetCpuFeatures() allows.
const char* CpuIsaName();

}  // namespace shardq
