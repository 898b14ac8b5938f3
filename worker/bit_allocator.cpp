#include "worker/bit_allocator.h"

#include <algorithm>
#include <limits>
#include <string>

namespace shardq {

Result<Allocation> AllocateBits(const std::vector<AllocationItem>& items, uint64_t budget, uint64_t granularity) {
  uint64_t smallest = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].options.empty())
      return Status::InvalidArgument("bit allocation: item " + std::to_string(i) + " has no option");
    uint64_t m = std::numeric_limits<uint64_t>::max();
    for (const auto& o : items[i].options) m = std::min(m, o.bytes);
    smallest += m;
  }
  if (smallest > budget)
    return Status::InvalidArgument("the smallest types take " + std::to_string(smallest) + " bytes, over the budget of " +
                                   std::to_string(budget));
  if (granularity == 0) granularity = std::max<uint64_t>(1, (budget + 19999) / 20000);
  const size_t cols = static_cast<size_t>(budget / granularity) + 1;
  const double inf = std::numeric_limits<double>::infinity();
  // best[c]: least loss of the items so far using at most c units; pick[i][c] its choice for item i.
  std::vector<double> best(cols, 0.0), next(cols);
  std::vector<std::vector<int16_t>> pick(items.size(), std::vector<int16_t>(cols, -1));
  for (size_t i = 0; i < items.size(); ++i) {
    std::fill(next.begin(), next.end(), inf);
    const auto& opts = items[i].options;
    for (size_t k = 0; k < opts.size(); ++k) {
      const uint64_t units = (opts[k].bytes + granularity - 1) / granularity;
      for (size_t c = units; c < cols; ++c) {
        const double v = best[c - units] + opts[k].loss;
        // Ties go to the earlier option, so the result does not depend on float noise in order.
        if (v < next[c]) {
          next[c] = v;
          pick[i][c] = static_cast<int16_t>(k);
        }
      }
    }
    best.swap(next);
  }
  if (!(best[cols - 1] < inf))
    return Status::InvalidArgument("bit allocation: the budget of " + std::to_string(budget) +
                                   " bytes is too small once sizes are rounded to " + std::to_string(granularity) +
                                   "-byte units");
  Allocation a;
  a.choice.assign(items.size(), 0);
  size_t c = cols - 1;
  for (size_t i = items.size(); i-- > 0;) {
    const int k = pick[i][c];
    a.choice[i] = k;
    const AllocationOption& o = items[i].options[k];
    a.bytes += o.bytes;
    a.loss += o.loss;
    c -= static_cast<size_t>((o.bytes + granularity - 1) / granularity);
  }
  return a;
}

}  // namespace shardq
