// Mixed precision as a multiple-choice knapsack: each tensor takes exactly one
// of its options (a type with its packed size and its predicted loss, the
// measured change of the model's output KL), the sizes must fit a byte budget,
// and the sum of predicted losses is minimized. Solved exactly by dynamic
// programming over the budget in units of `granularity` bytes (each option's
// size rounded up, so the budget always holds).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace shardq {

struct AllocationOption {
  uint64_t bytes = 0;
  double loss = 0;
};

struct AllocationItem {
  std::vector<AllocationOption> options;  // at least one
};

struct Allocation {
  std::vector<int> choice;  // per item, the index of its option
  uint64_t bytes = 0;       // exact sum of the chosen options' bytes
  double loss = 0;
};

// InvalidArgument when even the smallest options exceed the budget (the message
// says how many bytes the smallest allocation needs). granularity 0: chosen so
// the table has at most ~20000 columns.
Result<Allocation> AllocateBits(const std::vector<AllocationItem>& items, uint64_t budget, uint64_t granularity = 0);

}  // namespace shardq
