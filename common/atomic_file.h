// Writes a file so that the final path holds either nothing or the complete
// file: bytes go to a temp file beside it, which is fsynced and renamed on
// Commit(); any other ending (error, early return, destructor) removes it.
#pragma once

#include <memory>
#include <string>

#include "common/file_system.h"
#include "common/status.h"

namespace shardq {

class AtomicFile {
 public:
  static Result<std::unique_ptr<AtomicFile>> Create(const std::string& final_path,
                                                    FileSystem* fs = FileSystem::Default());
  ~AtomicFile();

  Status Append(const void* data, size_t n);
  // WritableFile::AppendAligned: a large aligned write that may bypass the page cache.
  Status AppendAligned(const void* data, size_t n);
  uint64_t bytes_written() const { return bytes_written_; }
  // Starts writing the appended bytes back to disk now (WritableFile::StartWriteback).
  void StartWriteback() {
    if (file_) file_->StartWriteback();
  }
  // fsync, close, rename over final_path, fsync the directory.
  Status Commit();
  const std::string& final_path() const { return final_path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile(FileSystem* fs, std::string final_path, std::string temp_path,
             std::unique_ptr<WritableFile> file);
  void Abandon();

  FileSystem* fs_;
  std::string final_path_;
  std::string temp_path_;
  std::unique_ptr<WritableFile> file_;
  uint64_t bytes_written_ = 0;
  bool committed_ = false;
  Status first_error_;
};

}  // namespace shardq
