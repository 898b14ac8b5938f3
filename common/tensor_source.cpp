#include "common/tensor_source.h"

#include <cmath>
#include <cstring>

#include "common/tensor_rows.h"
#include "kernels/block_format.h"

namespace shardq {
namespace {

// HF rotate-half -> interleaved pairs, per head: row (h, half, j) moves to
// (h, j, half), i.e. reshape(n_head, 2, head_dim/2, in).swapaxes(1, 2).
Status PermuteRopeRows(const TensorInfo& t, std::vector<float>* data) {
  const int64_t rows = t.n_rows();
  const int64_t cols = t.row_length();
  const int64_t heads = t.fix_heads;
  if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
    return Status::InvalidArgument("tensor '" + t.name + "': " + std::to_string(rows) +
                                   " rows cannot be split into " + std::to_string(heads) +
                                   " heads of even size for the RoPE permutation");
  }
  const int64_t head_dim = rows / heads;
  const int64_t half = head_dim / 2;
  std::vector<float> out(data->size());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t part = 0; part < 2; ++part) {
      for (int64_t j = 0; j < half; ++j) {
        const int64_t src = h * head_dim + part * half + j;
        const int64_t dst = h * head_dim + j * 2 + part;
        std::memcpy(&out[dst * cols], &(*data)[src * cols], sizeof(float) * cols);
      }
    }
  }
  data->swap(out);
  return Status::OK();
}

}  // namespace

Status CheckFinite(const TensorInfo& t, const float* values, int64_t n, int64_t first) {
  int64_t i = 0;
  // The common case stays a tight loop; only a hit builds the message.
  for (; i < n; ++i)
    if (!std::isfinite(values[i])) break;
  if (i == n) return Status::OK();
  const int64_t e = first + i, row = t.row_length();
  const int64_t r = row > 0 ? e / row : 0, c = row > 0 ? e % row : e;
  std::string what = t.file + ": tensor '" + t.name + "': non-finite value " + std::to_string(values[i]) +
                     " at row " + std::to_string(r) + ", column " + std::to_string(c) + " (element " +
                     std::to_string(e) + ")";
  const BlockFormat* fmt = FindBlockFormat(t.type);
  if (fmt && fmt->quantized)
    what += ", decoded from " + std::string(fmt->name) + " block " + std::to_string(c / fmt->block_size) +
            " of that row";
  return Status::InvalidArgument(what);
}

const TensorInfo* TensorSource::Find(const std::string& name) const {
  for (const auto& t : tensors())
    if (t.name == name) return &t;
  return nullptr;
}

Status TensorSource::ReadF32(const TensorInfo& t, std::vector<float>* out) {
  SHARDQ_ASSIGN_OR_RETURN(const BlockFormat* fmt, CheckDecodable(t));
  const int64_t n = t.n_elements();
  SHARDQ_ASSIGN_OR_RETURN(ByteSpan bytes, RawBytes(t));
  out->resize(static_cast<size_t>(n));
  fmt->dequantize_row(bytes.data, out->data(), n);
  SHARDQ_RETURN_IF_ERROR(CheckFinite(t, out->data(), n));
  if (t.fix == LayoutFix::kRopeHalfToInterleaved) {
    Status st = PermuteRopeRows(t, out);
    if (!st.ok()) return st.WithContext(t.file + ": ");
  }
  return Status::OK();
}

}  // namespace shardq
