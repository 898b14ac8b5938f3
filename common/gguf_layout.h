// Where everything goes in a GGUF v3 file, from the metadata and the tensor
// declarations alone: the serialized header (padded to the alignment) and every
// tensor's size and aligned offset. The streaming writer appends in this
// layout; the artifact builder writes tensors at these offsets in any order.
// Both produce the same bytes because both take the layout from here.
//
// Layout (little-endian): "GGUF", u32 version=3, u64 n_tensors, u64 n_kv;
// n_kv x {string key, u32 value type, value}; n_tensors x {string name,
// u32 n_dims, u64 ne[n_dims] (fastest-first), u32 ggml type, u64 offset};
// zero padding to `alignment`; tensor data, each starting at an aligned offset
// relative to the data start, zero-padded to the alignment after each tensor.
// Strings are u64 length + bytes; arrays are u32 element type + u64 count + items.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ggml_type.h"
#include "common/gguf_value.h"
#include "common/status.h"

namespace shardq {

struct GgufTensorDecl {
  std::string name;
  std::vector<int64_t> shape;  // outermost first (TensorInfo convention); written reversed as ne[]
  GgmlType type = GgmlType::F32;
};

struct GgufLayout {
  std::vector<uint8_t> header;   // magic .. tensor infos, zero-padded to data_offset
  uint64_t data_offset = 0;      // == header.size()
  uint32_t alignment = 32;
  std::vector<uint64_t> offsets; // per declaration, relative to data_offset
  std::vector<uint64_t> sizes;   // per declaration, packed bytes
  uint64_t file_bytes = 0;       // header + data + the final padding to the alignment
};

// Validates the declarations (unique names, known types, 1-4 positive
// dimensions, row lengths that fit the type's block size) and the metadata
// (general.alignment a power of two, array items of the declared type); errors
// start with `label` (the output path). `alignment` is used unless the metadata
// has general.alignment.
Result<GgufLayout> LayoutGguf(const std::string& label, const GgufMetadata& metadata,
                              const std::vector<GgufTensorDecl>& tensors, uint32_t alignment = 32);

// Serializes a metadata value the way the header does (for tests and tools).
void AppendGgufValue(const GgufValue& v, std::vector<uint8_t>* out);

}  // namespace shardq
