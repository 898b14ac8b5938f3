#include "common/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shardq {
namespace {

std::string ReadHolder(int fd) {
  char buf[512];
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "unknown process";
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s.empty() ? "unknown process" : s;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "?";
  return buf;
}

}  // namespace

Result<std::unique_ptr<OutputLock>> OutputLock::Acquire(const std::string& output_path, const std::string& holder) {
  const std::string lock_path = output_path + ".lock";
  // Bounded: each retry means another process released the lock between our
  // open and our flock, which cannot go on forever.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError(lock_path + ": cannot create the output's lock file: " + std::strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string who = ReadHolder(fd);
      close(fd);
      if (err == EWOULDBLOCK)
        return Status::Busy(output_path + ": another job is writing this output (" + who + ", lock " + lock_path +
                            "); wait for it to finish or choose another output path");
      return Status::IOError(lock_path + ": cannot lock: " + std::strerror(err));
    }
    struct stat held {}, at_path {};
    if (fstat(fd, &held) == 0 && stat(lock_path.c_str(), &at_path) == 0 && held.st_dev == at_path.st_dev &&
        held.st_ino == at_path.st_ino) {
      const std::string line =
          "pid " + std::to_string(getpid()) + " on " + HostName() + ": " + holder + "\n";
      if (ftruncate(fd, 0) != 0 || pwrite(fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
        const int err = errno;
        close(fd);
        return Status::IOError(lock_path + ": cannot write the lock's holder: " + std::strerror(err));
      }
      return std::unique_ptr<OutputLock>(new OutputLock(lock_path, fd));
    }
    close(fd);  // the file we locked was removed by its last holder: lock the new one
  }
  return Status::Busy(output_path + ": could not take the output lock " + lock_path + " (it keeps changing)");
}

OutputLock::~OutputLock() {
  // Unlink while still holding the lock, so nobody holds a lock on a path
  // that is about to disappear without noticing (see the header).
  unlink(lock_path_.c_str());
  close(fd_);
}

}  // namespace shardq
