// The K-quant entries of the block format table (Q2_K..Q6_K and Q8_K).
#include "kernels/cpu_features.h"
#include "kernels/block_format.h"
#include "kernels/quants_k.h"

namespace shardq {

void RegisterKQuantFormats(BlockFormatTable& table, bool simd) {
  using namespace kquant;
  const bool avx2 = simd && GetCpuFeatures().avx2;
  // The AVX-512 file is also compiled for AVX2/FMA/F16C, so it needs both.
  const bool avx512 = avx2 && GetCpuFeatures().avx512;
  auto pick = [&](auto scalar, auto fast2, auto fast512) {
    return avx512 ? fast512 : avx2 ? fast2 : scalar;
  };
  // The dots and decoders have no AVX-512 versions: the AVX2 ones serve both.
  auto pick_dot = [&](auto scalar, auto fast2) { return avx2 ? fast2 : scalar; };
  auto entry = [](GgmlType type, const char* name, size_t bytes, auto quantize, auto dequantize,
                  auto dot_f32, auto vec_dot) {
    BlockFormat f;
    f.type = type;
    f.name = name;
    f.block_size = kQK_K;
    f.block_bytes = bytes;
    f.quantized = true;
    f.uses_importance = type != GgmlType::Q8_K;
    f.quantize_row = quantize;
    f.dequantize_row = dequantize;
    f.dot_f32 = dot_f32;
    f.vec_dot_type = GgmlType::Q8_K;
    f.vec_dot = vec_dot;
    return f;
  };
  // Q2_K and Q3_K have no AVX-512 encoders: the AVX2 ones serve both.
  table.Set(entry(GgmlType::Q2_K, "Q2_K", sizeof(BlockQ2_K), avx2 ? QuantizeRowQ2KAvx2 : QuantizeRowQ2K,
                  DequantizeRowQ2K,
                  DotF32Q2K, pick_dot(VecDotQ2KQ8K, VecDotQ2KQ8KAvx2)));
  table.Set(entry(GgmlType::Q3_K, "Q3_K", sizeof(BlockQ3_K), avx2 ? QuantizeRowQ3KAvx2 : QuantizeRowQ3K,
                  DequantizeRowQ3K,
                  DotF32Q3K, pick_dot(VecDotQ3KQ8K, VecDotQ3KQ8KAvx2)));
  table.Set(entry(GgmlType::Q4_K, "Q4_K", sizeof(BlockQ4_K),
                  pick(QuantizeRowQ4K, QuantizeRowQ4KAvx2, QuantizeRowQ4KAvx512),
                  pick_dot(DequantizeRowQ4K, DequantizeRowQ4KAvx2),
                  pick_dot(DotF32Q4K, DotF32Q4KAvx2),
                  pick_dot(VecDotQ4KQ8K, VecDotQ4KQ8KAvx2)));
  table.Set(entry(GgmlType::Q5_K, "Q5_K", sizeof(BlockQ5_K),
                  pick(QuantizeRowQ5K, QuantizeRowQ5KAvx2, QuantizeRowQ5KAvx512), DequantizeRowQ5K,
                  DotF32Q5K, pick_dot(VecDotQ5KQ8K, VecDotQ5KQ8KAvx2)));
  table.Set(entry(GgmlType::Q6_K, "Q6_K", sizeof(BlockQ6_K),
                  pick(QuantizeRowQ6K, QuantizeRowQ6KAvx2, QuantizeRowQ6KAvx512),
                  pick_dot(DequantizeRowQ6K, DequantizeRowQ6KAvx2),
                  pick_dot(DotF32Q6K, DotF32Q6KAvx2),
                  pick_dot(VecDotQ6KQ8K, VecDotQ6KQ8KAvx2)));
  table.Set(entry(GgmlType::Q8_K, "Q8_K", sizeof(BlockQ8_K), QuantizeRowQ8K, DequantizeRowQ8K,
                  DotF32Q8K, VecDotQ8KQ8K));
}

}  // namespace shardq
