// The commit queue: units committed one at a time in the order pushed, a full
// queue holding the pusher back, the first error kept while later units still
// commit, and Drain() returning only when everything is committed.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "coordinator/job/commit_queue.h"

namespace shardq {

TEST_CASE("commit queue: order, back-pressure, first error, drain", "[commit_queue]") {
  std::vector<int64_t> committed;
  std::atomic<int> in_commit{0}, max_in_commit{0};
  std::atomic<bool> release{false};
  auto commit = [&](WorkerMessage& m, int from) -> Status {
    const int now = ++in_commit;
    max_in_commit = std::max(max_in_commit.load(), now);
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    committed.push_back(m.unit * 10 + from);
    --in_commit;
    if (m.unit == 2) return Status::IOError("unit 2: injected");
    if (m.unit == 4) return Status::IOError("unit 4: injected");
    return Status::OK();
  };
  CommitQueue queue(/*capacity=*/2, commit);
  // The thread takes unit 0 and blocks in commit; units 1 and 2 fill the queue,
  // so pushing unit 3 must wait until the commits are released.
  for (int i = 0; i < 3; ++i) {
    WorkerMessage m;
    m.unit = i;
    queue.Push(std::move(m), 1);
    if (i == 0) while (in_commit == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::atomic<bool> pushed_third{false};
  std::thread pusher([&] {
    WorkerMessage m;
    m.unit = 3;
    queue.Push(std::move(m), 2);
    pushed_third = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(pushed_third);  // held back by the full queue
  release = true;
  pusher.join();
  WorkerMessage last;
  last.unit = 4;
  queue.Push(std::move(last), 1);
  const Status st = queue.Drain();
  CHECK(st.code() == Status::Code::kIOError);
  CHECK(st.message() == "unit 2: injected");  // the first error, not the last
  CHECK(committed == std::vector<int64_t>{1, 11, 21, 32, 41});
  CHECK(max_in_commit == 1);  // one at a time
  CHECK(queue.Drain().message() == "unit 2: injected");  // draining an empty queue returns at once
}

}  // namespace shardq
