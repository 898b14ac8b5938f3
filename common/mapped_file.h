// A read-only memory map of one whole file (RAII). Tensor bytes are handed out
// zero-copy from it, and pages a consumer is done with can be dropped again so
// a rank streaming through a model keeps its RSS near one tensor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace shardq {

class MappedFile {
 public:
  // IOError naming the file when it cannot be opened, stat'ed or mapped.
  // An empty file maps to data() == nullptr, size() == 0.
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // True when [offset, offset + len) lies inside the file (overflow-safe).
  bool Contains(uint64_t offset, uint64_t len) const {
    return offset <= size_ && len <= size_ - offset;
  }

  // MADV_DONTNEED on the pages covering [offset, offset + len): the mapping
  // stays valid (a later read faults the bytes back in from the file).
  void Release(uint64_t offset, uint64_t len) const;

 private:
  MappedFile(std::string path, const uint8_t* data, uint64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace shardq
