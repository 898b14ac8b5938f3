// The service's job queue, durable in RocksDB (<state>/queue): one record per
// submitted job, written synchronously at every change of state, so a kill -9
// of the whole service loses nothing it has acknowledged and a restart finds
// the queue in the order it had. Progress counts are written unsynced (a crash
// may lose the last few; the job's own state store has the truth about units).
// Only rank 0's service (coordinator/service) uses it; nothing else includes RocksDB.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace shardq {

enum class QueuedState { kQueued, kRunning, kDone, kFailed, kCancelled };
const char* QueuedStateName(QueuedState s);  // "queued", "running", ...

struct RankTally {
  int64_t units = 0;
  double busy_seconds = 0;
};

struct QueuedJob {
  std::string id;
  int64_t seq = 0;         // submission order, from 1
  int32_t priority = 0;    // higher first; FIFO within a priority
  QueuedState state = QueuedState::kQueued;
  std::string phase;       // the runner's phase while running; the final state's name after
  std::string spec_json;   // the validated spec (absolute paths), as the runner reads it
  std::string idempotency_key;
  std::string output_path; // canonical: one job per output at a time
  int64_t created_ms = 0, started_ms = 0, finished_ms = 0;
  std::string error;
  int64_t units_done = 0, units_total = 0, units_reused = 0;
  int64_t bytes_in = 0, bytes_out = 0;
  std::string sha256;
  std::map<int, RankTally> ranks;
};

class QueueStore {
 public:
  struct Impl;
  // IOError naming the directory when it cannot be opened (e.g. another server holds it).
  static Result<std::unique_ptr<QueueStore>> Open(const std::string& dir);
  ~QueueStore();

  // Every job, in submission order. A record that does not decode is an error
  // naming its key: the queue is never silently shortened.
  Result<std::vector<QueuedJob>> LoadAll();
  Status Put(const QueuedJob& job, bool sync);

 private:
  explicit QueueStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The record's JSON form (exposed for tests and for report()).
std::string EncodeQueuedJob(const QueuedJob& job);
Result<QueuedJob> DecodeQueuedJob(const std::string& value, const std::string& what);

}  // namespace shardq
