// Little-endian appends and a bounds-checked reader for shardq's own binary
// records (the statistics file, rank-to-rank messages, GGUF headers). x86-64
// and every target we build for are little-endian, so values are copied as is.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common/status.h"

namespace shardq {

template <typename T>
void AppendPod(std::vector<uint8_t>* out, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

template <typename T>
void AppendPods(std::vector<uint8_t>* out, const std::vector<T>& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  const size_t at = out->size();
  out->resize(at + sizeof(T) * v.size());
  if (!v.empty()) std::memcpy(out->data() + at, v.data(), sizeof(T) * v.size());
}

// Reads values in order; running past the end is a Corruption naming `label`,
// what was being read and the offset.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, uint64_t size, std::string label)
      : data_(data), size_(size), label_(std::move(label)) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  template <typename T>
  Status Read(T* v, const char* what) {
    if (remaining() < sizeof(T)) return Truncated(what);
    std::memcpy(v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::OK();
  }
  template <typename T>
  Status ReadPods(std::vector<T>* v, uint64_t count, const char* what) {
    if (count > remaining() / sizeof(T)) return Truncated(what);
    v->resize(count);
    if (count) std::memcpy(v->data(), data_ + pos_, sizeof(T) * count);
    pos_ += sizeof(T) * count;
    return Status::OK();
  }
  Status Skip(uint64_t len, const char* what) {
    if (len > remaining()) return Truncated(what);
    pos_ += len;
    return Status::OK();
  }
  Status ReadString(std::string* s, uint64_t len, const char* what) {
    if (len > remaining()) return Truncated(what);
    s->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::OK();
  }

 private:
  Status Truncated(const char* what) const {
    return Status::Corruption(label_ + ": truncated while reading " + what + " at byte " + std::to_string(pos_));
  }
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string label_;
};

}  // namespace shardq
