#include "kernels/block_format.h"

namespace shardq {
namespace {

BlockFormatTable Build(bool simd) {
  BlockFormatTable t;
  RegisterFloatFormats(t, simd);
  RegisterLegacyFormats(t, simd);
  RegisterKQuantFormats(t, simd);
  RegisterTernaryFormats(t, simd);
  return t;
}

const BlockFormat* Lookup(const BlockFormatTable& t, GgmlType type) {
  const auto id = static_cast<uint32_t>(type);
  if (id >= BlockFormatTable::kMaxTypes || !t.present[id]) return nullptr;
  return &t.entries[id];
}

}  // namespace

const BlockFormat* FindBlockFormat(GgmlType type) {
  static const BlockFormatTable table = Build(/*simd=*/true);
  return Lookup(table, type);
}

const BlockFormat* FindReferenceBlockFormat(GgmlType type) {
  static const BlockFormatTable table = Build(/*simd=*/false);
  return Lookup(table, type);
}

}  // namespace shardq
