#include "kernels/ggml_type.h"

#include <cctype>

namespace shardq {
namespace {

struct NamedType {
  GgmlType type;
  const char* name;
};

constexpr NamedType kTypes[] = {
    {GgmlType::F32, "F32"},     {GgmlType::F16, "F16"},     {GgmlType::Q4_0, "Q4_0"},
    {GgmlType::Q4_1, "Q4_1"},   {GgmlType::Q5_0, "Q5_0"},   {GgmlType::Q5_1, "Q5_1"},
    {GgmlType::Q8_0, "Q8_0"},   {GgmlType::Q8_1, "Q8_1"},   {GgmlType::Q2_K, "Q2_K"},
    {GgmlType::Q3_K, "Q3_K"},   {GgmlType::Q4_K, "Q4_K"},   {GgmlType::Q5_K, "Q5_K"},
    {GgmlType::Q6_K, "Q6_K"},   {GgmlType::Q8_K, "Q8_K"},   {GgmlType::IQ4_NL, "IQ4_NL"},
    {GgmlType::I8, "I8"},       {GgmlType::I16, "I16"},     {GgmlType::I32, "I32"},
    {GgmlType::I64, "I64"},     {GgmlType::F64, "F64"},     {GgmlType::BF16, "BF16"},
    {GgmlType::TQ1_0, "TQ1_0"}, {GgmlType::TQ2_0, "TQ2_0"},
};

}  // namespace

const char* GgmlTypeName(GgmlType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return "?";
}

std::optional<GgmlType> ParseGgmlType(std::string_view name) {
  for (const auto& t : kTypes) {
    std::string_view want(t.name);
    if (want.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < want.size() && same; ++i)
      same = std::toupper(static_cast<unsigned char>(name[i])) == want[i];
    if (same) return t.type;
  }
  return std::nullopt;
}

bool IsKnownGgmlType(uint32_t id) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == id) return true;
  return false;
}

}  // namespace shardq
