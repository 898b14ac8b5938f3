// Row functions of the legacy 32-value block formats (Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q8_1) and IQ4_NL. The scalar references are the definition; the AVX2
// versions (quants_legacy_avx2.cpp) must give identical bytes when encoding and
// agree within float rounding when taking dot products.
#pragma once

#include <cstdint>

namespace shardq::legacy {

// --- scalar references (quants_legacy.cpp, quants_iq4nl.cpp) ----------------
// The value of largest magnitude in x[0..n), the first one on ties (ggml's scan
// order): the symmetric legacy formats (Q4_0, Q5_0) scale by it, sign included.
float SignedAbsMax(const float* x, int n);

void QuantizeQ4_0(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ4_0(const void* x, float* y, int64_t n);
float DotF32Q4_0(const void* x, const float* v, int64_t n);
float VecDotQ4_0Q8_0(const void* x, const void* v, int64_t n);

void QuantizeQ4_1(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ4_1(const void* x, float* y, int64_t n);
float DotF32Q4_1(const void* x, const float* v, int64_t n);
float VecDotQ4_1Q8_1(const void* x, const void* v, int64_t n);

void QuantizeQ5_0(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ5_0(const void* x, float* y, int64_t n);
float DotF32Q5_0(const void* x, const float* v, int64_t n);
float VecDotQ5_0Q8_0(const void* x, const void* v, int64_t n);

void QuantizeQ5_1(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ5_1(const void* x, float* y, int64_t n);
float DotF32Q5_1(const void* x, const float* v, int64_t n);
float VecDotQ5_1Q8_1(const void* x, const void* v, int64_t n);

// Q8_0 and Q8_1 ignore importance, as ggml does (8 bits leave nothing to search).
void QuantizeQ8_0(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ8_0(const void* x, float* y, int64_t n);
float DotF32Q8_0(const void* x, const float* v, int64_t n);
float VecDotQ8_0Q8_0(const void* x, const void* v, int64_t n);

void QuantizeQ8_1(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ8_1(const void* x, float* y, int64_t n);
float DotF32Q8_1(const void* x, const float* v, int64_t n);
float VecDotQ8_1Q8_1(const void* x, const void* v, int64_t n);

void QuantizeIQ4_NL(const float* x, void* y, int64_t n, const float* importance);
// The unrounded scale QuantizeIQ4_NL picks for one block of 32 (qw: its importance
// or nullptr); the block's values are rounded with 1 / this, stored as fp16.
float SearchIQ4_NLScale(const float* x, const float* qw);
void DequantizeIQ4_NL(const void* x, float* y, int64_t n);
float DotF32IQ4_NL(const void* x, const float* v, int64_t n);
float VecDotIQ4_NLQ8_0(const void* x, const void* v, int64_t n);

// --- AVX2; call only when GetCpuFeatures().avx2 -------------------------------
// quants_legacy_avx2.cpp
void QuantizeQ4_0Avx2(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ4_0Avx2(const void* x, float* y, int64_t n);
float DotF32Q4_0Avx2(const void* x, const float* v, int64_t n);
float VecDotQ4_0Q8_0Avx2(const void* x, const void* v, int64_t n);

void QuantizeQ8_0Avx2(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ8_0Avx2(const void* x, float* y, int64_t n);
float DotF32Q8_0Avx2(const void* x, const float* v, int64_t n);
float VecDotQ8_0Q8_0Avx2(const void* x, const void* v, int64_t n);

// quants_legacy_ext_avx2.cpp
void QuantizeQ4_1Avx2(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ4_1Avx2(const void* x, float* y, int64_t n);
float DotF32Q4_1Avx2(const void* x, const float* v, int64_t n);
float VecDotQ4_1Q8_1Avx2(const void* x, const void* v, int64_t n);

void QuantizeQ5_0Avx2(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ5_0Avx2(const void* x, float* y, int64_t n);
float DotF32Q5_0Avx2(const void* x, const float* v, int64_t n);
float VecDotQ5_0Q8_0Avx2(const void* x, const void* v, int64_t n);

void QuantizeQ5_1Avx2(const float* x, void* y, int64_t n, const float* importance);
void DequantizeQ5_1Avx2(const void* x, float* y, int64_t n);
float DotF32Q5_1Avx2(const void* x, const float* v, int64_t n);
float VecDotQ5_1Q8_1Avx2(const void* x, const void* v, int64_t n);

void QuantizeQ8_1Avx2(const float* x, void* y, int64_t n, const float* importance);

// quants_iq4nl_avx2.cpp
void QuantizeIQ4_NLAvx2(const float* x, void* y, int64_t n, const float* importance);
void DequantizeIQ4_NLAvx2(const void* x, float* y, int64_t n);
float DotF32IQ4_NLAvx2(const void* x, const float* v, int64_t n);
float VecDotIQ4_NLQ8_0Avx2(const void* x, const void* v, int64_t n);

}  // namespace shardq::legacy
