// AVX2 paths of Q4_1, Q5_0, Q5_1, Q8_1 and IQ4_NL. Encoders without importance
// give the scalar reference's bytes exactly (same float operations, same
// first-extreme rule); weighted encoders stay scalar. IQ4_NL's encoder (its
// scale search, with or without importance) is in quants_iq4nl_avx2.cpp.
#include <cfloat>

#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quants_legacy.h"
#include "kernels/quants_legacy_avx2.h"

namespace shardq::legacy {

using namespace avx2_detail;

namespace {

// Loads a block; returns its min and max as the scalar scan finds them (value of the
// first element attaining each, so signed zeros match too).
inline void BlockMinMax(const float* xb, __m256 v[4], float* min, float* max) {
  __m256 lo = _mm256_set1_ps(FLT_MAX), hi = _mm256_set1_ps(-FLT_MAX);
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(xb + 8 * k);
    lo = _mm256_min_ps(lo, v[k]);
    hi = _mm256_max_ps(hi, v[k]);
  }
  *min = FirstEqual(xb, v, HorizontalMin(lo));
  *max = FirstEqual(xb, v, HorizontalMax(hi));
}

// q = trunc(v * id + bias) (optionally v - min first), clamped to `top`, as 32 bytes.
inline __m256i RoundBlock(const __m256 v[4], float min, float id, float bias, int top) {
  const __m256 vmin = _mm256_set1_ps(min), vid = _mm256_set1_ps(id), vb = _mm256_set1_ps(bias);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) {
    const __m256 t = _mm256_add_ps(Rounded(_mm256_mul_ps(_mm256_sub_ps(v[k], vmin), vid)), vb);
    q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(t), _mm256_set1_epi32(top));
  }
  return PackInt32ToInt8(q[0], q[1], q[2], q[3]);
}

// Block dot with a float vector: sum_j q_j v_j (q as int8 lanes) in 8 float lanes.
inline __m256 BlockDotInt8(__m256i q, const float* v) {
  __m256 s = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) s = _mm256_fmadd_ps(Int8ToFloat(q, k), _mm256_loadu_ps(v + 8 * k), s);
  return s;
}

inline __m256 BlockSum(const float* v) {
  return _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(v), _mm256_loadu_ps(v + 8)),
                       _mm256_add_ps(_mm256_loadu_ps(v + 16), _mm256_loadu_ps(v + 24)));
}

inline void StoreScaled(__m256i q, float d, float m, float* y) {
  const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
  // mul then add (no fma): the scalar decoder's q * d + m, rounded twice.
  for (int k = 0; k < 4; ++k) _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(Rounded(_mm256_mul_ps(Int8ToFloat(q, k), vd)), vm));
}

inline void StoreScaled(__m256i q, float d, float* y) {
  const __m256 vd = _mm256_set1_ps(d);
  for (int k = 0; k < 4; ++k) _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(Int8ToFloat(q, k), vd));
}

inline __m256i UnpackQ5(const uint8_t* qs, const uint8_t* qh) {
  return _mm256_or_si256(UnpackNibbles(qs), FifthBitBytes(qh));
}

inline __m256i UnpackIQ4_NL(const uint8_t* qs) {
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4NLValues)));
  return _mm256_shuffle_epi8(table, UnpackNibbles(qs));
}

}  // namespace

// ---- Q4_1 ---------------------------------------------------------------------
void QuantizeQ4_1Avx2(const float* x, void* vy, int64_t n, const float* importance) {
  if (importance) return QuantizeQ4_1(x, vy, n, importance);
  BlockQ4_1* y = static_cast<BlockQ4_1*>(vy);
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    __m256 v[4];
    float min, max;
    BlockMinMax(x + 32 * i, v, &min, &max);
    const float d = (max - min) / 15;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = ToFp16(d);
    y[i].m = ToFp16(min);
    PackNibbles(RoundBlock(v, min, id, 0.5f, 15), y[i].qs);
  }
}

void DequantizeQ4_1Avx2(const void* vx, float* y, int64_t n) {
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(vx);
  for (int64_t i = 0; i < n / kQK4_1; ++i)
    StoreScaled(UnpackNibbles(x[i].qs), Fp16ToF32(x[i].d), Fp16ToF32(x[i].m), y + 32 * i);
}

float DotF32Q4_1Avx2(const void* vx, const float* v, int64_t n) {
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(vx);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    acc = _mm256_fmadd_ps(BlockDotInt8(UnpackNibbles(x[i].qs), v + 32 * i), _mm256_set1_ps(Fp16ToF32(x[i].d)), acc);
    acc = _mm256_fmadd_ps(BlockSum(v + 32 * i), _mm256_set1_ps(Fp16ToF32(x[i].m)), acc);
  }
  return HorizontalSum(acc);
}

float VecDotQ4_1Q8_1Avx2(const void* vx, const void* vv, int64_t n) {
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(vx);
  const BlockQ8_1* y = static_cast<const BlockQ8_1*>(vv);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 s = _mm256_cvtepi32_ps(DotUint8Int8(UnpackNibbles(x[i].qs), qy));
    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)), acc);
    mins += Fp16ToF32(x[i].m) * Fp16ToF32(y[i].s);
  }
  return HorizontalSum(acc) + mins;
}

// ---- Q5_0 ---------------------------------------------------------------------
void QuantizeQ5_0Avx2(const float* x, void* vy, int64_t n, const float* importance) {
  if (importance) return QuantizeQ5_0(x, vy, n, importance);
  BlockQ5_0* y = static_cast<BlockQ5_0*>(vy);
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const float* xb = x + 32 * i;
    __m256 v[4];
    const float max = BlockSignedAbsMax(xb, v);
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = ToFp16(d);
    const __m256i q = RoundBlock(v, 0.0f, id, 16.5f, 31);
    PackNibbles(q, y[i].qs);
    const uint32_t qh = FifthBits(q);
    __builtin_memcpy(y[i].qh, &qh, 4);
  }
}

void DequantizeQ5_0Avx2(const void* vx, float* y, int64_t n) {
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(vx);
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const __m256i q = _mm256_sub_epi8(UnpackQ5(x[i].qs, x[i].qh), _mm256_set1_epi8(16));
    StoreScaled(q, Fp16ToF32(x[i].d), y + 32 * i);
  }
}

float DotF32Q5_0Avx2(const void* vx, const float* v, int64_t n) {
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(vx);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const __m256i q = _mm256_sub_epi8(UnpackQ5(x[i].qs, x[i].qh), _mm256_set1_epi8(16));
    acc = _mm256_fmadd_ps(BlockDotInt8(q, v + 32 * i), _mm256_set1_ps(Fp16ToF32(x[i].d)), acc);
  }
  return HorizontalSum(acc);
}

float VecDotQ5_0Q8_0Avx2(const void* vx, const void* vv, int64_t n) {
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(vx);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(vv);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const __m256i qx = _mm256_sub_epi8(UnpackQ5(x[i].qs, x[i].qh), _mm256_set1_epi8(16));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 s = _mm256_cvtepi32_ps(DotInt8(qx, qy));
    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)), acc);
  }
  return HorizontalSum(acc);
}

// ---- Q5_1 ---------------------------------------------------------------------
void QuantizeQ5_1Avx2(const float* x, void* vy, int64_t n, const float* importance) {
  if (importance) return QuantizeQ5_1(x, vy, n, importance);
  BlockQ5_1* y = static_cast<BlockQ5_1*>(vy);
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    __m256 v[4];
    float min, max;
    BlockMinMax(x + 32 * i, v, &min, &max);
    const float d = (max - min) / 31;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = ToFp16(d);
    y[i].m = ToFp16(min);
    // The scalar reference does not clamp Q5_1; 127 only mirrors the int8 cast's range.
    const __m256i q = RoundBlock(v, min, id, 0.5f, 127);
    PackNibbles(q, y[i].qs);
    const uint32_t qh = FifthBits(q);
    __builtin_memcpy(y[i].qh, &qh, 4);
  }
}

void DequantizeQ5_1Avx2(const void* vx, float* y, int64_t n) {
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(vx);
  for (int64_t i = 0; i < n / kQK5_1; ++i)
    StoreScaled(UnpackQ5(x[i].qs, x[i].qh), Fp16ToF32(x[i].d), Fp16ToF32(x[i].m), y + 32 * i);
}

float DotF32Q5_1Avx2(const void* vx, const float* v, int64_t n) {
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(vx);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    acc = _mm256_fmadd_ps(BlockDotInt8(UnpackQ5(x[i].qs, x[i].qh), v + 32 * i), _mm256_set1_ps(Fp16ToF32(x[i].d)), acc);
    acc = _mm256_fmadd_ps(BlockSum(v + 32 * i), _mm256_set1_ps(Fp16ToF32(x[i].m)), acc);
  }
  return HorizontalSum(acc);
}

float VecDotQ5_1Q8_1Avx2(const void* vx, const void* vv, int64_t n) {
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(vx);
  const BlockQ8_1* y = static_cast<const BlockQ8_1*>(vv);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 s = _mm256_cvtepi32_ps(DotUint8Int8(UnpackQ5(x[i].qs, x[i].qh), qy));
    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)), acc);
    mins += Fp16ToF32(x[i].m) * Fp16ToF32(y[i].s);
  }
  return HorizontalSum(acc) + mins;
}

// ---- Q8_1 ---------------------------------------------------------------------
void QuantizeQ8_1Avx2(const float* x, void* vy, int64_t n, const float*) {
  BlockQ8_1* y = static_cast<BlockQ8_1*>(vy);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    __m256i q[4];
    const float d = QuantizeBlockQ8(x + 32 * i, y[i].qs, q);
    y[i].d = ToFp16(d);
    const int sum = HorizontalSumInt(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    y[i].s = ToFp16(sum * d);
  }
}

// ---- IQ4_NL -------------------------------------------------------------------
void DequantizeIQ4_NLAvx2(const void* vx, float* y, int64_t n) {
  const BlockIQ4_NL* x = static_cast<const BlockIQ4_NL*>(vx);
  for (int64_t i = 0; i < n / kQK4_NL; ++i) StoreScaled(UnpackIQ4_NL(x[i].qs), Fp16ToF32(x[i].d), y + 32 * i);
}

float DotF32IQ4_NLAvx2(const void* vx, const float* v, int64_t n) {
  const BlockIQ4_NL* x = static_cast<const BlockIQ4_NL*>(vx);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_NL; ++i)
    acc = _mm256_fmadd_ps(BlockDotInt8(UnpackIQ4_NL(x[i].qs), v + 32 * i), _mm256_set1_ps(Fp16ToF32(x[i].d)), acc);
  return HorizontalSum(acc);
}

float VecDotIQ4_NLQ8_0Avx2(const void* vx, const void* vv, int64_t n) {
  const BlockIQ4_NL* x = static_cast<const BlockIQ4_NL*>(vx);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(vv);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_NL; ++i) {
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 s = _mm256_cvtepi32_ps(DotInt8(UnpackIQ4_NL(x[i].qs), qy));
    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)), acc);
  }
  return HorizontalSum(acc);
}

}  // namespace shardq::legacy
