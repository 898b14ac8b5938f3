// GGUF (v3, and v2 which has the same layout) reader. Layout, little-endian:
//   magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
//   n_kv x {string key, u32 value type, value}  (string = u64 length + bytes;
//     array = u32 element type + u64 count + elements, arrays may nest),
//   n_tensors x {string name, u32 n_dims, u64 ne[n_dims] (fastest first),
//     u32 ggml type, u64 offset relative to the data section},
//   padding to general.alignment (default 32), then the data section.
// GgufFile validates all of it at Open and is itself the tensor source.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/gguf_value.h"
#include "common/mapped_file.h"
#include "common/status.h"
#include "common/tensor_source.h"

namespace shardq {

// Values per block and bytes per block of every type IsKnownGgmlType accepts
// (from ggml's type traits; needed to size tensors whose format we may not decode).
// False for unknown ids.
bool GgmlTypeGeometry(GgmlType type, int64_t* block_size, uint64_t* block_bytes);

class GgufFile : public TensorSource {
 public:
  static constexpr uint64_t kDefaultAlignment = 32;

  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute start of the data section
  uint64_t file_size() const { return file_->size(); }
  const GgufMetadata& metadata() const { return metadata_; }

  // Tensors in file order; shape outermost first, offsets absolute.
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  Result<ByteSpan> RawBytes(const TensorInfo& t) override;
  void Release(const TensorInfo& t) override;

 private:
  GgufFile() = default;
  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  GgufMetadata metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace shardq
