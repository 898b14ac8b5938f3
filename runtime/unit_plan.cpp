#include "runtime/unit_plan.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/tensor_order.h"

namespace shardq {
namespace {

// Block number of "blk.N.<anything>", or -1 for every other name (those go to
// the embeddings or head unit).
int64_t BlockOf(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  size_t i = 4;
  int64_t block = 0;
  bool digits = false;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) {
    if (block > (int64_t{1} << 40)) return -1;  // absurd numbers are not blocks
    block = block * 10 + (name[i++] - '0');
    digits = true;
  }
  return digits && i < name.size() && name[i] == '.' ? block : -1;
}

// Fewest contiguous ranges, none above `cap`, that cover `bytes` (greedy longest
// prefix is optimal for this count).
int64_t RangesNeeded(const std::vector<uint64_t>& bytes, uint64_t cap) {
  int64_t ranges = 1;
  uint64_t sum = 0;
  for (uint64_t b : bytes) {
    if (sum + b > cap) {
      ++ranges;
      sum = 0;
    }
    sum += b;
  }
  return ranges;
}

// The smallest possible maximum range sum over `k` contiguous non-empty ranges:
// binary search over the answer (feasible(cap) is monotone in cap).
uint64_t OptimalMaxRange(const std::vector<uint64_t>& bytes, int64_t k) {
  uint64_t lo = 0, hi = 0;
  for (uint64_t b : bytes) {
    lo = std::max(lo, b);
    hi += b;
  }
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (RangesNeeded(bytes, mid) <= k) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

}  // namespace

int UnitPlan::OwnerOf(int64_t index) const {
  for (const RankRange& r : ranges)
    if (index >= r.begin && index < r.end) return r.rank;
  return -1;
}

Result<UnitPlan> MakeUnitPlan(const std::vector<TensorInfo>& tensors, int n_workers, int first_worker) {
  if (tensors.empty()) return Status::InvalidArgument("unit plan: the model has no tensors");
  if (n_workers < 1) {
    return Status::InvalidArgument("unit plan: need at least one worker rank, got " +
                                   std::to_string(n_workers));
  }
  if (first_worker < 0) {
    return Status::InvalidArgument("unit plan: first worker rank must be >= 0, got " +
                                   std::to_string(first_worker));
  }

  // Group in canonical order, so each unit's tensor list is already in the
  // artifact's order and the units concatenate to the whole canonical order.
  Unit embeddings{0, "embeddings", -1, {}, 0};
  Unit head{0, "head", -1, {}, 0};
  std::map<int64_t, Unit> blocks;  // ordered by block number
  for (size_t i : CanonicalTensorOrder(tensors)) {
    const TensorInfo& t = tensors[i];
    const uint64_t bytes = 4ull * static_cast<uint64_t>(t.n_elements());
    Unit* unit = &head;
    if (t.name == "token_embd.weight") {
      unit = &embeddings;
    } else if (const int64_t b = BlockOf(t.name); b >= 0) {
      unit = &blocks[b];
      unit->block = b;
      unit->name = "blk." + std::to_string(b);
    }
    unit->tensors.push_back(t.name);
    unit->bytes += bytes;
  }

  UnitPlan plan;
  auto add = [&plan](Unit u) {
    if (u.tensors.empty()) return;  // e.g. a model without a separate head
    u.index = static_cast<int64_t>(plan.units.size());
    plan.units.push_back(std::move(u));
  };
  add(std::move(embeddings));
  for (auto& kv : blocks) add(std::move(kv.second));
  add(std::move(head));

  // Canonical order puts every "blk.N.*" inside block N's group and unknown
  // names after output.weight, so the units concatenate to exactly that order.
  const int64_t n_units = static_cast<int64_t>(plan.units.size());
  const int64_t k = std::min<int64_t>(n_workers, n_units);
  std::vector<uint64_t> bytes;
  for (const Unit& u : plan.units) bytes.push_back(u.bytes);
  const uint64_t cap = OptimalMaxRange(bytes, k);

  // Deterministic cut: each rank takes the longest prefix that fits under the
  // optimum, but leaves at least one unit for every rank after it. Feasible
  // because greedy needs at most k ranges at `cap`, and single units fit `cap`.
  int64_t begin = 0;
  for (int64_t r = 0; r < k; ++r) {
    const int64_t ranks_after = k - r - 1;
    const int64_t last_end = n_units - ranks_after;  // latest allowed end
    int64_t end = begin + 1;
    uint64_t sum = bytes[begin];
    while (end < last_end && sum + bytes[end] <= cap) sum += bytes[end++];
    if (r == k - 1) end = n_units;
    plan.ranges.push_back({first_worker + static_cast<int>(r), begin, end});
    begin = end;
  }
  return plan;
}

}  // namespace shardq
