// For readers that take a path (they mmap the file): the fuzz input written to
// an in-memory file (memfd), opened again through /proc/self/fd. One file per
// process, rewritten for every input: no disk traffic, nothing left behind.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace shardq::fuzz {

inline std::string InputAsFile(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("shardq-fuzz-input", 0);
  if (fd < 0) std::abort();
  if (ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace shardq::fuzz
