// What a worker rank does for the life of the process: wait for a job
// assignment, run the recipe's stages (made by `stages`) over the units of its
// range that are still to do, send each one to rank 0 as soon as it is packed,
// report done; until told to exit.
#pragma once

#include "common/status.h"
#include "runtime/rank_stages.h"
#include "runtime/transport.h"

namespace shardq {

// Fault injection for resume tests: SHARDQ_FAULT_KILL_RANK=R and
// SHARDQ_FAULT_KILL_AFTER=K make rank R SIGKILL itself right after sending its
// K-th unit (R = 1 is the worker thread of an embedded run: the whole process dies).
// SHARDQ_FAULT_DELAY_MS=D makes every worker pause D ms after each unit, so a
// test can kill -9 the whole job while units are being committed.
Status RunWorker(Transport& transport, const RankStagesFactory& stages);

}  // namespace shardq
