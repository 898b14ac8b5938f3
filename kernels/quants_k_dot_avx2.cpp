// AVX2 vec_dot of the K-quants against Q8_K activations (compiled with -mavx2
// -mfma -mf16c; selected at run time). Each block's integer sum is exact and
// the float step is the scalar reference's own expression, so the result equals
// the scalar kernel's bit for bit.
//
// _mm256_maddubs_epi16 wants an unsigned left operand, so every type is written
// as unsigned levels u (0..63) plus a constant shift: level = u - shift. The
// shift times Q8_K's bsums is subtracted in integers once per sub-block.
#include <immintrin.h>

#include "kernels/avx2_reduce.h"
#include "kernels/fp16.h"
#include "kernels/quants_k.h"
#include "kernels/quants_k_scales.h"

namespace shardq::kquant {
namespace {

int32_t HorizontalSum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

__m256i Load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// sum over 32 values of scale * u * q8 as 8 int32 lanes. Products of pairs stay
// below 2 * 63 * 128, so maddubs never saturates.
__m256i ScaledDot32(__m256i u, const int8_t* q8, __m256i scale16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, Load(q8)), scale16);
}

// One scale for all 32 values (sub-blocks of 32).
__m256i Scale32(int s) { return _mm256_set1_epi16(static_cast<int16_t>(s)); }
// Sub-blocks of 16: the first 16 products land in the low 128 bits.
__m256i Scale16x2(int lo, int hi) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(hi)), _mm_set1_epi16(static_cast<int16_t>(lo)));
}

// The 32 two-bit fields of qs[0..31] at `shift` as bytes 0..3.
__m256i TwoBits(__m256i qs, int shift) {
  return _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(3));
}


// Q6_K's unsigned levels (level + 32) of half h as four groups of 32 values in
// order: ql[0..31] low nibbles, ql[32..63] low, ql[0..31] high, ql[32..63] high;
// their top two bits are qh bits 0-1, 2-3, 4-5, 6-7.
void Q6Groups(const BlockQ6_K& b, int h, __m256i u[4]) {
  const __m256i low4 = _mm256_set1_epi8(0xF);
  const __m256i ql0 = Load(b.ql + 64 * h);
  const __m256i ql1 = Load(b.ql + 64 * h + 32);
  const __m256i qh = Load(b.qh + 32 * h);
  u[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4));
  u[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2));
  u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
  u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                         _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(0xC0))), 2));
}

using avx2::HorizontalSum;

// sum of (u - shift) * v and sum of v over `count` values (16 or 32) of u from byte `at`.
void LevelDot(__m256i u, int at, int count, float shift, const float* v, float* dot, float* vsum) {
  __m256 acc = _mm256_setzero_ps(), vs = _mm256_setzero_ps();
  const __m256 vshift = _mm256_set1_ps(shift);
  alignas(32) uint8_t bytes[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(bytes), u);
  for (int k = 0; k < count; k += 8) {
    const __m256 lv = _mm256_sub_ps(
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + at + k)))),
        vshift);
    const __m256 x = _mm256_loadu_ps(v + k);
    acc = _mm256_fmadd_ps(lv, x, acc);
    vs = _mm256_add_ps(vs, x);
  }
  *dot = HorizontalSum(acc);
  *vsum = HorizontalSum(vs);
}

}  // namespace

float VecDotQ2KQ8KAvx2(const void* vx, const void* vv, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(vx);
  const auto* v = static_cast<const BlockQ8_K*>(vv);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* sc = x[i].scales;
    int32_t summ = 0;
    for (int j = 0; j < 16; ++j) summ += (sc[j] >> 4) * v[i].bsums[j];
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i qs = Load(x[i].qs + 32 * h);
      for (int g = 0; g < 4; ++g) {
        const int m = 4 * h + g;  // group of 32 values = sub-blocks 2m, 2m+1
        acc = _mm256_add_epi32(acc, ScaledDot32(TwoBits(qs, 2 * g), v[i].qs + 32 * m,
                                                Scale16x2(sc[2 * m] & 0xF, sc[2 * m + 1] & 0xF)));
      }
    }
    const int32_t sumi = HorizontalSum(acc);
    sumf += v[i].d * (Fp16ToF32(x[i].d) * static_cast<float>(sumi) -
                      Fp16ToF32(x[i].dmin) * static_cast<float>(summ));
  }
  return sumf;
}

float VecDotQ3KQ8KAvx2(const void* vx, const void* vv, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(vx);
  const auto* v = static_cast<const BlockQ8_K*>(vv);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int scale[16];
    int32_t shift_sum = 0;  // level = u - 4
    for (int j = 0; j < 16; ++j) {
      scale[j] = GetScaleQ3(j, x[i].scales) - 32;
      shift_sum += scale[j] * v[i].bsums[j];
    }
    const __m256i hmask = Load(x[i].hmask);
    const __m256i one = _mm256_set1_epi8(1);
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i qs = Load(x[i].qs + 32 * h);
      for (int g = 0; g < 4; ++g) {
        const int m = 4 * h + g;
        // the high bit of value 32m + l is bit m of hmask[l]; set means +4
        const __m256i hbit = _mm256_and_si256(_mm256_srl_epi16(hmask, _mm_cvtsi32_si128(m)), one);
        const __m256i u = _mm256_or_si256(TwoBits(qs, 2 * g), _mm256_slli_epi16(hbit, 2));
        acc = _mm256_add_epi32(acc, ScaledDot32(u, v[i].qs + 32 * m, Scale16x2(scale[2 * m], scale[2 * m + 1])));
      }
    }
    const int32_t sumi = HorizontalSum(acc) - 4 * shift_sum;
    sumf += v[i].d * (Fp16ToF32(x[i].d) * static_cast<float>(sumi));
  }
  return sumf;
}

float VecDotQ4KQ8KAvx2(const void* vx, const void* vv, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(vx);
  const auto* v = static_cast<const BlockQ8_K*>(vv);
  const __m256i low4 = _mm256_set1_epi8(0xF);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], mn[8];
    int32_t summ = 0;
    for (int j = 0; j < 8; ++j) {
      GetScaleMinK4(j, x[i].scales, &sc[j], &mn[j]);
      summ += mn[j] * (v[i].bsums[2 * j] + v[i].bsums[2 * j + 1]);
    }
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 4; ++h) {
      const __m256i qs = Load(x[i].qs + 32 * h);
      const __m256i lo = _mm256_and_si256(qs, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qs, 4), low4);
      acc = _mm256_add_epi32(acc, ScaledDot32(lo, v[i].qs + 64 * h, Scale32(sc[2 * h])));
      acc = _mm256_add_epi32(acc, ScaledDot32(hi, v[i].qs + 64 * h + 32, Scale32(sc[2 * h + 1])));
    }
    const int32_t sumi = HorizontalSum(acc);
    sumf += v[i].d * (Fp16ToF32(x[i].d) * static_cast<float>(sumi) -
                      Fp16ToF32(x[i].dmin) * static_cast<float>(summ));
  }
  return sumf;
}

float VecDotQ5KQ8KAvx2(const void* vx, const void* vv, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(vx);
  const auto* v = static_cast<const BlockQ8_K*>(vv);
  const __m256i low4 = _mm256_set1_epi8(0xF);
  const __m256i one = _mm256_set1_epi8(1);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], mn[8];
    int32_t summ = 0;
    for (int j = 0; j < 8; ++j) {
      GetScaleMinK4(j, x[i].scales, &sc[j], &mn[j]);
      summ += mn[j] * (v[i].bsums[2 * j] + v[i].bsums[2 * j + 1]);
    }
    const __m256i qh = Load(x[i].qh);
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 4; ++h) {
      const __m256i qs = Load(x[i].qs + 32 * h);
      // fifth bits: bit 2h of qh[l] for the low nibbles, bit 2h+1 for the high
      const __m256i b_lo = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * h)), one);
      const __m256i b_hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * h + 1)), one);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(qs, low4), _mm256_slli_epi16(b_lo, 4));
      const __m256i hi =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs, 4), low4), _mm256_slli_epi16(b_hi, 4));
      acc = _mm256_add_epi32(acc, ScaledDot32(lo, v[i].qs + 64 * h, Scale32(sc[2 * h])));
      acc = _mm256_add_epi32(acc, ScaledDot32(hi, v[i].qs + 64 * h + 32, Scale32(sc[2 * h + 1])));
    }
    const int32_t sumi = HorizontalSum(acc);
    sumf += v[i].d * (Fp16ToF32(x[i].d) * static_cast<float>(sumi) -
                      Fp16ToF32(x[i].dmin) * static_cast<float>(summ));
  }
  return sumf;
}

float VecDotQ6KQ8KAvx2(const void* vx, const void* vv, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const auto* v = static_cast<const BlockQ8_K*>(vv);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const int8_t* sc = x[i].scales;
    int32_t shift_sum = 0;  // level = u - 32
    for (int j = 0; j < 16; ++j) shift_sum += sc[j] * v[i].bsums[j];
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      __m256i u[4];
      Q6Groups(x[i], h, u);
      for (int g = 0; g < 4; ++g) {
        const int m = 4 * h + g;
        acc = _mm256_add_epi32(acc, ScaledDot32(u[g], v[i].qs + 32 * m, Scale16x2(sc[2 * m], sc[2 * m + 1])));
      }
    }
    const int32_t sumi = HorizontalSum(acc) - 32 * shift_sum;
    sumf += v[i].d * (Fp16ToF32(x[i].d) * static_cast<float>(sumi));
  }
  return sumf;
}

// ---- dot_f32: row . float vector, per sub-block as the scalar reference ----------
float DotF32Q4KAvx2(const void* vx, const float* v, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(vx);
  const __m256i low4 = _mm256_set1_epi8(0xF);
  double sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i, v += kQK_K) {
    const float d = Fp16ToF32(x[i].d), dmin = Fp16ToF32(x[i].dmin);
    for (int h = 0; h < 4; ++h) {
      const __m256i qs = Load(x[i].qs + 32 * h);
      const __m256i u[2] = {_mm256_and_si256(qs, low4), _mm256_and_si256(_mm256_srli_epi16(qs, 4), low4)};
      for (int s = 0; s < 2; ++s) {
        const int j = 2 * h + s;
        uint8_t sc, m;
        GetScaleMinK4(j, x[i].scales, &sc, &m);
        float dot, vsum;
        LevelDot(u[s], 0, 32, 0.0f, v + 32 * j, &dot, &vsum);
        sum += static_cast<double>(d * static_cast<float>(sc)) * dot -
               static_cast<double>(dmin * static_cast<float>(m)) * vsum;
      }
    }
  }
  return static_cast<float>(sum);
}

float DotF32Q6KAvx2(const void* vx, const float* v, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  double sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i, v += kQK_K) {
    const float d = Fp16ToF32(x[i].d);
    for (int h = 0; h < 2; ++h) {
      __m256i u[4];
      Q6Groups(x[i], h, u);
      for (int g = 0; g < 4; ++g) {
        for (int s = 0; s < 2; ++s) {
          const int j = 2 * (4 * h + g) + s;  // sub-block of 16
          float dot, vsum;
          LevelDot(u[g], 16 * s, 16, 32.0f, v + 16 * j, &dot, &vsum);
          sum += static_cast<double>(d * static_cast<float>(x[i].scales[j])) * dot;
        }
      }
    }
  }
  return static_cast<float>(sum);
}

}  // namespace shardq::kquant
