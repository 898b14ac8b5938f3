// A fixed set of threads that split a range of rows. Hot loops stay flat: the
// callback gets a contiguous [begin, end) chunk, not one row at a time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "common/status.h"

namespace shardq {

class ThreadPool {
 public:
  // n_threads <= 0: one per hardware thread. The calling thread is one of them.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n), at least `grain`
  // items each; returns when all are done.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop();
  void StopAndJoin();
  void RunChunks();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0, chunk_ = 0, next_ = 0;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// Threads to use when the user gave none: the cores this process may run on.
int DefaultThreadCount();

// The most threads a --threads option accepts: far beyond any core count that
// helps, far below what exhausts the process's thread limit.
constexpr int kMaxThreads = 1024;

// Checks a --threads value (0: one per core). InvalidArgument naming `option`.
Status ValidateThreadCount(int n, const std::string& option = "--threads");

}  // namespace shardq
