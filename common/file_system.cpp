#include "common/file_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace shardq {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return path + ": " + what + ": " + std::strerror(errno);
}

// Buffered POSIX file: artifacts are written in tensor-sized pieces, some tiny
// (norm weights), so writes are batched into 1 MiB chunks.
class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
    buffer_.reserve(kBufferSize);
  }
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(const void* data, size_t n) override {
    const auto* p = static_cast<const uint8_t*>(data);
    if (buffer_.size() + n <= kBufferSize) {
      buffer_.insert(buffer_.end(), p, p + n);
      return Status::OK();
    }
    SHARDQ_RETURN_IF_ERROR(Flush());
    if (n >= kBufferSize) return WriteAll(p, n);
    buffer_.insert(buffer_.end(), p, p + n);
    return Status::OK();
  }

  void StartWriteback() override {
    // Only what reached the kernel: the buffered tail waits for the next call or
    // Sync(). Errors surface at Sync(); this only moves the disk work earlier.
    if (written_ > writeback_from_) {
      ::sync_file_range(fd_, static_cast<off_t>(writeback_from_), static_cast<off_t>(written_ - writeback_from_),
                        SYNC_FILE_RANGE_WRITE);
      writeback_from_ = written_;
    }
  }

  Status AppendAligned(const void* data, size_t n) override {
    const auto* p = static_cast<const uint8_t*>(data);
    SHARDQ_RETURN_IF_ERROR(Flush());
    const bool aligned = reinterpret_cast<uintptr_t>(p) % kDirectAlignment == 0 && n % kDirectAlignment == 0 &&
                         written_ % kDirectAlignment == 0;
    if (!aligned || !SetDirect(true)) return WriteAll(p, n);
    // A file system may accept the flag and still refuse the write (EINVAL):
    // then this file is written through the page cache from here on.
    const ssize_t w = ::write(fd_, p, n);
    if (w == static_cast<ssize_t>(n)) {
      written_ += n;
      writeback_from_ = written_;  // nothing dirty: the write went to the device
      return Status::OK();
    }
    if (w > 0) written_ += static_cast<uint64_t>(w);
    if (w < 0 && errno != EINVAL) return Status::IOError(Errno("write", path_));
    direct_refused_ = true;
    SetDirect(false);
    return w > 0 ? WriteAll(p + w, n - static_cast<size_t>(w)) : WriteAll(p, n);
  }

  Status Sync() override {
    SHARDQ_RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0) return Status::IOError(Errno("fsync", path_));
    return Status::OK();
  }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    Status st = Flush();
    if (::close(fd_) != 0 && st.ok()) st = Status::IOError(Errno("close", path_));
    fd_ = -1;
    return st;
  }

 private:
  static constexpr size_t kBufferSize = 1 << 20;

  Status Flush() {
    if (buffer_.empty()) return Status::OK();
    Status st = WriteAll(buffer_.data(), buffer_.size());
    buffer_.clear();
    return st;
  }

  // Turns O_DIRECT on or off; false when it is not on after the call.
  bool SetDirect(bool on) {
    if (on == direct_) return direct_;
    if (on && direct_refused_) return false;
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0 && ::fcntl(fd_, F_SETFL, on ? (flags | O_DIRECT) : (flags & ~O_DIRECT)) == 0) {
      direct_ = on;
    } else if (on) {
      direct_refused_ = true;
    }
    return direct_;
  }

  Status WriteAll(const uint8_t* p, size_t n) {
    SetDirect(false);  // a write that breaks direct I/O's rules goes through the page cache
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::IOError(Errno("write", path_));
      }
      p += w;
      n -= static_cast<size_t>(w);
      written_ += static_cast<uint64_t>(w);
    }
    return Status::OK();
  }

  std::string path_;
  int fd_;
  std::vector<uint8_t> buffer_;
  uint64_t written_ = 0;         // bytes handed to write(2)
  bool direct_ = false;          // O_DIRECT is set on fd_
  bool direct_refused_ = false;  // the file system refused it once: never again
  uint64_t writeback_from_ = 0;  // [0, writeback_from_) has had StartWriteback
};

class PosixPositionalFile : public PositionalFile {
 public:
  PosixPositionalFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixPositionalFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::IOError(Errno("write at offset " + std::to_string(offset), path_));
      }
      p += w;
      offset += static_cast<uint64_t>(w);
      n -= static_cast<size_t>(w);
    }
    return Status::OK();
  }

  Status ReadAt(uint64_t offset, void* data, size_t n) override {
    auto* p = static_cast<uint8_t*>(data);
    while (n > 0) {
      const ssize_t r = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Status::IOError(Errno("read at offset " + std::to_string(offset), path_));
      if (r == 0) return Status::IOError(path_ + ": read at offset " + std::to_string(offset) + ": end of file");
      p += r;
      offset += static_cast<uint64_t>(r);
      n -= static_cast<size_t>(r);
    }
    return Status::OK();
  }

  void StartWriteback(uint64_t offset, uint64_t n) override {
    // Errors surface at Sync(); this only moves the disk work earlier.
    ::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), SYNC_FILE_RANGE_WRITE);
  }

  Status Sync() override {
    if (::fsync(fd_) != 0) return Status::IOError(Errno("fsync", path_));
    return Status::OK();
  }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Status::IOError(Errno("close", path_));
    return Status::OK();
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::IOError(Errno("stat", path_));
    return static_cast<uint64_t>(st.st_size);
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
      return Status::IOError(Errno("truncate to " + std::to_string(size) + " bytes", path_));
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_;
};

class PosixFileSystem : public FileSystem {
 public:
  Result<std::unique_ptr<PositionalFile>> NewPositionalFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError(Errno("cannot create", path));
    return std::unique_ptr<PositionalFile>(new PosixPositionalFile(path, fd));
  }
  Result<std::unique_ptr<PositionalFile>> OpenPositionalFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return Status::NotFound(path + ": no such file");
    if (fd < 0) return Status::IOError(Errno("cannot open", path));
    return std::unique_ptr<PositionalFile>(new PosixPositionalFile(path, fd));
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError(Errno("cannot create", path));
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (std::rename(from.c_str(), to.c_str()) != 0)
      return Status::IOError(Errno("cannot rename to " + to, from));
    return Status::OK();
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Status::IOError(Errno("cannot remove", path));
    return Status::OK();
  }
  Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::IOError(Errno("cannot open directory", dir));
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return Status::IOError(Errno("fsync", dir));
    return Status::OK();
  }
};

}  // namespace

FileSystem* FileSystem::Default() {
  static PosixFileSystem fs;
  return &fs;
}

}  // namespace shardq
