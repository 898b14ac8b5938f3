#include "common/gguf_layout.h"

#include <set>

#include "common/byte_io.h"
#include "kernels/block_format.h"

namespace shardq {
namespace {

constexpr uint32_t kGgufVersion = 3;

void PutString(std::vector<uint8_t>* out, const std::string& s) {
  AppendPod<uint64_t>(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

void PutScalar(const GgufValue& v, std::vector<uint8_t>* out) {
  switch (v.type) {
    case GgufValueType::UINT8: AppendPod<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case GgufValueType::INT8: AppendPod<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case GgufValueType::UINT16: AppendPod<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case GgufValueType::INT16: AppendPod<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case GgufValueType::UINT32: AppendPod<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case GgufValueType::INT32: AppendPod<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case GgufValueType::FLOAT32: AppendPod<float>(out, static_cast<float>(v.f)); break;
    case GgufValueType::BOOL: AppendPod<uint8_t>(out, v.b ? 1 : 0); break;
    case GgufValueType::STRING: PutString(out, v.s); break;
    case GgufValueType::UINT64: AppendPod<uint64_t>(out, v.u); break;
    case GgufValueType::INT64: AppendPod<int64_t>(out, v.i); break;
    case GgufValueType::FLOAT64: AppendPod<double>(out, v.f); break;
    case GgufValueType::ARRAY:
      AppendPod<uint32_t>(out, static_cast<uint32_t>(v.array_type));
      AppendPod<uint64_t>(out, v.arr.size());
      for (const auto& item : v.arr) PutScalar(item, out);
      break;
  }
}

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void AppendGgufValue(const GgufValue& v, std::vector<uint8_t>* out) { PutScalar(v, out); }

Result<GgufLayout> LayoutGguf(const std::string& label, const GgufMetadata& metadata,
                              const std::vector<GgufTensorDecl>& tensors, uint32_t alignment) {
  GgufLayout layout;
  layout.alignment = alignment;
  if (const GgufValue* a = metadata.Find("general.alignment")) {
    if (!a->is_integer() || a->as_int() <= 0 || (a->as_int() & (a->as_int() - 1)) != 0)
      return Status::InvalidArgument(label + ": general.alignment must be a power of two");
    layout.alignment = static_cast<uint32_t>(a->as_int());
  }
  for (const auto& kv : metadata.entries()) {
    const GgufValue& v = kv.second;
    if (v.type != GgufValueType::ARRAY) continue;
    for (const auto& item : v.arr) {
      if (item.type != v.array_type)
        return Status::InvalidArgument(label + ": metadata '" + kv.first +
                                       "': array items must all have the declared type " +
                                       GgufValueTypeName(v.array_type));
    }
  }

  // Sizes and aligned offsets of every tensor, from declarations alone.
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (!names.insert(t.name).second) return Status::InvalidArgument(label + ": duplicate tensor name '" + t.name + "'");
    const BlockFormat* fmt = FindBlockFormat(t.type);
    if (!fmt) return Status::Unsupported(label + ": tensor '" + t.name + "': cannot write type " + GgmlTypeName(t.type));
    if (t.shape.empty() || t.shape.size() > 4)
      return Status::InvalidArgument(label + ": tensor '" + t.name + "': needs 1 to 4 dimensions");
    int64_t n = 1;
    for (int64_t d : t.shape) {
      if (d <= 0) return Status::InvalidArgument(label + ": tensor '" + t.name + "': dimension must be > 0");
      n *= d;
    }
    const int64_t row = t.shape.back();
    if (row % fmt->block_size != 0) {
      return Status::InvalidArgument(label + ": tensor '" + t.name + "': row length " + std::to_string(row) +
                                     " is not a multiple of " + fmt->name + "'s block size " +
                                     std::to_string(fmt->block_size));
    }
    const uint64_t bytes = static_cast<uint64_t>(fmt->row_bytes(row)) * (n / row);
    offset = AlignUp(offset, layout.alignment);
    layout.offsets.push_back(offset);
    layout.sizes.push_back(bytes);
    offset += bytes;
  }

  std::vector<uint8_t>& header = layout.header;
  header.insert(header.end(), {'G', 'G', 'U', 'F'});
  AppendPod<uint32_t>(&header, kGgufVersion);
  AppendPod<uint64_t>(&header, tensors.size());
  AppendPod<uint64_t>(&header, metadata.size());
  for (const auto& kv : metadata.entries()) {
    PutString(&header, kv.first);
    AppendPod<uint32_t>(&header, static_cast<uint32_t>(kv.second.type));
    PutScalar(kv.second, &header);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    PutString(&header, t.name);
    AppendPod<uint32_t>(&header, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) AppendPod<uint64_t>(&header, *it);
    AppendPod<uint32_t>(&header, static_cast<uint32_t>(t.type));
    AppendPod<uint64_t>(&header, layout.offsets[i]);
  }
  layout.data_offset = AlignUp(header.size(), layout.alignment);
  header.resize(layout.data_offset, 0);
  layout.file_bytes = layout.data_offset + AlignUp(offset, layout.alignment);
  return layout;
}

}  // namespace shardq
