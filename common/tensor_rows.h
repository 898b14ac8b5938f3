// Row-by-row access to one tensor as F32 in llama.cpp's layout, straight from
// the mapped file. `shardq quantize` streams through it instead of ReadF32:
// an F32 tensor's rows are read in place (no copy of the tensor), another
// stored type is decoded one row at a time into the caller's scratch, and the
// RoPE row permutation is an index map instead of a moved copy. The rows are
// the values ReadF32 gives, and Open checks what ReadF32 checks.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "common/tensor_source.h"
#include "kernels/block_format.h"

namespace shardq {

class TensorRows {
 public:
  // Fails (naming the file and the tensor) where ReadF32 would, except for
  // non-finite values: the caller checks each row (kernels' AllFinite) and
  // asks FirstNonFinite for the error.
  static Result<TensorRows> Open(TensorSource& source, const TensorInfo& t);

  int64_t rows() const { return rows_; }
  int64_t row_length() const { return row_length_; }
  // Whether row r of the layout is stored row r (no permutation), so a run of
  // rows is one stored byte range.
  bool in_stored_order() const { return head_dim_ == 0; }
  size_t stored_row_bytes() const { return stored_row_bytes_; }

  // Row r of llama.cpp's layout. `scratch` (row_length floats) receives the
  // decoded row unless the stored type is F32; the pointer is valid while the
  // source lives and its pages are not released.
  const float* Row(int64_t r, float* scratch) const;

  // The error ReadF32 gives for this tensor's first non-finite value (stored
  // order); OK when every value is finite.
  Status FirstNonFinite(float* scratch) const;

 private:
  const float* StoredRow(int64_t stored, float* scratch) const;

  const TensorInfo* t_ = nullptr;
  const BlockFormat* fmt_ = nullptr;
  const uint8_t* data_ = nullptr;
  size_t stored_row_bytes_ = 0;
  int64_t rows_ = 0, row_length_ = 0;
  int64_t head_dim_ = 0;  // > 0: the RoPE permutation applies
};

// What ReadF32 checks before decoding: a type the block format table decodes,
// a row length that fits its block size, and the byte size that shape needs.
Result<const BlockFormat*> CheckDecodable(const TensorInfo& t);

}  // namespace shardq
