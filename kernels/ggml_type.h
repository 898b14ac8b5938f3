// ggml's tensor type ids, as they appear in GGUF tensor infos. The numbers are
// part of the file format (ggml.h's enum ggml_type) and must never change.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shardq {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
};

// "Q4_K", "F32", ... (upper case, as llama.cpp prints them); "?" for ids shardq does not know.
const char* GgmlTypeName(GgmlType type);
// Accepts either case ("q4_k", "Q4_K"). nullopt for unknown names.
std::optional<GgmlType> ParseGgmlType(std::string_view name);
// True for ids listed above (a GGUF may carry ids we cannot decode: those are rejected by readers).
bool IsKnownGgmlType(uint32_t id);

}  // namespace shardq
