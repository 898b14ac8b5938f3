#include "runtime/in_place_writer.h"

#include "common/sha256.h"

namespace shardq {

Result<std::unique_ptr<InPlaceWriter>> InPlaceWriter::Open(const UnitPlacement& placement, FileSystem* fs) {
  if (placement.path.empty()) return Status::Unsupported("rank 0 did not ask for units in place");
  if (placement.tag.empty()) return Status::Unsupported(placement.path + ": no tag to recognize the file by");
  std::unique_ptr<InPlaceWriter> w(new InPlaceWriter());
  w->path_ = placement.path;
  Result<std::unique_ptr<PositionalFile>> f = fs->OpenPositionalFile(placement.path);
  if (!f.ok()) return Status::Unsupported(f.status().message());
  w->file_ = std::move(*f);
  Result<uint64_t> size = w->file_->Size();
  if (!size.ok()) return Status::Unsupported(size.status().message());
  if (*size != placement.file_bytes + placement.tag.size())
    return Status::Unsupported(placement.path + ": " + std::to_string(*size) + " bytes, rank 0's file has " +
                               std::to_string(placement.file_bytes + placement.tag.size()) +
                               " (not the same file: no shared file system?)");
  std::vector<uint8_t> tag(placement.tag.size());
  const Status read = w->file_->ReadAt(placement.file_bytes, tag.data(), tag.size());
  if (!read.ok()) return Status::Unsupported(read.message());
  if (tag != placement.tag)
    return Status::Unsupported(placement.path + ": not this run's file (its tag differs: no shared file system?)");
  for (const UnitPlacement::Region& r : placement.regions) w->regions_.emplace(r.name, r);
  return w;
}

InPlaceWriter::~InPlaceWriter() {
  if (pending_.valid()) pending_.wait();  // the thread uses file_
  if (file_) file_->Close();
}

void InPlaceWriter::Start(std::vector<TensorBlob> blobs) {
  if (pending_.valid()) pending_.wait();  // one unit at a time; its result is dropped only by misuse
  pending_ = std::async(std::launch::async, [this, b = std::move(blobs)]() mutable -> Result<std::vector<TensorBlob>> {
    SHARDQ_RETURN_IF_ERROR(Place(&b));
    return std::move(b);
  });
}

Result<std::vector<TensorBlob>> InPlaceWriter::Wait() {
  if (!pending_.valid()) return Status::Internal(path_ + ": no unit being written");
  return pending_.get();
}

Status InPlaceWriter::Place(std::vector<TensorBlob>* blobs) {
  for (const TensorBlob& b : *blobs) {
    const auto it = regions_.find(b.name);
    if (it == regions_.end()) return Status::Internal(path_ + ": tensor '" + b.name + "' has no region in the artifact");
    if (b.in_place || b.bytes.size() != it->second.size)
      return Status::Internal(path_ + ": tensor '" + b.name + "': " + std::to_string(b.bytes.size()) +
                              " bytes for a region of " + std::to_string(it->second.size));
    SHARDQ_RETURN_IF_ERROR(file_->WriteAt(it->second.offset, b.bytes.data(), b.bytes.size())
                               .WithContext("tensor '" + b.name + "': "));
  }
  // Durable before rank 0 hears of it: a committed unit's bytes survive a crash.
  SHARDQ_RETURN_IF_ERROR(file_->Sync());
  for (TensorBlob& b : *blobs) {
    Sha256 h;
    h.Update(b.bytes.data(), b.bytes.size());
    b.sha256 = h.Digest();
    b.in_place = true;
    b.in_place_size = b.bytes.size();
    std::vector<uint8_t>().swap(b.bytes);
  }
  return Status::OK();
}

}  // namespace shardq
