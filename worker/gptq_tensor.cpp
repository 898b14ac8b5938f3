#include "worker/gptq_tensor.h"

#include <string>
#include <vector>

#include "kernels/block_format.h"
#include "kernels/gptq.h"

namespace shardq {

bool GptqSupports(GgmlType type) {
  const BlockFormat* f = FindBlockFormat(type);
  if (!f || !f->quantized) return false;
  // The activation formats have no grid (block_grid.h); asking is cheap.
  return type != GgmlType::Q8_1 && type != GgmlType::Q8_K;
}

Status GptqQuantizeTensor(const float* data, int64_t rows, int64_t row_length, GgmlType type,
                          const ChannelStats& input, const GptqSpec& options, ThreadPool* pool,
                          const std::string& name, QuantizedTensor* out) {
  const BlockFormat* format = FindBlockFormat(type);
  if (!format) return Status::Unsupported(name + ": no block format for " + GgmlTypeName(type));
  if (input.n_channels != row_length || input.hessian.size() != static_cast<size_t>(row_length * row_length)) {
    return Status::InvalidArgument(name + ": the input statistics have " + std::to_string(input.n_channels) +
                                   " channels" + (input.hessian.empty() ? " and no Hessian" : "") +
                                   ", the rows have " + std::to_string(row_length));
  }
  gptq::GptqOptions o;
  o.damp_fraction = options.damp;
  o.act_order = options.act_order;
  o.block_columns = static_cast<int>(options.block_columns);
  o.threads = pool ? pool->size() : 1;
  // The Hessian is the sum of x x^T; GPTQ's 2 X^T X differs by a factor that
  // changes neither the dampening (relative to the mean diagonal) nor the sweep.
  std::vector<float> importance;
  if (options.importance) importance = input.MeanSquare();
  out->type = type;
  out->bytes.assign(format->row_bytes(row_length) * static_cast<size_t>(rows), 0);
  gptq::GptqStats stats;
  std::string message;
  const gptq::GptqError e = gptq::QuantizeGgml(data, rows, row_length, input.hessian.data(), type,
                                               importance.empty() ? nullptr : importance.data(), o,
                                               out->bytes.data(), &stats, &message);
  if (e != gptq::GptqError::kOk)
    return Status::InvalidArgument(name + ": GPTQ: " + gptq::GptqErrorName(e) + (message.empty() ? "" : ": " + message));
  // The error against the original weights, as every other quantizer reports it.
  out->error = QuantError{};
  std::vector<float> row(static_cast<size_t>(row_length));
  for (int64_t r = 0; r < rows; ++r) {
    format->dequantize_row(out->bytes.data() + static_cast<size_t>(r) * format->row_bytes(row_length), row.data(),
                           row_length);
    out->error.Add(data + r * row_length, row.data(), row_length);
  }
  return Status::OK();
}

}  // namespace shardq
