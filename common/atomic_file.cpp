#include "common/atomic_file.h"

#include <unistd.h>

#include <filesystem>

namespace shardq {

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& final_path,
                                                       FileSystem* fs) {
  if (final_path.empty()) return Status::InvalidArgument("output path is empty");
  std::filesystem::path p(final_path);
  if (std::filesystem::is_directory(p))
    return Status::InvalidArgument(final_path + ": output path is a directory");
  // Same directory as the final path, so the rename stays on one file system.
  const std::string temp = final_path + ".tmp." + std::to_string(::getpid());
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs->NewWritableFile(temp));
  return std::unique_ptr<AtomicFile>(new AtomicFile(fs, final_path, temp, std::move(file)));
}

AtomicFile::AtomicFile(FileSystem* fs, std::string final_path, std::string temp_path,
                       std::unique_ptr<WritableFile> file)
    : fs_(fs), final_path_(std::move(final_path)), temp_path_(std::move(temp_path)),
      file_(std::move(file)) {}

AtomicFile::~AtomicFile() {
  if (!committed_) Abandon();
}

void AtomicFile::Abandon() {
  if (file_) {
    file_->Close();
    file_.reset();
  }
  fs_->RemoveFile(temp_path_);
}

Status AtomicFile::Append(const void* data, size_t n) {
  if (!first_error_.ok()) return first_error_;
  if (!file_) return Status::Internal(temp_path_ + ": append after commit");
  Status st = file_->Append(data, n);
  if (!st.ok()) {
    first_error_ = st;
    return st;
  }
  bytes_written_ += n;
  return Status::OK();
}

Status AtomicFile::AppendAligned(const void* data, size_t n) {
  if (!first_error_.ok()) return first_error_;
  if (!file_) return Status::Internal(temp_path_ + ": append after commit");
  Status st = file_->AppendAligned(data, n);
  if (!st.ok()) {
    first_error_ = st;
    return st;
  }
  bytes_written_ += n;
  return Status::OK();
}

Status AtomicFile::Commit() {
  if (!first_error_.ok()) return first_error_;
  if (!file_) return Status::Internal(temp_path_ + ": committed twice");
  SHARDQ_RETURN_IF_ERROR(file_->Sync());
  SHARDQ_RETURN_IF_ERROR(file_->Close());
  file_.reset();
  SHARDQ_RETURN_IF_ERROR(fs_->Rename(temp_path_, final_path_));
  committed_ = true;
  const std::string dir = std::filesystem::path(final_path_).parent_path().string();
  return fs_->SyncDir(dir.empty() ? "." : dir);
}

}  // namespace shardq
