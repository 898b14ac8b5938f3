// One packed tensor as a worker hands it to rank 0 and the state store keeps
// it: bytes in a block format, with the metrics of its quantization and the
// CRC-32C the worker computed, verified on every hop.
//
// A blob may also stand for bytes that are elsewhere: a worker that reaches the
// job's artifact temp file writes the tensor at its planned offset there and
// hands rank 0 only this record (`in_place`: no bytes, their size, CRC-32C and
// SHA-256), so rank 0 and the state store never carry the packed bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ggml_type.h"
#include "common/status.h"

namespace shardq {

struct TensorMetrics {
  double sum_sq_err = 0, sum_sq_ref = 0, max_abs_err = 0;
  int64_t count = 0;
};

struct TensorBlob {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> shape;  // outermost first
  std::vector<uint8_t> bytes;  // packed in `type`
  uint32_t crc32c = 0;         // of `bytes`, computed by the worker that packed them
  TensorMetrics metrics;
  std::string reason;          // why this type (preset, mix, fallback, override)
  // In place: `bytes` is empty; the tensor's `in_place_size` bytes are at its
  // offset in the job's artifact temp file, with CRC-32C `crc32c` and SHA-256
  // `sha256` (32 bytes), both computed by the worker from the bytes it wrote.
  bool in_place = false;
  uint64_t in_place_size = 0;
  std::vector<uint8_t> sha256;

  uint64_t size() const { return in_place ? in_place_size : bytes.size(); }
};

// The blob's binary record (docs/formats.md, "Tensor blob"; version 1 with the
// bytes, version 2 in place): used for RocksDB values and for MPI messages
// alike. Decode verifies the CRC-32C of the bytes (of a version 1 record) and
// the record's own framing; errors name `label` and the tensor.
std::vector<uint8_t> EncodeTensorBlob(const TensorBlob& blob);
Result<TensorBlob> DecodeTensorBlob(const uint8_t* data, size_t n, const std::string& label);

}  // namespace shardq
