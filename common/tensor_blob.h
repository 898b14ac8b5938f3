// One packed tensor as a worker hands it to rank 0 and the state store keeps
// it: bytes in a block format, with the metrics of its quantization and the
// CRC-32C the worker computed, verified on every hop.
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
};

// The blob's binary record (docs/formats.md, "Tensor blob"): used for RocksDB
// values and for MPI messages alike. Decode verifies the CRC-32C of the bytes
// and the record's own framing; errors name `label` and the tensor.
std::vector<uint8_t> EncodeTensorBlob(const TensorBlob& blob);
Result<TensorBlob> DecodeTensorBlob(const uint8_t* data, size_t n, const std::string& label);

}  // namespace shardq
