// Planning: the model's tensors grouped into units (embeddings, one per
// transformer block, head), and contiguous unit ranges assigned to worker ranks,
// balanced by bytes. Headers only: no tensor data is read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor_info.h"

namespace shardq {

struct Unit {
  int64_t index = 0;          // position in canonical order: 0 = embeddings, 1..L = blocks, L+1 = head
  std::string name;           // "embeddings", "blk.3", "head"
  int64_t block = -1;         // transformer block number, -1 for embeddings/head
  std::vector<std::string> tensors;  // canonical GGUF names, canonical order
  uint64_t bytes = 0;         // F32 bytes of its tensors (the work it represents)
};

struct RankRange {
  int rank = 0;               // MPI rank doing the work
  int64_t begin = 0, end = 0; // unit indices [begin, end): contiguous, in pipeline order
};

struct UnitPlan {
  std::vector<Unit> units;
  std::vector<RankRange> ranges;  // one per worker rank, in pipeline order (first holds embeddings)
  // Rank that owns unit `index`.
  int OwnerOf(int64_t index) const;
};

// Units from the tensor list (unknown tensors join the head unit). Worker ranks
// are first_worker .. first_worker + n_workers - 1; each gets a non-empty
// contiguous range (n_workers is capped at the number of units) with the
// largest range as small as possible.
Result<UnitPlan> MakeUnitPlan(const std::vector<TensorInfo>& tensors, int n_workers, int first_worker);

}  // namespace shardq
