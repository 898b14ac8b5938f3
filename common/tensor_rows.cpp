#include "common/tensor_rows.h"

namespace shardq {

Result<const BlockFormat*> CheckDecodable(const TensorInfo& t) {
  const BlockFormat* fmt = FindBlockFormat(t.type);
  if (!fmt || !fmt->dequantize_row) {
    return Status::Unsupported(t.file + ": tensor '" + t.name + "': cannot decode type " + GgmlTypeName(t.type));
  }
  const int64_t row = t.row_length();
  if (row % fmt->block_size != 0) {
    return Status::Corruption(t.file + ": tensor '" + t.name + "': row length " + std::to_string(row) +
                              " is not a multiple of " + fmt->name + "'s block size " +
                              std::to_string(fmt->block_size));
  }
  const uint64_t want = static_cast<uint64_t>(fmt->row_bytes(row)) * t.n_rows();
  if (want != t.nbytes) {
    return Status::Corruption(t.file + ": tensor '" + t.name + "': shape " + t.shape_string() + " of " +
                              fmt->name + " needs " + std::to_string(want) + " bytes, the file gives " +
                              std::to_string(t.nbytes));
  }
  return fmt;
}

Result<TensorRows> TensorRows::Open(TensorSource& source, const TensorInfo& t) {
  TensorRows r;
  SHARDQ_ASSIGN_OR_RETURN(r.fmt_, CheckDecodable(t));
  SHARDQ_ASSIGN_OR_RETURN(ByteSpan bytes, source.RawBytes(t));
  r.t_ = &t;
  r.data_ = bytes.data;
  r.rows_ = t.n_rows();
  r.row_length_ = t.row_length();
  r.stored_row_bytes_ = r.fmt_->row_bytes(r.row_length_);
  if (t.fix == LayoutFix::kRopeHalfToInterleaved) {
    const int64_t heads = t.fix_heads;
    // The same check and words as ReadF32's permutation (tensor_source.cpp).
    if (heads <= 0 || r.rows_ % heads != 0 || (r.rows_ / heads) % 2 != 0) {
      return Status::InvalidArgument(t.file + ": tensor '" + t.name + "': " + std::to_string(r.rows_) +
                                     " rows cannot be split into " + std::to_string(heads) +
                                     " heads of even size for the RoPE permutation");
    }
    r.head_dim_ = r.rows_ / heads;
  }
  return r;
}

const float* TensorRows::StoredRow(int64_t stored, float* scratch) const {
  const uint8_t* p = data_ + static_cast<size_t>(stored) * stored_row_bytes_;
  // F32 rows are read in place when the file puts them on a float boundary (a
  // safetensors header may leave them unaligned; then they are copied).
  if (t_->type == GgmlType::F32 && reinterpret_cast<uintptr_t>(p) % alignof(float) == 0)
    return reinterpret_cast<const float*>(p);
  fmt_->dequantize_row(p, scratch, row_length_);
  return scratch;
}

const float* TensorRows::Row(int64_t r, float* scratch) const {
  int64_t stored = r;
  if (head_dim_ > 0) {
    // Row (h, j, half) of the interleaved layout is stored row (h, half, j).
    const int64_t h = r / head_dim_, within = r % head_dim_;
    stored = h * head_dim_ + (within % 2) * (head_dim_ / 2) + within / 2;
  }
  return StoredRow(stored, scratch);
}

Status TensorRows::FirstNonFinite(float* scratch) const {
  for (int64_t s = 0; s < rows_; ++s) {
    const float* row = StoredRow(s, scratch);
    SHARDQ_RETURN_IF_ERROR(CheckFinite(*t_, row, row_length_, s * row_length_));
  }
  return Status::OK();
}

}  // namespace shardq
