#include "common/gguf_writer.h"

#include <algorithm>

namespace shardq {

Result<std::unique_ptr<GgufWriter>> GgufWriter::Create(const std::string& path,
                                                       const GgufMetadata& metadata,
                                                       std::vector<GgufTensorDecl> tensors,
                                                       const Options& options) {
  std::unique_ptr<GgufWriter> w(new GgufWriter());
  SHARDQ_ASSIGN_OR_RETURN(w->layout_, LayoutGguf(path, metadata, tensors, options.alignment));
  SHARDQ_ASSIGN_OR_RETURN(w->file_, AtomicFile::Create(path, options.fs));
  SHARDQ_RETURN_IF_ERROR(w->file_->Append(w->layout_.header.data(), w->layout_.header.size()));
  w->tensors_ = std::move(tensors);
  return w;
}

Status GgufWriter::Pad() {
  static const uint8_t zeros[256] = {};
  const uint64_t pos = file_->bytes_written();
  const uint64_t a = layout_.alignment;
  uint64_t pad = (pos + a - 1) / a * a - pos;
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
  if (nbytes != layout_.sizes[index]) {
    return Status::Internal(file_->final_path() + ": tensor '" + tensors_[index].name + "': got " +
                            std::to_string(nbytes) + " bytes, declared " +
                            std::to_string(layout_.sizes[index]));
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
