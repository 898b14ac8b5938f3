// Streaming GGUF v3 writer. Every tensor's type and shape is declared up front,
// so the header (metadata + tensor infos with their aligned offsets) is written
// first and tensor data then streams in, one tensor at a time, to a temp file
// that is renamed over the output path only by Finish().
//
// Layout (little-endian): "GGUF", u32 version=3, u64 n_tensors, u64 n_kv;
// n_kv x {string key, u32 value type, value}; n_tensors x {string name,
// u32 n_dims, u64 ne[n_dims] (fastest-first), u32 ggml type, u64 offset};
// zero padding to `alignment`; tensor data, each starting at an aligned offset
// relative to the data start, zero-padded to the alignment after each tensor.
// Strings are u64 length + bytes; arrays are u32 element type + u64 count + items.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "common/ggml_type.h"
#include "common/gguf_value.h"
#include "common/status.h"

namespace shardq {

struct GgufTensorDecl {
  std::string name;
  std::vector<int64_t> shape;  // outermost first (TensorInfo convention); written reversed as ne[]
  GgmlType type = GgmlType::F32;
};

class GgufWriter {
 public:
  struct Options {
    uint32_t alignment = 32;  // general.alignment in the metadata, if present, wins
    FileSystem* fs = FileSystem::Default();
  };

  // Validates the declarations (unique names, known types, row lengths that fit
  // the type's block size) and writes the header to a temp file beside `path`.
  static Result<std::unique_ptr<GgufWriter>> Create(const std::string& path,
                                                    const GgufMetadata& metadata,
                                                    std::vector<GgufTensorDecl> tensors,
                                                    const Options& options);
  static Result<std::unique_ptr<GgufWriter>> Create(const std::string& path,
                                                    const GgufMetadata& metadata,
                                                    std::vector<GgufTensorDecl> tensors) {
    return Create(path, metadata, std::move(tensors), Options());
  }

  // Bytes of tensor `index` (declaration order); must come in order, exactly sized.
  Status WriteTensor(size_t index, const void* data, uint64_t nbytes);
  // All tensors written: pad, fsync, rename over the output path.
  Status Finish();

  uint64_t tensor_bytes(size_t index) const { return sizes_[index]; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t bytes_written() const { return file_->bytes_written(); }
  size_t tensor_count() const { return tensors_.size(); }

 private:
  GgufWriter() = default;
  Status Pad();

  std::unique_ptr<AtomicFile> file_;
  std::vector<GgufTensorDecl> tensors_;
  std::vector<uint64_t> sizes_;
  std::vector<uint64_t> offsets_;  // relative to the data start
  uint64_t data_offset_ = 0;
  uint32_t alignment_ = 32;
  size_t next_ = 0;
};

// Serializes metadata values the way the writer does (for tests and tools).
void AppendGgufValue(const GgufValue& v, std::vector<uint8_t>* out);

}  // namespace shardq
