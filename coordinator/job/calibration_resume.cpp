#include "coordinator/job/calibration_resume.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

#include "runtime/block_input_product.h"
#include "runtime/unit_stats_product.h"
#include "worker/calibration_stats.h"

namespace shardq {
namespace {

struct StageLayers {
  int64_t begin = 0, end = 0;  // blocks [begin, end) of the range; end == n_layers when it holds the head
};

StageLayers LayersOf(const RankRange& r, int64_t n_layers) {
  return {std::max<int64_t>(r.begin, 1) - 1, std::min<int64_t>(r.end, n_layers + 1) - 1};
}

// The block whose entering states a rank needs first: that of its first unit
// still to do (the head's input for the head; 0, the embeddings' output, for
// the embeddings), or, with nothing to do, the states leaving its range.
int64_t TargetLayer(const RankRange& r, const std::set<int64_t>& todo, int64_t n_layers) {
  for (int64_t u = r.begin; u < r.end; ++u)
    if (todo.count(u)) return std::max<int64_t>(u, 1) - 1;
  return LayersOf(r, n_layers).end;
}

// The latest good product entering a block in [lo, hi] (block 0's input is the
// embeddings' output, never stored: recomputing it is a table lookup).
Result<int64_t> FindSeed(StateStore& store, const std::string& job_id, const std::string& fingerprint, int64_t lo,
                         int64_t hi, std::vector<uint8_t>* bytes, int64_t* dropped) {
  for (int64_t layer = hi; layer >= std::max<int64_t>(lo, 1); --layer) {
    const std::string key = BlockInputKey(layer);
    Result<std::optional<std::vector<uint8_t>>> got = store.GetStats(job_id, key);
    Status bad = got.status();
    if (got.ok()) {
      if (!*got) continue;
      const std::string label = "stored inputs of block " + std::to_string(layer);
      Result<BlockInputProduct> p = DecodeBlockInputProduct((*got)->data(), (*got)->size(), label, /*with_hidden=*/false);
      bad = p.ok() ? CheckBlockInputProduct(*p, layer, fingerprint, label) : p.status();
      if (bad.ok()) {
        *bytes = std::move(**got);
        return layer;
      }
    }
    std::fprintf(stderr, "shardq: calibration: %s; dropping it\n", bad.message().c_str());
    SHARDQ_RETURN_IF_ERROR(store.DeleteStats(job_id, key));
    ++*dropped;
  }
  return int64_t{-1};
}

// imatrix: the stored statistics of every unit to do that has good ones.
Result<CalibrationResume> PlanStatsResume(StateStore& store, const std::string& job_id, const UnitPlan& plan,
                                          JobAssignment* a) {
  CalibrationResume out;
  for (int64_t unit : a->todo) {
    const std::string key = UnitStatsKey(unit);
    Result<std::optional<std::vector<uint8_t>>> got = store.GetStats(job_id, key);
    Status bad = got.status();
    if (got.ok()) {
      if (!*got) continue;
      const std::string label = "stored statistics of unit " + plan.units[unit].name;
      Result<UnitStatsProduct> p = DecodeUnitStatsProduct((*got)->data(), (*got)->size(), label);
      bad = p.ok() ? CheckUnitStatsProduct(*p, unit, a->inputs_fingerprint, label) : p.status();
      if (bad.ok()) bad = CalibrationStats::Decode(p->stats.data(), p->stats.size(), label).status();
      if (bad.ok()) {
        a->stats_stored.push_back(unit);
        out.seeds.emplace_back(plan.OwnerOf(unit), std::move(**got));
        continue;
      }
    }
    std::fprintf(stderr, "shardq: calibration: %s; dropping it\n", bad.message().c_str());
    SHARDQ_RETURN_IF_ERROR(store.DeleteStats(job_id, key));
    ++out.products_dropped;
  }
  const std::set<int64_t> stored(a->stats_stored.begin(), a->stats_stored.end());
  const size_t n = a->ranges.size();
  a->calib_joins.assign(n, 0);
  a->calib_seed_layer.assign(n, -1);
  // A rank calibrates if a unit of its own lacks statistics or a later rank calibrates.
  bool next_joins = false;
  for (size_t i = n; i-- > 0;) {
    for (int64_t u = a->ranges[i].begin; u < a->ranges[i].end && !next_joins; ++u)
      next_joins = std::count(a->todo.begin(), a->todo.end(), u) && !stored.count(u);
    a->calib_joins[i] = next_joins;
  }
  out.units_reusing = static_cast<int64_t>(stored.size());
  out.units_recalibrated = static_cast<int64_t>(a->todo.size()) - out.units_reusing;
  out.summary = "calibration: " + std::to_string(out.units_reusing) + " unit(s) reuse stored products, " +
                std::to_string(out.units_recalibrated) + " recalibrated; " +
                (next_joins ? "the forward pass starts: rank " + std::to_string(a->ranges[0].rank) + " at the embeddings"
                            : std::string("no forward pass"));
  return out;
}

}  // namespace

std::vector<std::string> CalibrationProductKeys(const UnitPlan& plan) {
  std::vector<std::string> keys;
  const int64_t n_layers = static_cast<int64_t>(plan.units.size()) - 2;
  for (int64_t layer = 1; layer <= n_layers; ++layer) keys.push_back(BlockInputKey(layer));
  for (const Unit& u : plan.units) keys.push_back(UnitStatsKey(u.index));
  return keys;
}

Result<CalibrationResume> PlanCalibrationResume(StateStore& store, const std::string& job_id, const UnitPlan& plan,
                                                JobAssignment* a) {
  if (!a->recipe.NeedsBlockActivations()) return PlanStatsResume(store, job_id, plan, a);
  CalibrationResume out;
  const int64_t n_layers = static_cast<int64_t>(plan.units.size()) - 2;
  const std::set<int64_t> todo(a->todo.begin(), a->todo.end());
  const size_t n = a->ranges.size();
  a->calib_joins.assign(n, 0);
  a->calib_seed_layer.assign(n, -1);
  std::vector<int64_t> todo_count(n, 0);
  // From the last stage back: a rank calibrates if it has units to do or the
  // next rank waits for its output; it starts from stored states if it can.
  bool next_waits = false;
  for (size_t i = n; i-- > 0;) {
    const RankRange& r = a->ranges[i];
    for (int64_t u = r.begin; u < r.end; ++u) todo_count[i] += todo.count(u);
    if (todo_count[i] == 0 && !next_waits) continue;
    a->calib_joins[i] = 1;
    std::vector<uint8_t> bytes;
    SHARDQ_ASSIGN_OR_RETURN(a->calib_seed_layer[i],
                            FindSeed(store, job_id, a->inputs_fingerprint, LayersOf(r, n_layers).begin,
                                     TargetLayer(r, todo, n_layers), &bytes, &out.products_dropped));
    if (a->calib_seed_layer[i] >= 0) out.seeds.emplace_back(r.rank, std::move(bytes));
    next_waits = a->calib_seed_layer[i] < 0;
  }
  // Each rank's states come from its own seed or flow from the nearest seeded
  // (or embedding) rank before it.
  std::string starts;
  bool from_store = false;
  for (size_t i = 0; i < n; ++i) {
    if (!a->calib_joins[i]) continue;
    const int64_t seed = a->calib_seed_layer[i];
    if (seed >= 0 || i == 0 || !a->calib_joins[i - 1]) {
      from_store = seed >= 0;
      starts += std::string(starts.empty() ? "" : ", ") + "rank " + std::to_string(a->ranges[i].rank) +
                (!from_store           ? std::string(" at the embeddings")
                 : seed == n_layers     ? std::string(" at the head's input, from stored activations")
                                        : " at block " + std::to_string(seed) + " from stored activations");
    }
    (from_store ? out.units_reusing : out.units_recalibrated) += todo_count[i];
  }
  out.summary = "calibration: " + std::to_string(out.units_reusing) + " unit(s) reuse stored products, " +
                std::to_string(out.units_recalibrated) + " recalibrated; the forward pass starts: " +
                (starts.empty() ? "nowhere" : starts);
  return out;
}

}  // namespace shardq
