// Where a resumed GPTQ/AWQ job's calibration starts (coordinator/job/calibration_resume.h),
// against a real state store: the latest good product at or before each rank's
// first unit to do seeds it, the ranks before a seeded one stay out of the
// pipeline, and damaged or stale products are dropped, never handed out.
#include <catch2/catch.hpp>

#include "coordinator/job/calibration_resume.h"
#include "runtime/block_input_product.h"
#include "runtime/unit_stats_product.h"
#include "worker/calibration_stats.h"
#include "tests/unit/test_util.h"

using namespace shardq;

namespace {

// 6 blocks: units 0 (embeddings), 1..6 (blocks 0..5), 7 (head).
UnitPlan SixBlockPlan() {
  UnitPlan plan;
  for (int64_t i = 0; i < 8; ++i) {
    Unit u;
    u.index = i;
    u.block = i >= 1 && i <= 6 ? i - 1 : -1;
    plan.units.push_back(u);
  }
  plan.ranges = {{1, 0, 3}, {2, 3, 6}, {3, 6, 8}};
  return plan;
}

std::vector<uint8_t> Product(int64_t layer, const std::string& fingerprint) {
  BlockInputProduct p;
  p.layer = layer;
  p.inputs_fingerprint = fingerprint;
  p.dim = 2;
  p.window_tokens = {1};
  p.hidden = {static_cast<float>(layer), 1.0f};
  return EncodeBlockInputProduct(p);
}

}  // namespace

TEST_CASE("a resumed block-mode job starts each rank from its latest stored block input", "[products][state]") {
  auto store = StateStore::Open(testing::MakeTempDir("calib_resume") + "/db");
  REQUIRE(store.ok());
  StateStore& s = **store;
  const UnitPlan plan = SixBlockPlan();
  REQUIRE(s.PutStats("job", BlockInputKey(1), Product(1, "fp")).ok());
  REQUIRE(s.PutStats("job", BlockInputKey(2), Product(2, "fp")).ok());
  REQUIRE(s.PutStats("job", BlockInputKey(5), Product(5, "old")).ok());  // other inputs: stale
  std::vector<uint8_t> damaged = Product(4, "fp");
  damaged[damaged.size() / 2] ^= 1;
  REQUIRE(s.PutStats("job", BlockInputKey(4), damaged).ok());  // the store's CRC is of the damaged bytes

  JobAssignment a;
  a.recipe.algorithm = Algorithm::kGptq;
  a.ranges = plan.ranges;
  a.inputs_fingerprint = "fp";
  a.todo = {3, 4, 5, 6, 7};  // rank 1 done; rank 2 from block 2; rank 3 from block 5
  auto r = PlanCalibrationResume(s, "job", plan, &a);
  REQUIRE(r.ok());
  // Rank 3 needs block 5's input: the stored one is stale, block 4's (its own
  // range starts at block 5, so only 5 is looked at) -> it receives from rank 2,
  // which starts from block 2's stored input; rank 1 has nothing to do.
  CHECK(a.calib_joins == std::vector<uint8_t>{0, 1, 1});
  CHECK(a.calib_seed_layer == std::vector<int64_t>{-1, 2, -1});
  REQUIRE(r->seeds.size() == 1);
  CHECK(r->seeds[0].first == 2);
  CHECK(r->seeds[0].second == Product(2, "fp"));
  CHECK(r->units_reusing == 5);
  CHECK(r->units_recalibrated == 0);
  CHECK(r->products_dropped == 1);
  auto stale = s.GetStats("job", BlockInputKey(5));
  REQUIRE(stale.ok());
  CHECK_FALSE(stale->has_value());  // dropped from the store
  CHECK(r->summary == "calibration: 5 unit(s) reuse stored products, 0 recalibrated; the forward pass starts: "
                      "rank 2 at block 2 from stored activations");

  // Rank 2 with only its last block to do: block 4's stored input is damaged
  // (dropped), block 3's is absent, block 2's is the latest good one at or
  // before block 4 within its range; ranks 1 and 3 stay out.
  JobAssignment b;
  b.recipe.algorithm = Algorithm::kAwq;
  b.ranges = plan.ranges;
  b.inputs_fingerprint = "fp";
  b.todo = {5};
  auto r2 = PlanCalibrationResume(s, "job", plan, &b);
  REQUIRE(r2.ok());
  CHECK(b.calib_joins == std::vector<uint8_t>{0, 1, 0});
  CHECK(b.calib_seed_layer == std::vector<int64_t>{-1, 2, -1});
  CHECK(r2->products_dropped == 1);
  CHECK(r2->units_reusing == 1);
  auto damaged_now = s.GetStats("job", BlockInputKey(4));
  REQUIRE(damaged_now.ok());
  CHECK_FALSE(damaged_now->has_value());

  // Nothing stored for rank 1's blocks: a job resumed at block 1 starts at the embeddings.
  JobAssignment c;
  c.recipe.algorithm = Algorithm::kGptq;
  c.ranges = plan.ranges;
  c.inputs_fingerprint = "other";
  c.todo = {1, 2, 3, 4, 5, 6, 7};
  auto r3 = PlanCalibrationResume(s, "job", plan, &c);
  REQUIRE(r3.ok());
  CHECK(c.calib_joins == std::vector<uint8_t>{1, 1, 1});
  CHECK(c.calib_seed_layer == std::vector<int64_t>{-1, -1, -1});
  CHECK(r3->units_recalibrated == 7);
  CHECK(r3->units_reusing == 0);
  CHECK(r3->summary.find("rank 1 at the embeddings") != std::string::npos);
}

TEST_CASE("a resumed imatrix job hands over stored unit statistics and calibrates only what lacks them",
          "[products][state]") {
  auto store = StateStore::Open(testing::MakeTempDir("calib_resume_stats") + "/db");
  REQUIRE(store.ok());
  StateStore& s = **store;
  UnitPlan plan = SixBlockPlan();
  for (int64_t i = 0; i < 8; ++i) plan.units[i].tensors = {"t" + std::to_string(i)};
  auto stats_of = [](int64_t unit, const std::string& fingerprint) {
    CalibrationStats cs;
    cs.Entry("t" + std::to_string(unit), 2).Accumulate(std::vector<float>{1.0f, -2.0f}.data(), 1, false);
    UnitStatsProduct p;
    p.unit = unit;
    p.inputs_fingerprint = fingerprint;
    p.stats = cs.Encode();
    return EncodeUnitStatsProduct(p);
  };
  // Units 3..7 to do: rank 2's (3, 4, 5) and rank 3's (6, 7) statistics kept,
  // except unit 5's, which came from other inputs.
  for (int64_t u : {3, 4, 6, 7}) REQUIRE(s.PutStats("job", UnitStatsKey(u), stats_of(u, "fp")).ok());
  REQUIRE(s.PutStats("job", UnitStatsKey(5), stats_of(5, "old")).ok());
  JobAssignment a;
  a.recipe.algorithm = Algorithm::kImatrix;
  a.ranges = plan.ranges;
  a.inputs_fingerprint = "fp";
  a.todo = {3, 4, 5, 6, 7};
  auto r = PlanCalibrationResume(s, "job", plan, &a);
  REQUIRE(r.ok());
  CHECK(a.stats_stored == std::vector<int64_t>{3, 4, 6, 7});
  CHECK(a.calib_joins == std::vector<uint8_t>{1, 1, 0});  // unit 5 needs rank 1's output; rank 3 needs nothing
  CHECK(a.calib_seed_layer == std::vector<int64_t>{-1, -1, -1});
  REQUIRE(r->seeds.size() == 4);
  CHECK(r->seeds[0] == std::make_pair(2, stats_of(3, "fp")));
  CHECK(r->seeds[3] == std::make_pair(3, stats_of(7, "fp")));
  CHECK(r->units_reusing == 4);
  CHECK(r->units_recalibrated == 1);
  CHECK(r->products_dropped == 1);
  CHECK(r->summary == "calibration: 4 unit(s) reuse stored products, 1 recalibrated; the forward pass starts: "
                      "rank 1 at the embeddings");

  // Every unit to do has its statistics: no rank calibrates.
  JobAssignment b = a;
  b.stats_stored.clear();
  b.todo = {6, 7};
  auto r2 = PlanCalibrationResume(s, "job", plan, &b);
  REQUIRE(r2.ok());
  CHECK(b.calib_joins == std::vector<uint8_t>{0, 0, 0});
  CHECK(r2->summary == "calibration: 2 unit(s) reuse stored products, 0 recalibrated; no forward pass");
}
