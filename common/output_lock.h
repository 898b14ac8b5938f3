// One writer per output path. Two jobs (or a job and `shardq quantize`) given
// the same --out would interleave their temp files and renames, and one of them
// would report the sha256 of bytes that the other replaced. A job holds an
// exclusive flock(2) on OUTPUT.lock beside the output from before any work
// until its last sidecar is renamed into place; a second one is refused at once
// with the holder's description (pid, host, command) in the message.
//
// The lock file is removed on release. A process that opened it just before
// the removal locks an unlinked inode; it notices (the inode at the path is not
// the one it locked) and tries again, so at most one live holder exists.
// A killed holder's lock is released by the kernel; the stale file it leaves is
// reused by the next holder.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace shardq {

class OutputLock {
 public:
  // Busy naming the output and the holder when another process holds it;
  // IOError when the lock file cannot be created (e.g. no such directory).
  // `holder` describes this process to whoever is refused ("shardq run job-...").
  static Result<std::unique_ptr<OutputLock>> Acquire(const std::string& output_path, const std::string& holder);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  const std::string& lock_path() const { return lock_path_; }

 private:
  OutputLock(std::string lock_path, int fd) : lock_path_(std::move(lock_path)), fd_(fd) {}
  std::string lock_path_;
  int fd_ = -1;
};

}  // namespace shardq
