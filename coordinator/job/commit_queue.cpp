#include "coordinator/job/commit_queue.h"

#include <algorithm>

namespace shardq {

CommitQueue::CommitQueue(size_t capacity, CommitFn commit)
    : capacity_(std::max<size_t>(1, capacity)), commit_(std::move(commit)), thread_([this] { Run(); }) {}

CommitQueue::~CommitQueue() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void CommitQueue::Push(WorkerMessage unit, int from_rank) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return items_.size() < capacity_; });
  items_.push_back({std::move(unit), from_rank});
  changed_.notify_all();
}

Status CommitQueue::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return items_.empty() && !busy_; });
  return first_error_;
}

void CommitQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return !items_.empty() || closing_; });
    if (items_.empty()) return;  // closing, and everything committed
    Item item = std::move(items_.front());
    items_.pop_front();
    busy_ = true;
    changed_.notify_all();  // a slot is free for Push
    lock.unlock();
    Status st;
    try {
      st = commit_(item.unit, item.from);
    } catch (const std::exception& e) {  // never std::terminate: the job fails with the reason
      st = Status::Internal(std::string("commit: ") + e.what());
    }
    item.unit.blobs.clear();  // its memory goes before the lock is taken again
    lock.lock();
    busy_ = false;
    if (!st.ok() && first_error_.ok()) first_error_ = st;
    changed_.notify_all();
  }
}

}  // namespace shardq
