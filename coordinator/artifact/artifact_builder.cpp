#include "coordinator/artifact/artifact_builder.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "common/crc32c.h"

namespace shardq {
namespace {

// Read-back chunk for hashing tensors that were written before the hashed
// prefix reached them: bounded memory, whatever the tensor's size.
constexpr size_t kReadChunk = 4 << 20;

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

Result<std::unique_ptr<ArtifactBuilder>> ArtifactBuilder::Create(const std::string& path,
                                                                 const GgufMetadata& metadata,
                                                                 std::vector<GgufTensorDecl> tensors,
                                                                 const Options& options) {
  if (path.empty()) return Status::InvalidArgument("artifact: no output path given");
  std::unique_ptr<ArtifactBuilder> b(new ArtifactBuilder());
  b->fs_ = options.fs ? options.fs : FileSystem::Default();
  b->path_ = path;
  b->temp_path_ = options.temp_path.empty() ? path + ".partial" : options.temp_path;
  SHARDQ_ASSIGN_OR_RETURN(b->layout_, LayoutGguf(path, metadata, tensors));
  b->tensors_.resize(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    ArtifactTensor& t = b->tensors_[i];
    t.row.name = tensors[i].name;
    t.row.type = tensors[i].type;
    t.row.shape = tensors[i].shape;
    t.row.n_elements = 1;
    for (int64_t d : tensors[i].shape) t.row.n_elements *= d;
    t.offset = b->layout_.data_offset + b->layout_.offsets[i];
    b->index_.emplace(t.row.name, i);
  }
  b->put_.assign(tensors.size(), false);
  b->missing_ = tensors.size();
  b->keep_partial_ = options.keep_partial;
  b->placement_tag_ = options.placement_tag;
  SHARDQ_RETURN_IF_ERROR(b->OpenTempFile());
  Status header = b->file_->WriteAt(0, b->layout_.header.data(), b->layout_.header.size());
  if (header.ok() && !b->placement_tag_.empty()) {
    header = b->file_->WriteAt(b->layout_.file_bytes, b->placement_tag_.data(), b->placement_tag_.size());
    // Workers on other hosts look for the tag: it must be on the server first.
    if (header.ok()) header = b->file_->Sync();
  }
  if (!header.ok()) {
    b->Abandon();
    return header;
  }
  b->file_sha_.Update(b->layout_.header.data(), b->layout_.header.size());
  b->hashed_bytes_ = b->layout_.data_offset;
  return b;
}

Status ArtifactBuilder::OpenTempFile() {
  if (keep_partial_) {
    Result<std::unique_ptr<PositionalFile>> existing = fs_->OpenPositionalFile(temp_path_);
    if (existing.ok()) {
      // Kept only if it is this layout's file: same size, same header bytes.
      // Its tensors are trusted no further than Check's CRC of each.
      file_ = std::move(*existing);
      Result<uint64_t> size = file_->Size();
      bool same = size.ok() && *size == partial_bytes();
      if (same) {
        std::vector<uint8_t> head(layout_.header.size());
        same = file_->ReadAt(0, head.data(), head.size()).ok() && head == layout_.header;
      }
      if (same) {
        reused_partial_ = true;
        return Status::OK();
      }
      file_->Close();
      file_.reset();
    } else if (existing.status().code() != Status::Code::kNotFound) {
      return existing.status();
    }
  }
  SHARDQ_ASSIGN_OR_RETURN(file_, fs_->NewPositionalFile(temp_path_));
  if (keep_partial_) SeedFromOutput();
  return Status::OK();
}

void ArtifactBuilder::SeedFromOutput() {
  // The job ran to the end before and its temp file became the output: the
  // output holds every committed tensor (as far as each one's CRC says).
  // Copied, not renamed: the output stays whole if this run fails.
  Result<std::unique_ptr<PositionalFile>> out = fs_->OpenPositionalFile(path_);
  if (!out.ok()) return;
  Result<uint64_t> size = (*out)->Size();
  if (!size.ok() || *size != layout_.file_bytes) return;
  std::vector<uint8_t> head(layout_.header.size());
  if (!(*out)->ReadAt(0, head.data(), head.size()).ok() || head != layout_.header) return;
  uint64_t at = 0;
  const Status copied = ReadChunks(**out, 0, *size, [&](const uint8_t* chunk, size_t n) {
    const Status st = file_->WriteAt(at, chunk, n);
    at += n;
    return st;
  });
  if (!copied.ok()) {
    file_->Truncate(0);  // a half copy is no seed; the units are computed again
    return;
  }
  reused_partial_ = true;
}

Status ArtifactBuilder::ReadChunks(PositionalFile& file, uint64_t begin, uint64_t size,
                                   const std::function<Status(const uint8_t*, size_t)>& use) const {
  if (!read_buffer_) read_buffer_.reset(new uint8_t[kReadChunk]);  // not zeroed: every byte is read into first
  for (uint64_t done = 0; done < size;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size - done, kReadChunk));
    SHARDQ_RETURN_IF_ERROR(file.ReadAt(begin + done, read_buffer_.get(), n));
    SHARDQ_RETURN_IF_ERROR(use(read_buffer_.get(), n));
    done += n;
  }
  return Status::OK();
}

std::vector<ArtifactBuilder::Region> ArtifactBuilder::Regions() const {
  std::vector<Region> out;
  for (size_t i = 0; i < tensors_.size(); ++i) out.push_back({tensors_[i].row.name, tensors_[i].offset, layout_.sizes[i]});
  return out;
}

ArtifactBuilder::~ArtifactBuilder() {
  if (!finished_) Abandon();
}

void ArtifactBuilder::Abandon() {
  if (file_) {
    file_->Close();
    file_.reset();
  }
  // A kept temp file holds committed units' bytes: the next run reuses them.
  if (!finished_ && !keep_partial_ && !temp_path_.empty()) fs_->RemoveFile(temp_path_);
  finished_ = true;  // nothing more to do, whatever happens next
}

Status ArtifactBuilder::Check(const TensorBlob& blob) const {
  const std::string label = path_ + ": tensor '" + blob.name + "'";
  if (finished_ || !file_) return Status::Internal(label + ": the artifact is already finished or abandoned");
  const auto it = index_.find(blob.name);
  if (it == index_.end()) return Status::InvalidArgument(label + ": not a tensor of this artifact");
  const size_t i = it->second;
  if (put_[i]) return Status::InvalidArgument(label + ": written twice");
  const ArtifactTensor& t = tensors_[i];
  if (blob.type != t.row.type || blob.shape != t.row.shape) {
    return Status::Corruption(label + ": the blob is " + GgmlTypeName(blob.type) + " " + ShapeText(blob.shape) +
                              ", the plan declares " + GgmlTypeName(t.row.type) + " " + ShapeText(t.row.shape));
  }
  if (blob.size() != layout_.sizes[i]) {
    return Status::Corruption(label + ": " + std::to_string(blob.size()) + " bytes, its type and shape need " +
                              std::to_string(layout_.sizes[i]));
  }
  if (blob.in_place) {
    for (const auto& [k, crc] : checked_in_place_)
      if (k == i && crc == blob.crc32c) return Status::OK();
    SHARDQ_RETURN_IF_ERROR(CheckInPlaceBytes(i, blob, label));
    checked_in_place_.emplace_back(i, blob.crc32c);
    return Status::OK();
  }
  const uint32_t crc = Crc32c(blob.bytes.data(), blob.bytes.size());
  if (crc != blob.crc32c) {
    return Status::Corruption(label + ": checksum mismatch (record " + Hex32(blob.crc32c) + ", bytes " + Hex32(crc) +
                              ")");
  }
  return Status::OK();
}

Status ArtifactBuilder::CheckInPlaceBytes(size_t i, const TensorBlob& blob, const std::string& label) const {
  if (!keep_partial_) return Status::InvalidArgument(label + ": an in-place blob, but workers were not to write in place");
  if (blob.sha256.size() != 32) return Status::Corruption(label + ": in-place blob without its SHA-256");
  const uint64_t begin = tensors_[i].offset, size = layout_.sizes[i];
  // Through a descriptor opened now, after the worker's fsync: on NFS an open
  // revalidates the client's cache (close-to-open consistency), so pages this
  // process holds from before (the header's last page) are not read stale.
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<PositionalFile> fresh, fs_->OpenPositionalFile(temp_path_));
  uint32_t crc = 0;
  SHARDQ_RETURN_IF_ERROR(ReadChunks(*fresh, begin, size, [&crc](const uint8_t* chunk, size_t n) {
                           crc = Crc32c(chunk, n, crc);
                           return Status::OK();
                         }).WithContext(label + ": "));
  if (crc != blob.crc32c)
    return Status::Corruption(label + ": " + temp_path_ + " does not hold the bytes the worker wrote there (record " +
                              Hex32(blob.crc32c) + ", file " + Hex32(crc) + ")");
  return Status::OK();
}

Status ArtifactBuilder::Put(const TensorBlob& blob) {
  SHARDQ_RETURN_IF_ERROR(Check(blob));
  const size_t i = index_.at(blob.name);
  ArtifactTensor& t = tensors_[i];
  if (blob.in_place) {
    t.sha256 = HexOfBytes(blob.sha256);
  } else {
    SHARDQ_RETURN_IF_ERROR(file_->WriteAt(t.offset, blob.bytes.data(), blob.bytes.size()));
    file_->StartWriteback(t.offset, blob.bytes.size());
    t.sha256 = Sha256Hex(blob.bytes.data(), blob.bytes.size());
  }
  t.row.bytes = blob.size();
  t.row.error.sum_sq_err = blob.metrics.sum_sq_err;
  t.row.error.sum_sq_ref = blob.metrics.sum_sq_ref;
  t.row.error.max_abs_err = blob.metrics.max_abs_err;
  t.row.error.count = blob.metrics.count;
  t.row.reason = blob.reason;
  put_[i] = true;
  --missing_;
  for (size_t k = 0; k < checked_in_place_.size(); ++k)
    if (checked_in_place_[k].first == i) {
      checked_in_place_.erase(checked_in_place_.begin() + static_cast<std::ptrdiff_t>(k));
      break;
    }
  return AdvanceFileHash(i, blob);
}

void ArtifactBuilder::HashZeros(uint64_t n) {
  static const uint8_t zeros[4096] = {};
  while (n > 0) {
    const uint64_t k = std::min<uint64_t>(n, sizeof(zeros));
    file_sha_.Update(zeros, k);
    n -= k;
  }
}

Status ArtifactBuilder::AdvanceFileHash(size_t just_put, const TensorBlob& blob) {
  // Tensors workers wrote are read through a descriptor opened now (see
  // CheckInPlaceBytes); rank 0's own writes through its own.
  std::unique_ptr<PositionalFile> fresh;
  PositionalFile* reader = file_.get();
  while (hashed_tensors_ < tensors_.size() && put_[hashed_tensors_]) {
    const size_t k = hashed_tensors_;
    const uint64_t begin = tensors_[k].offset, size = layout_.sizes[k];
    HashZeros(begin - hashed_bytes_);  // alignment padding: a hole, read as zeros
    if (k == just_put && !blob.in_place) {
      file_sha_.Update(blob.bytes.data(), blob.bytes.size());
    } else {
      if (keep_partial_ && !fresh) {
        SHARDQ_ASSIGN_OR_RETURN(fresh, fs_->OpenPositionalFile(temp_path_));
        reader = fresh.get();
      }
      SHARDQ_RETURN_IF_ERROR(ReadChunks(*reader, begin, size, [this](const uint8_t* chunk, size_t n) {
        file_sha_.Update(chunk, n);
        return Status::OK();
      }));
    }
    hashed_bytes_ = begin + size;
    ++hashed_tensors_;
  }
  return Status::OK();
}

Result<BuiltArtifact> ArtifactBuilder::Finish() {
  if (finished_ || !file_) return Status::Internal(path_ + ": the artifact is already finished or abandoned");
  if (missing_ > 0) {
    size_t first = 0;
    while (put_[first]) ++first;
    return Status::Internal(path_ + ": " + std::to_string(missing_) + " of " + std::to_string(tensors_.size()) +
                            " tensors not written (the first is '" + tensors_[first].row.name + "')");
  }
  // The zero padding after the last tensor (gaps between tensors are holes,
  // which read back as zeros; the end of the file must be written).
  const uint64_t tail = layout_.file_bytes - hashed_bytes_;
  if (tail > 0) {
    const std::vector<uint8_t> zeros(static_cast<size_t>(tail), 0);
    SHARDQ_RETURN_IF_ERROR(file_->WriteAt(hashed_bytes_, zeros.data(), zeros.size()));
    HashZeros(tail);
  }
  if (reused_partial_) {
    // An earlier run's file: its gaps are written as the zeros they were hashed as.
    static const uint8_t zeros[256] = {};
    uint64_t end = layout_.data_offset;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      for (uint64_t at = end; at < tensors_[i].offset;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(tensors_[i].offset - at, sizeof(zeros)));
        SHARDQ_RETURN_IF_ERROR(file_->WriteAt(at, zeros, n));
        at += n;
      }
      end = tensors_[i].offset + layout_.sizes[i];
    }
  }
  if (!placement_tag_.empty()) SHARDQ_RETURN_IF_ERROR(file_->Truncate(layout_.file_bytes));
  SHARDQ_RETURN_IF_ERROR(file_->Sync());
  SHARDQ_RETURN_IF_ERROR(file_->Close());
  file_.reset();
  SHARDQ_RETURN_IF_ERROR(fs_->Rename(temp_path_, path_));
  finished_ = true;
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  SHARDQ_RETURN_IF_ERROR(fs_->SyncDir(dir.empty() ? "." : dir));
  BuiltArtifact out;
  out.path = path_;
  out.sha256 = file_sha_.HexDigest();
  out.bytes = layout_.file_bytes;
  out.tensors = std::move(tensors_);
  return out;
}

}  // namespace shardq
