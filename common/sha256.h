// SHA-256 (OpenSSL's libcrypto): manifests, tensor fingerprints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shardq {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(const void* data, size_t n);
  std::string HexDigest();  // finishes; lower-case hex
  std::vector<uint8_t> Digest();  // finishes; the 32 bytes

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(const void* data, size_t n);
// Lower-case hex of any bytes (a digest from Digest()).
std::string HexOfBytes(const std::vector<uint8_t>& bytes);

}  // namespace shardq
