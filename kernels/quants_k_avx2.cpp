// AVX2 encoders for Q4_K and Q6_K (placeholder: scalar until the fast search lands).
#include "kernels/quants_k.h"

namespace shardq::kquant {

void QuantizeRowQ4KAvx2(const float* x, void* y, int64_t n, const float* importance) {
  QuantizeRowQ4K(x, y, n, importance);
}
void QuantizeRowQ6KAvx2(const float* x, void* y, int64_t n, const float* importance) {
  QuantizeRowQ6K(x, y, n, importance);
}

}  // namespace shardq::kquant
