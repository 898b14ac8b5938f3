// F32, F16 and BF16 rows: not quantized, but entries of the same table so that
// readers and writers treat every stored type alike.
#include <cstring>

#include "kernels/block_format.h"
#include "kernels/fp16.h"

namespace shardq {
namespace {

// Element i of a row that may sit at any byte offset: safetensors data starts
// right after a header of any length, so an F16/BF16 tensor handed out of the
// mapped file can be misaligned, and loading it through a uint16_t* (or a
// float*) is undefined behaviour (UBSan, tests/unit/test_readers_safetensors).
// memcpy compiles to the same single load.
template <typename T>
T LoadUnaligned(const void* row, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const uint8_t*>(row) + sizeof(T) * i, sizeof(T));
  return v;
}

void QuantizeF32(const float* x, void* y, int64_t n, const float*) {
  std::memcpy(y, x, sizeof(float) * n);
}
void DequantizeF32(const void* x, float* y, int64_t n) { std::memcpy(y, x, sizeof(float) * n); }
float DotF32(const void* x, const float* v, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(LoadUnaligned<float>(x, i)) * v[i];
  return static_cast<float>(sum);
}

void QuantizeF16(const float* x, void* y, int64_t n, const float*) {
  uint16_t* out = static_cast<uint16_t*>(y);
  for (int64_t i = 0; i < n; ++i) out[i] = F32ToFp16(x[i]);
}
void DequantizeF16(const void* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Fp16ToF32(LoadUnaligned<uint16_t>(x, i));
}
float DotF16(const void* x, const float* v, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(Fp16ToF32(LoadUnaligned<uint16_t>(x, i))) * v[i];
  return static_cast<float>(sum);
}

void QuantizeBF16(const float* x, void* y, int64_t n, const float*) {
  uint16_t* out = static_cast<uint16_t*>(y);
  for (int64_t i = 0; i < n; ++i) out[i] = F32ToBf16(x[i]);
}
void DequantizeBF16(const void* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Bf16ToF32(LoadUnaligned<uint16_t>(x, i));
}
float DotBF16(const void* x, const float* v, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(Bf16ToF32(LoadUnaligned<uint16_t>(x, i))) * v[i];
  return static_cast<float>(sum);
}

}  // namespace

void RegisterFloatFormats(BlockFormatTable& table, bool simd) {
  BlockFormat f32;
  f32.type = GgmlType::F32; f32.name = "F32"; f32.block_size = 1; f32.block_bytes = 4;
  f32.quantize_row = QuantizeF32; f32.dequantize_row = DequantizeF32; f32.dot_f32 = DotF32;
  table.Set(f32);

  BlockFormat f16;
  f16.type = GgmlType::F16; f16.name = "F16"; f16.block_size = 1; f16.block_bytes = 2;
  f16.quantize_row = QuantizeF16; f16.dequantize_row = DequantizeF16; f16.dot_f32 = DotF16;
  table.Set(f16);

  BlockFormat bf16;
  bf16.type = GgmlType::BF16; bf16.name = "BF16"; bf16.block_size = 1; bf16.block_bytes = 2;
  bf16.quantize_row = QuantizeBF16; bf16.dequantize_row = DequantizeBF16; bf16.dot_f32 = DotBF16;
  table.Set(bf16);
}

}  // namespace shardq
