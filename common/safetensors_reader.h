// Safetensors (single file, or sharded with model.safetensors.index.json) as a
// tensor source. Layout: u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the data; offsets are relative to the first byte after the header.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "common/status.h"
#include "common/tensor_source.h"

namespace shardq {

// Parses and validates one file's header: dtypes (F32, F16, BF16), shape vs
// byte size, offsets inside the file, no overlaps, no duplicate names.
// Tensors keep their stored names (name == source_name) and are listed in data order.
Result<std::vector<TensorInfo>> ParseSafetensorsHeader(const MappedFile& file);

class SafetensorsSource : public TensorSource {
 public:
  // `path` is a .safetensors file or a *.safetensors.index.json whose weight_map
  // names the shards (relative to the index's folder).
  static Result<std::unique_ptr<SafetensorsSource>> Open(const std::string& path);

  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  Result<ByteSpan> RawBytes(const TensorInfo& t) override;
  void Release(const TensorInfo& t) override;

  // The model opener renames HF tensors to GGUF names and sets layout fixes.
  std::vector<TensorInfo>* mutable_tensors() { return &tensors_; }

 private:
  std::map<std::string, std::unique_ptr<MappedFile>> files_;  // by path
  std::vector<TensorInfo> tensors_;
};

}  // namespace shardq
