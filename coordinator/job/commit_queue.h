// Rank 0's units are committed on a thread of their own: the receive loop
// hands each unit over and goes back to receiving, so a worker's send of its
// next unit is not held up while rank 0 waits on fsync (RocksDB's sync write,
// the artifact's writeback). Units are committed one at a time, in the order
// they were received. At most `capacity` units wait (each is tens of MB on
// big models); a full queue makes the receive loop wait, which holds the
// workers back rather than growing rank 0's memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/status.h"
#include "runtime/job_messages.h"

namespace shardq {

class CommitQueue {
 public:
  // `commit` runs on the queue's thread for each pushed unit; its errors are
  // collected (the first one is kept) and do not stop the queue.
  using CommitFn = std::function<Status(WorkerMessage& unit, int from_rank)>;
  CommitQueue(size_t capacity, CommitFn commit);
  ~CommitQueue();  // drains, then joins
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Blocks while `capacity` units are waiting.
  void Push(WorkerMessage unit, int from_rank);
  // Waits until every pushed unit is committed; the first commit error, if any.
  Status Drain();

 private:
  struct Item {
    WorkerMessage unit;
    int from = 0;
  };
  void Run();

  const size_t capacity_;
  CommitFn commit_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Item> items_;
  bool busy_ = false;  // the thread is committing an item already taken off items_
  bool closing_ = false;
  Status first_error_;
  std::thread thread_;
};

}  // namespace shardq
