#include "common/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace shardq {
namespace {

CpuFeatures Detect() {
  CpuFeatures f;
  const char* force = std::getenv("SHARDQ_FORCE_SCALAR");
  if (force && std::strcmp(force, "0") != 0 && force[0] != '\0') return f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
#endif
  return f;
}

}  // namespace

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace shardq
