// K-quant formats (Q2_K..Q6_K, Q8_K): the scalar reference routines, shared
// with the AVX2 file (which reuses the packing and falls back on them) and the tests.
#pragma once

#include <cstdint>

#include "kernels/block_structs.h"
#include "kernels/quant_search.h"

namespace shardq::kquant {

// The scale searches live in quant_search (shared with the legacy encoders).
using qsearch::kGroupMaxEps;
using qsearch::MakeQ3Quants;
using qsearch::MakeQkx2Quants;
using qsearch::MakeQkx3Quants;
using qsearch::MakeQpQuants;
using qsearch::MakeQxQuants;
using qsearch::NearestInt;

// Row routines, n a multiple of 256. importance may be nullptr (then ggml's
// reference quantizer is reproduced).
void QuantizeRowQ2K(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ3K(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ4K(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ5K(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ6K(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ8K(const float* x, void* y, int64_t n, const float* importance);

void DequantizeRowQ2K(const void* x, float* y, int64_t n);
void DequantizeRowQ3K(const void* x, float* y, int64_t n);
void DequantizeRowQ4K(const void* x, float* y, int64_t n);
void DequantizeRowQ5K(const void* x, float* y, int64_t n);
void DequantizeRowQ6K(const void* x, float* y, int64_t n);
void DequantizeRowQ8K(const void* x, float* y, int64_t n);

// Q4_K/Q5_K: the 8 sub-block scales and mins of a block to 6 bits each (packed
// into `packed`, 12 bytes) and the block's fp16 d and dmin. Ref: against their
// maxima, as ggml's reference quantizer; Impl (with importance): each set by
// make_qp_quants weighted by the sub-blocks' total weights `sw`. Scalar (8
// values); the SIMD encoders call these too, so every path picks the same scales.
void SetAsymScalesRef(const float* scales, const float* mins, uint16_t* d16, uint16_t* dmin16, uint8_t* packed);
void SetAsymScalesImpl(const float* scales, const float* mins, const float* sw, uint16_t* d16, uint16_t* dmin16,
                       uint8_t* packed);

// Packing of the integer levels once the scales are chosen (shared with AVX2).
// L holds 256 levels of the block in natural order.
void PackQ4KQuants(const uint8_t* L, BlockQ4_K* y);
void PackQ6KQuants(const uint8_t* L, BlockQ6_K* y);

// Dot products against a float vector and against Q8_K activations.
float DotF32Q2K(const void* x, const float* v, int64_t n);
float DotF32Q3K(const void* x, const float* v, int64_t n);
float DotF32Q4K(const void* x, const float* v, int64_t n);
float DotF32Q5K(const void* x, const float* v, int64_t n);
float DotF32Q6K(const void* x, const float* v, int64_t n);
float DotF32Q8K(const void* x, const float* v, int64_t n);
float VecDotQ2KQ8K(const void* x, const void* v, int64_t n);
float VecDotQ3KQ8K(const void* x, const void* v, int64_t n);
float VecDotQ4KQ8K(const void* x, const void* v, int64_t n);
float VecDotQ5KQ8K(const void* x, const void* v, int64_t n);
float VecDotQ6KQ8K(const void* x, const void* v, int64_t n);
float VecDotQ8KQ8K(const void* x, const void* v, int64_t n);

// AVX2 versions (quants_k_avx2.cpp); call only when GetCpuFeatures().avx2.
void QuantizeRowQ2KAvx2(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ3KAvx2(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ4KAvx2(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ5KAvx2(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ6KAvx2(const float* x, void* y, int64_t n, const float* importance);
// Integer parts exact, float steps as the scalar ones (quants_k_dot_avx2.cpp).
float VecDotQ2KQ8KAvx2(const void* x, const void* v, int64_t n);
float VecDotQ3KQ8KAvx2(const void* x, const void* v, int64_t n);
float VecDotQ4KQ8KAvx2(const void* x, const void* v, int64_t n);
float VecDotQ5KQ8KAvx2(const void* x, const void* v, int64_t n);
float VecDotQ6KQ8KAvx2(const void* x, const void* v, int64_t n);
float DotF32Q4KAvx2(const void* x, const float* v, int64_t n);
float DotF32Q6KAvx2(const void* x, const float* v, int64_t n);
// The reference decoders' floats bit for bit (quants_k_decode_avx2.cpp).
void DequantizeRowQ4KAvx2(const void* x, float* y, int64_t n);
void DequantizeRowQ6KAvx2(const void* x, float* y, int64_t n);

// AVX-512 versions (quants_k_avx512.cpp), byte-identical to the reference;
// call only when GetCpuFeatures().avx512 and .avx2.
void QuantizeRowQ4KAvx512(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ5KAvx512(const float* x, void* y, int64_t n, const float* importance);
void QuantizeRowQ6KAvx512(const float* x, void* y, int64_t n, const float* importance);

}  // namespace shardq::kquant
