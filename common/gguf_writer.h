// Streaming GGUF v3 writer. Every tensor's type and shape is declared up front,
// so the header (metadata + tensor infos with their aligned offsets) is written
// first and tensor data then streams in, one tensor at a time, to a temp file
// that is renamed over the output path only by Finish(). The layout is gguf_layout.h's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "common/gguf_layout.h"
#include "kernels/ggml_type.h"
#include "common/gguf_value.h"
#include "common/status.h"

namespace shardq {

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

  uint64_t tensor_bytes(size_t index) const { return layout_.sizes[index]; }
  uint64_t data_offset() const { return layout_.data_offset; }
  uint64_t bytes_written() const { return file_->bytes_written(); }
  size_t tensor_count() const { return tensors_.size(); }

 private:
  GgufWriter() = default;
  Status Pad();

  std::unique_ptr<AtomicFile> file_;
  std::vector<GgufTensorDecl> tensors_;
  GgufLayout layout_;
  size_t next_ = 0;
};

}  // namespace shardq
