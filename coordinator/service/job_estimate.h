// What a job will take, from the model's tensor index alone (no weights read):
// its units, the bytes it reads and the artifact's predicted size from the
// planned type of every tensor. For the service's estimate() and bytes_in.
#pragma once

#include <cstdint>

#include "common/job_spec.h"
#include "common/status.h"

namespace shardq {

struct JobEstimate {
  int64_t units = 0;
  int64_t bytes_in = 0;    // the model's tensor bytes
  int64_t bytes_out = 0;   // the packed tensors (mixed precision: the size target)
  // A throughput to predict with before the server has finished a job of its
  // own: rough figures for this kind of machine, by whether the recipe calibrates.
  double default_bytes_per_second = 0;
};

Result<JobEstimate> EstimateJobSize(const JobSpec& spec, int n_workers);

}  // namespace shardq
