// SHA-256 (OpenSSL's libcrypto): manifests, tensor fingerprints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace shardq {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(const void* data, size_t n);
  std::string HexDigest();  // finishes; lower-case hex

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(const void* data, size_t n);

}  // namespace shardq
