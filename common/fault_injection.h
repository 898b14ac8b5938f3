// Crash points for the crash-matrix tests (RocksDB's kill points, in small):
// SHARDQ_FAULT_KILL_AT=POINT:K makes the process SIGKILL itself the K-th time
// it reaches POINT. Points: "commit-written" (rank 0, a unit's batch is in the
// state store's memtable but not yet flushed: the middle of a commit),
// "commit-done" (rank 0, the unit is durable and written into the artifact).
// Unset, a point costs one relaxed atomic increment.
// The other hooks: SHARDQ_FAULT_KILL_RANK/AFTER, SHARDQ_FAULT_NO_IN_PLACE_RANK and
// SHARDQ_FAULT_WORKER_THROW (runtime/rank_loop.cpp)
// and the delay below.
#pragma once

namespace shardq {

void FaultPoint(const char* point);

// SHARDQ_FAULT_DELAY_MS (0 when unset): the pause `shardq run`'s workers take
// after each unit and `shardq quantize` before each tensor, so a test's kill or
// signal lands mid-job.
int FaultDelayMs();

}  // namespace shardq
