#include "worker/unit_compressor.h"

#include <string>

#include "common/crc32c.h"
#include "common/source_fingerprint.h"
#include "common/tensor_rows.h"

namespace shardq {
namespace {

// Over the mapped bytes just before they are decoded: one extra read at
// ~20 GB/s (bench_fingerprint), cheaper than interleaving it with the decode.
Status FingerprintSource(TensorSource& source, const TensorInfo& t, ThreadPool* pool, uint32_t* source_fingerprint) {
  if (!source_fingerprint) return Status::OK();
  SHARDQ_ASSIGN_OR_RETURN(ByteSpan raw, source.RawBytes(t));
  *source_fingerprint = FingerprintBytes(raw.data, raw.size, pool);
  return Status::OK();
}

}  // namespace

Status ReadSourceTensor(TensorSource& source, const TensorInfo& t, ThreadPool* pool, std::vector<float>* data,
                        uint32_t* source_fingerprint) {
  SHARDQ_RETURN_IF_ERROR(FingerprintSource(source, t, pool, source_fingerprint));
  return source.ReadF32(t, data);
}

Status CompressTensor(TensorSource& source, const TensorInfo& t, const TensorChoice& choice,
                      const CalibrationStats* stats, const std::string& stats_label, ThreadPool* pool,
                      QuantizedTensor* out, bool* weighted, uint32_t* source_fingerprint) {
  SHARDQ_RETURN_IF_ERROR(FingerprintSource(source, t, pool, source_fingerprint));
  // Rows straight from the mapping: an F32 source is not copied first.
  SHARDQ_ASSIGN_OR_RETURN(TensorRows rows, TensorRows::Open(source, t));
  // Only quantized tensors are weighted; F32 copies ignore importance.
  std::vector<float> importance;
  const ChannelStats* s = (choice.quantized && stats) ? stats->Find(t.name) : nullptr;
  if (s) {
    if (s->n_channels != t.row_length()) {
      return Status::InvalidArgument(stats_label + ": entry '" + t.name + "' has " + std::to_string(s->n_channels) +
                                     " channels, the tensor's rows have " + std::to_string(t.row_length()) +
                                     " (statistics of another model?)");
    }
    importance = s->MeanSquare();
  }
  SHARDQ_RETURN_IF_ERROR(QuantizeTensorRows(rows, choice.type, importance.empty() ? nullptr : importance.data(), pool,
                                            t.file + ": tensor '" + t.name + "': ", out));
  source.Release(t);
  *weighted = !importance.empty();
  return Status::OK();
}

TensorBlob MakeBlob(const TensorInfo& t, const TensorChoice& choice, QuantizedTensor&& q) {
  TensorBlob blob;
  blob.name = t.name;
  blob.type = choice.type;
  blob.shape = t.shape;
  blob.bytes = std::move(q.bytes);
  blob.crc32c = Crc32c(blob.bytes.data(), blob.bytes.size());
  blob.metrics.sum_sq_err = q.error.sum_sq_err;
  blob.metrics.sum_sq_ref = q.error.sum_sq_ref;
  blob.metrics.max_abs_err = q.error.max_abs_err;
  blob.metrics.count = q.error.count;
  blob.reason = choice.reason;
  return blob;
}

Result<std::vector<TensorBlob>> CompressUnit(const UnitCompressInput& in, TensorSource& source, ThreadPool* pool,
                                             std::vector<uint32_t>* source_fingerprints,
                                             std::vector<bool>* weighted_out) {
  if (source_fingerprints) source_fingerprints->clear();
  if (weighted_out) weighted_out->clear();
  if (in.tensors.size() != in.choices.size()) {
    return Status::InvalidArgument("compress unit: " + std::to_string(in.tensors.size()) + " tensors but " +
                                   std::to_string(in.choices.size()) + " type choices");
  }
  ThreadPool single(1);  // the quantizer needs a pool; the caller may have none
  if (pool == nullptr) pool = &single;
  std::vector<TensorBlob> blobs;
  blobs.reserve(in.tensors.size());
  QuantizedTensor q;
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    const TensorInfo* t = in.tensors[i];
    const TensorChoice& choice = in.choices[i];
    if (t == nullptr) return Status::InvalidArgument("compress unit: tensor " + std::to_string(i) + " is null");
    if (choice.name != t->name) {
      return Status::InvalidArgument("compress unit: tensor '" + t->name + "' was given the type choice of '" +
                                     choice.name + "'");
    }
    bool weighted = false;
    uint32_t fingerprint = 0;
    SHARDQ_RETURN_IF_ERROR(CompressTensor(source, *t, choice, in.stats, "calibration statistics", pool, &q,
                                          &weighted, source_fingerprints ? &fingerprint : nullptr));
    if (source_fingerprints) source_fingerprints->push_back(fingerprint);
    if (weighted_out) weighted_out->push_back(weighted);

    blobs.push_back(MakeBlob(*t, choice, std::move(q)));
    q = QuantizedTensor{};
  }
  return blobs;
}

}  // namespace shardq
