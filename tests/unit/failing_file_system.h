// A FileSystem for tests whose files fail ("injected: disk full") once more
// than `limit` bytes were written to them, appended or at offsets; everything
// else is the real POSIX file system.
#pragma once

#include <memory>
#include <string>

#include "common/file_system.h"

namespace shardq::testing {

class FailingFileSystem : public FileSystem {
 public:
  explicit FailingFileSystem(uint64_t limit) : limit_(limit) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> real, Default()->NewWritableFile(path));
    return std::unique_ptr<WritableFile>(new Appending(std::move(real), limit_));
  }
  Result<std::unique_ptr<PositionalFile>> NewPositionalFile(const std::string& path) override {
    SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<PositionalFile> real, Default()->NewPositionalFile(path));
    return std::unique_ptr<PositionalFile>(new Positional(std::move(real), limit_));
  }
  Result<std::unique_ptr<PositionalFile>> OpenPositionalFile(const std::string& path) override {
    SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<PositionalFile> real, Default()->OpenPositionalFile(path));
    return std::unique_ptr<PositionalFile>(new Positional(std::move(real), limit_));
  }
  Status Rename(const std::string& a, const std::string& b) override { return Default()->Rename(a, b); }
  Status RemoveFile(const std::string& p) override { return Default()->RemoveFile(p); }
  Status SyncDir(const std::string& d) override { return Default()->SyncDir(d); }

 private:
  class Appending : public WritableFile {
   public:
    Appending(std::unique_ptr<WritableFile> f, uint64_t limit) : f_(std::move(f)), left_(limit) {}
    Status Append(const void* d, size_t n) override {
      if (n > left_) return Status::IOError("injected: disk full");
      left_ -= n;
      return f_->Append(d, n);
    }
    Status Sync() override { return f_->Sync(); }
    Status Close() override { return f_->Close(); }

   private:
    std::unique_ptr<WritableFile> f_;
    uint64_t left_;
  };
  class Positional : public PositionalFile {
   public:
    Positional(std::unique_ptr<PositionalFile> f, uint64_t limit) : f_(std::move(f)), left_(limit) {}
    Status WriteAt(uint64_t offset, const void* d, size_t n) override {
      if (n > left_) return Status::IOError("injected: disk full");
      left_ -= n;
      return f_->WriteAt(offset, d, n);
    }
    Status ReadAt(uint64_t offset, void* d, size_t n) override { return f_->ReadAt(offset, d, n); }
    void StartWriteback(uint64_t offset, uint64_t n) override { f_->StartWriteback(offset, n); }
    Status Sync() override { return f_->Sync(); }
    Status Close() override { return f_->Close(); }
    Result<uint64_t> Size() override { return f_->Size(); }
    Status Truncate(uint64_t size) override { return f_->Truncate(size); }

   private:
    std::unique_ptr<PositionalFile> f_;
    uint64_t left_;
  };
  uint64_t limit_;
};

}  // namespace shardq::testing
