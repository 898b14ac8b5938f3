// The block format table: one entry per ggml type, indexed by type id, the way
// ggml's type traits are. Presets, fallbacks and overrides are data that pick
// entries from it; nothing else switches on the type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/ggml_type.h"

namespace shardq {

struct BlockFormat {
  GgmlType type = GgmlType::F32;
  const char* name = "";
  int64_t block_size = 1;  // values per block (1 for F32/F16/BF16)
  size_t block_bytes = 4;  // bytes per block
  bool quantized = false;  // false for F32/F16/BF16
  bool uses_importance = false;  // quantize_row honours the importance vector

  // Encodes n values (n % block_size == 0) into n / block_size blocks.
  // importance: n non-negative weights (calibration mean x^2), or nullptr.
  void (*quantize_row)(const float* x, void* y, int64_t n, const float* importance) = nullptr;
  // Decodes n values.
  void (*dequantize_row)(const void* x, float* y, int64_t n) = nullptr;
  // Dot product of one encoded row of n values with a float vector.
  float (*dot_f32)(const void* x, const float* v, int64_t n) = nullptr;
  // Activation format for the integer dot product (Q8_0 for the legacy types,
  // Q8_K for the K-quants and ternary types); F32 when there is none.
  GgmlType vec_dot_type = GgmlType::F32;
  // Dot product of one encoded row with one row encoded as vec_dot_type.
  float (*vec_dot)(const void* x, const void* v, int64_t n) = nullptr;

  double bits_per_weight() const { return 8.0 * static_cast<double>(block_bytes) / block_size; }
  size_t row_bytes(int64_t n) const { return static_cast<size_t>(n / block_size) * block_bytes; }
};

// The fastest implementation this CPU runs (SIMD chosen at run time).
// nullptr for types shardq cannot encode or decode.
const BlockFormat* FindBlockFormat(GgmlType type);
// The scalar reference implementation of the same entry (tests compare the two).
const BlockFormat* FindReferenceBlockFormat(GgmlType type);

// Table construction: each family of formats fills its own entries.
// `simd` is false for the reference table and true for the dispatched one
// (each family decides which SIMD paths the CPU supports).
struct BlockFormatTable;
void RegisterFloatFormats(BlockFormatTable& table, bool simd);    // F32, F16, BF16
void RegisterLegacyFormats(BlockFormatTable& table, bool simd);   // Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 IQ4_NL
void RegisterKQuantFormats(BlockFormatTable& table, bool simd);   // Q2_K..Q6_K, Q8_K
void RegisterTernaryFormats(BlockFormatTable& table, bool simd);  // TQ1_0 TQ2_0

struct BlockFormatTable {
  static constexpr int kMaxTypes = 40;
  BlockFormat entries[kMaxTypes];
  bool present[kMaxTypes] = {};
  void Set(const BlockFormat& f) {
    const auto id = static_cast<uint32_t>(f.type);
    entries[id] = f;
    present[id] = true;
  }
};

}  // namespace shardq
