#include "common/gguf_writer.h"

#include <cstring>
#include <set>

#include "common/byte_io.h"
#include "kernels/block_format.h"

namespace shardq {
namespace {

constexpr uint32_t kGgufVersion = 3;

void PutString(std::vector<uint8_t>* out, const std::string& s) {
  AppendPod<uint64_t>(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

void PutScalar(const GgufValue& v, std::vector<uint8_t>* out) {
  switch (v.type) {
    case GgufValueType::UINT8: AppendPod<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case GgufValueType::INT8: AppendPod<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case GgufValueType::UINT16: AppendPod<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case GgufValueType::INT16: AppendPod<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case GgufValueType::UINT32: AppendPod<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case GgufValueType::INT32: AppendPod<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case GgufValueType::FLOAT32: AppendPod<float>(out, static_cast<float>(v.f)); break;
    case GgufValueType::BOOL: AppendPod<uint8_t>(out, v.b ? 1 : 0); break;
    case GgufValueType::STRING: PutString(out, v.s); break;
    case GgufValueType::UINT64: AppendPod<uint64_t>(out, v.u); break;
    case GgufValueType::INT64: AppendPod<int64_t>(out, v.i); break;
    case GgufValueType::FLOAT64: AppendPod<double>(out, v.f); break;
    case GgufValueType::ARRAY:
      AppendPod<uint32_t>(out, static_cast<uint32_t>(v.array_type));
      AppendPod<uint64_t>(out, v.arr.size());
      for (const auto& item : v.arr) PutScalar(item, out);
      break;
  }
}

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void AppendGgufValue(const GgufValue& v, std::vector<uint8_t>* out) { PutScalar(v, out); }

Result<std::unique_ptr<GgufWriter>> GgufWriter::Create(const std::string& path,
                                                       const GgufMetadata& metadata,
                                                       std::vector<GgufTensorDecl> tensors,
                                                       const Options& options) {
  std::unique_ptr<GgufWriter> w(new GgufWriter());
  w->alignment_ = options.alignment;
  if (const GgufValue* a = metadata.Find("general.alignment")) {
    if (!a->is_integer() || a->as_int() <= 0 || (a->as_int() & (a->as_int() - 1)) != 0)
      return Status::InvalidArgument(path + ": general.alignment must be a power of two");
    w->alignment_ = static_cast<uint32_t>(a->as_int());
  }
  for (const auto& kv : metadata.entries()) {
    const GgufValue& v = kv.second;
    if (v.type == GgufValueType::ARRAY) {
      for (const auto& item : v.arr) {
        if (item.type != v.array_type)
          return Status::InvalidArgument(path + ": metadata '" + kv.first +
                                         "': array items must all have the declared type " +
                                         GgufValueTypeName(v.array_type));
      }
    }
  }

  // Sizes and aligned offsets of every tensor, from declarations alone.
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (!names.insert(t.name).second)
      return Status::InvalidArgument(path + ": duplicate tensor name '" + t.name + "'");
    const BlockFormat* fmt = FindBlockFormat(t.type);
    if (!fmt) {
      return Status::Unsupported(path + ": tensor '" + t.name + "': cannot write type " +
                                 GgmlTypeName(t.type));
    }
    if (t.shape.empty() || t.shape.size() > 4)
      return Status::InvalidArgument(path + ": tensor '" + t.name + "': needs 1 to 4 dimensions");
    int64_t n = 1;
    for (int64_t d : t.shape) {
      if (d <= 0)
        return Status::InvalidArgument(path + ": tensor '" + t.name + "': dimension must be > 0");
      n *= d;
    }
    const int64_t row = t.shape.back();
    if (row % fmt->block_size != 0) {
      return Status::InvalidArgument(path + ": tensor '" + t.name + "': row length " +
                                     std::to_string(row) + " is not a multiple of " + fmt->name +
                                     "'s block size " + std::to_string(fmt->block_size));
    }
    const uint64_t bytes = static_cast<uint64_t>(fmt->row_bytes(row)) * (n / row);
    offset = AlignUp(offset, w->alignment_);
    w->offsets_.push_back(offset);
    w->sizes_.push_back(bytes);
    offset += bytes;
  }

  std::vector<uint8_t> header;
  header.insert(header.end(), {'G', 'G', 'U', 'F'});
  AppendPod<uint32_t>(&header, kGgufVersion);
  AppendPod<uint64_t>(&header, tensors.size());
  AppendPod<uint64_t>(&header, metadata.size());
  for (const auto& kv : metadata.entries()) {
    PutString(&header, kv.first);
    AppendPod<uint32_t>(&header, static_cast<uint32_t>(kv.second.type));
    PutScalar(kv.second, &header);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    PutString(&header, t.name);
    AppendPod<uint32_t>(&header, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) AppendPod<uint64_t>(&header, *it);
    AppendPod<uint32_t>(&header, static_cast<uint32_t>(t.type));
    AppendPod<uint64_t>(&header, w->offsets_[i]);
  }
  w->data_offset_ = AlignUp(header.size(), w->alignment_);
  header.resize(w->data_offset_, 0);

  SHARDQ_ASSIGN_OR_RETURN(w->file_, AtomicFile::Create(path, options.fs));
  SHARDQ_RETURN_IF_ERROR(w->file_->Append(header.data(), header.size()));
  w->tensors_ = std::move(tensors);
  return w;
}

Status GgufWriter::Pad() {
  static const uint8_t zeros[256] = {};
  const uint64_t pos = file_->bytes_written();
  uint64_t pad = AlignUp(pos, alignment_) - pos;
  while (pad > 0) {
    const uint64_t n = std::min<uint64_t>(pad, sizeof(zeros));
    SHARDQ_RETURN_IF_ERROR(file_->Append(zeros, n));
    pad -= n;
  }
  return Status::OK();
}

Status GgufWriter::WriteTensor(size_t index, const void* data, uint64_t nbytes) {
  if (index != next_) {
    return Status::Internal(file_->final_path() + ": tensor " + std::to_string(index) +
                            " written out of order (expected " + std::to_string(next_) + ")");
  }
  if (index >= tensors_.size())
    return Status::Internal(file_->final_path() + ": more tensors written than declared");
  if (nbytes != sizes_[index]) {
    return Status::Internal(file_->final_path() + ": tensor '" + tensors_[index].name + "': got " +
                            std::to_string(nbytes) + " bytes, declared " +
                            std::to_string(sizes_[index]));
  }
  SHARDQ_RETURN_IF_ERROR(Pad());
  SHARDQ_RETURN_IF_ERROR(file_->Append(data, nbytes));
  ++next_;
  return Status::OK();
}

Status GgufWriter::Finish() {
  if (next_ != tensors_.size()) {
    return Status::Internal(file_->final_path() + ": only " + std::to_string(next_) + " of " +
                            std::to_string(tensors_.size()) + " tensors written");
  }
  SHARDQ_RETURN_IF_ERROR(Pad());
  return file_->Commit();
}

}  // namespace shardq
