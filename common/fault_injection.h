// Crash points for the crash-matrix tests (RocksDB's kill points, in small):
// SHARDQ_FAULT_KILL_AT=POINT:K makes the process SIGKILL itself the K-th time
// it reaches POINT. Points: "commit-written" (rank 0, a unit's batch is in the
// state store's memtable but not yet flushed: the middle of a commit),
// "commit-done" (rank 0, the unit is durable and written into the artifact).
// Unset, a point costs one relaxed atomic increment.
#pragma once

namespace shardq {

void FaultPoint(const char* point);

}  // namespace shardq
