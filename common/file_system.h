// The file system behind an interface (LevelDB's Env): the artifact writer and
// the state store write through it, so tests can inject a failing write or sync
// and check that nothing half-written is left at the final path.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"

namespace shardq {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(const void* data, size_t n) = 0;
  // Append for large writes that meet direct I/O's rules: `data` aligned to
  // kDirectAlignment, n and everything appended before a multiple of it. The
  // file may then write around the page cache (O_DIRECT): no copy into it and
  // nothing dirty left for the fsync. By default (and wherever the file system
  // refuses direct I/O) it is Append.
  static constexpr size_t kDirectAlignment = 4096;
  virtual Status AppendAligned(const void* data, size_t n) { return Append(data, n); }
  // Starts writing what was appended so far back to disk without waiting, so the
  // final Sync() has little left to do. A hint: by default it does nothing.
  virtual void StartWriteback() {}
  virtual Status Sync() = 0;  // flush buffers and fsync
  virtual Status Close() = 0;
};

// A file written at explicit offsets: the artifact is filled unit by unit, in
// whatever order units commit, at offsets its layout fixed in advance.
class PositionalFile {
 public:
  virtual ~PositionalFile() = default;
  virtual Status WriteAt(uint64_t offset, const void* data, size_t n) = 0;
  virtual Status ReadAt(uint64_t offset, void* data, size_t n) = 0;  // exactly n bytes
  // Starts writing [offset, offset + n) back to disk without waiting, so the
  // final Sync() has little left to do. A hint: it may do nothing.
  virtual void StartWriteback(uint64_t offset, uint64_t n) = 0;
  virtual Status Sync() = 0;  // fsync
  virtual Status Close() = 0;
  virtual Result<uint64_t> Size() = 0;
  virtual Status Truncate(uint64_t size) = 0;  // sets the size (a larger one reads as zeros)
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates or truncates `path`.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Creates or truncates `path` for reading and writing at offsets.
  virtual Result<std::unique_ptr<PositionalFile>> NewPositionalFile(const std::string& path) = 0;
  // Opens an existing `path` for reading and writing at offsets, keeping its
  // bytes; NotFound when there is none.
  virtual Result<std::unique_ptr<PositionalFile>> OpenPositionalFile(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // fsync of a directory, so a rename inside it survives a crash.
  virtual Status SyncDir(const std::string& dir) = 0;

  // The real POSIX file system.
  static FileSystem* Default();
};

}  // namespace shardq
