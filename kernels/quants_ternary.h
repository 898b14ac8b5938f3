// Row functions of the ternary formats TQ1_0 and TQ2_0. The scalar references
// (quants_ternary.cpp) define them; the AVX2 versions (quants_ternary_avx2.cpp)
// decode to identical floats and agree on dots within float rounding.
#pragma once

#include <cstdint>

namespace shardq::ternary {

void QuantizeTQ1_0(const float* x, void* y, int64_t n, const float* importance);
void DequantizeTQ1_0(const void* x, float* y, int64_t n);
float DotF32TQ1_0(const void* x, const float* v, int64_t n);
float VecDotTQ1_0Q8_K(const void* x, const void* v, int64_t n);

void QuantizeTQ2_0(const float* x, void* y, int64_t n, const float* importance);
void DequantizeTQ2_0(const void* x, float* y, int64_t n);
float DotF32TQ2_0(const void* x, const float* v, int64_t n);
float VecDotTQ2_0Q8_K(const void* x, const void* v, int64_t n);

// AVX2: call only when GetCpuFeatures().avx2. Encoding stays scalar (one absmax
// and a few roundings per 256 values; not a hot path).
void DequantizeTQ1_0Avx2(const void* x, float* y, int64_t n);
float DotF32TQ1_0Avx2(const void* x, const float* v, int64_t n);
float VecDotTQ1_0Q8_KAvx2(const void* x, const void* v, int64_t n);

void DequantizeTQ2_0Avx2(const void* x, float* y, int64_t n);
float DotF32TQ2_0Avx2(const void* x, const float* v, int64_t n);
float VecDotTQ2_0Q8_KAvx2(const void* x, const void* v, int64_t n);

}  // namespace shardq::ternary
