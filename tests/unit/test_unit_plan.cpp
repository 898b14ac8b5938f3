// Unit planning: units from a model's tensor list, and contiguous unit ranges
// per worker rank whose largest byte total is the optimum (checked by brute force).
#include <algorithm>
#include <functional>
#include <limits>

#include <catch2/catch.hpp>

#include "common/model.h"
#include "common/tensor_order.h"
#include "runtime/unit_plan.h"
#include "test_util.h"

namespace shardq {
namespace {

std::vector<TensorInfo> ModelTensors(const std::string& rel) {
  Result<Model> m = OpenModel(testing::SharedPath(rel));
  REQUIRE(m.ok());
  return m->source->tensors();
}

TensorInfo Tensor(const std::string& name, std::vector<int64_t> shape) {
  TensorInfo t;
  t.name = name;
  t.shape = std::move(shape);
  return t;
}

// Smallest possible maximum over every way to cut `bytes` into k non-empty
// contiguous ranges, by enumerating all cut positions.
uint64_t BruteForceOptimum(const std::vector<uint64_t>& bytes, int64_t k) {
  uint64_t best = std::numeric_limits<uint64_t>::max();
  const int64_t n = static_cast<int64_t>(bytes.size());
  std::function<void(int64_t, int64_t, uint64_t)> go = [&](int64_t begin, int64_t left, uint64_t worst) {
    if (left == 1) {
      uint64_t sum = 0;
      for (int64_t i = begin; i < n; ++i) sum += bytes[i];
      best = std::min(best, std::max(worst, sum));
      return;
    }
    uint64_t sum = 0;
    for (int64_t end = begin + 1; end <= n - (left - 1); ++end) {
      sum += bytes[end - 1];
      go(end, left - 1, std::max(worst, sum));
    }
  };
  go(0, k, 0);
  return best;
}

void CheckPlan(const std::vector<TensorInfo>& tensors, int n_workers, int first_worker) {
  INFO("workers " << n_workers << ", first rank " << first_worker);
  Result<UnitPlan> planned = MakeUnitPlan(tensors, n_workers, first_worker);
  REQUIRE(planned.ok());
  const UnitPlan& plan = *planned;
  const int64_t n_units = static_cast<int64_t>(plan.units.size());
  const int64_t k = std::min<int64_t>(n_workers, n_units);
  REQUIRE(static_cast<int64_t>(plan.ranges.size()) == k);

  // Contiguous, non-empty, covering, ranks numbered from first_worker.
  int64_t expect_begin = 0;
  uint64_t worst = 0;
  for (size_t r = 0; r < plan.ranges.size(); ++r) {
    const RankRange& range = plan.ranges[r];
    CHECK(range.rank == first_worker + static_cast<int>(r));
    CHECK(range.begin == expect_begin);
    CHECK(range.end > range.begin);
    uint64_t sum = 0;
    for (int64_t u = range.begin; u < range.end; ++u) {
      sum += plan.units[u].bytes;
      CHECK(plan.OwnerOf(u) == range.rank);
    }
    worst = std::max(worst, sum);
    expect_begin = range.end;
  }
  CHECK(expect_begin == n_units);
  CHECK(plan.OwnerOf(n_units) == -1);
  CHECK(plan.OwnerOf(-1) == -1);

  std::vector<uint64_t> bytes;
  for (const Unit& u : plan.units) bytes.push_back(u.bytes);
  CHECK(worst == BruteForceOptimum(bytes, k));

  // Deterministic: the same input gives the same ranges.
  Result<UnitPlan> again = MakeUnitPlan(tensors, n_workers, first_worker);
  REQUIRE(again.ok());
  REQUIRE(again->ranges.size() == plan.ranges.size());
  for (size_t r = 0; r < plan.ranges.size(); ++r) {
    CHECK(again->ranges[r].begin == plan.ranges[r].begin);
    CHECK(again->ranges[r].end == plan.ranges[r].end);
  }
}

// The units concatenate to the canonical tensor order, each indexed by position.
void CheckUnitsCoverCanonicalOrder(const std::vector<TensorInfo>& tensors, const UnitPlan& plan) {
  std::vector<std::string> canonical, from_units;
  for (size_t i : CanonicalTensorOrder(tensors)) canonical.push_back(tensors[i].name);
  for (size_t u = 0; u < plan.units.size(); ++u) {
    CHECK(plan.units[u].index == static_cast<int64_t>(u));
    for (const std::string& name : plan.units[u].tensors) from_units.push_back(name);
  }
  CHECK(from_units == canonical);
}

}  // namespace

TEST_CASE("unit plan: shakespeare-5m has embeddings, six blocks and a head, F32 bytes", "[assemble]") {
  const std::vector<TensorInfo> tensors = ModelTensors("models/shakespeare-5m");
  Result<UnitPlan> plan = MakeUnitPlan(tensors, 1, 1);
  REQUIRE(plan.ok());
  REQUIRE(plan->units.size() == 8);
  CheckUnitsCoverCanonicalOrder(tensors, *plan);

  const Unit& emb = plan->units[0];
  CHECK(emb.name == "embeddings");
  CHECK(emb.block == -1);
  CHECK(emb.tensors == std::vector<std::string>{"token_embd.weight"});
  CHECK(emb.bytes == 1024u * 256u * 4u);

  // A block by hand: two norms of 256, q and o 256x256, k and v 128x256, gate/up/down 768x256.
  const uint64_t block_elems = 2 * 256 + 2 * 256 * 256 + 2 * 128 * 256 + 3 * 768 * 256;
  for (int b = 0; b < 6; ++b) {
    const Unit& u = plan->units[1 + b];
    CHECK(u.name == "blk." + std::to_string(b));
    CHECK(u.block == b);
    CHECK(u.bytes == block_elems * 4);
    REQUIRE(u.tensors.size() == 9);
    CHECK(u.tensors.front() == "blk." + std::to_string(b) + ".attn_norm.weight");
    CHECK(u.tensors.back() == "blk." + std::to_string(b) + ".ffn_down.weight");
  }
  const Unit& head = plan->units[7];
  CHECK(head.name == "head");
  CHECK(head.tensors == std::vector<std::string>{"output_norm.weight", "output.weight"});
  CHECK(head.bytes == (256u + 1024u * 256u) * 4u);
  // The README's parameter count.
  uint64_t total = 0;
  for (const Unit& u : plan->units) total += u.bytes;
  CHECK(total == 5246208ull * 4);

  REQUIRE(plan->ranges.size() == 1);
  CHECK(plan->ranges[0].rank == 1);
  CHECK(plan->ranges[0].begin == 0);
  CHECK(plan->ranges[0].end == 8);
}

TEST_CASE("unit plan: shakespeare-5m split over 1..4 workers is optimal and deterministic", "[assemble]") {
  const std::vector<TensorInfo> tensors = ModelTensors("models/shakespeare-5m");
  for (int w = 1; w <= 4; ++w) CheckPlan(tensors, w, 1);
  CheckPlan(tensors, 3, 0);
  // Hand-checked: embeddings + blk.0..2 = 10491904 bytes, blk.3..5 + head = 10492928;
  // cutting one unit earlier or later leaves a side above 13 MB.
  Result<UnitPlan> two = MakeUnitPlan(tensors, 2, 1);
  REQUIRE(two.ok());
  CHECK(two->ranges[0].end == 4);
}

TEST_CASE("unit plan: stories260K has seven units, split over 1..4 workers", "[assemble]") {
  // llama.cpp's GGUF stores output.weight; the HF folder ties it to the embeddings.
  const std::vector<std::pair<std::string, std::vector<std::string>>> forms = {
      {"models/stories260K/stories260K.gguf", {"output_norm.weight", "output.weight"}},
      {"models/stories260K", {"output_norm.weight"}}};
  for (const auto& [rel, head] : forms) {
    INFO(rel);
    const std::vector<TensorInfo> tensors = ModelTensors(rel);
    Result<UnitPlan> plan = MakeUnitPlan(tensors, 4, 1);
    REQUIRE(plan.ok());
    REQUIRE(plan->units.size() == 7);
    CheckUnitsCoverCanonicalOrder(tensors, *plan);
    CHECK(plan->units[6].name == "head");
    CHECK(plan->units[6].tensors == head);
    CHECK(plan->units[0].bytes == 512u * 64u * 4u);
    for (int w = 1; w <= 4; ++w) CheckPlan(tensors, w, 1);
  }
}

TEST_CASE("unit plan: more workers than units are capped, one unit each", "[assemble]") {
  const std::vector<TensorInfo> tensors = ModelTensors("models/stories260K/stories260K.gguf");
  Result<UnitPlan> plan = MakeUnitPlan(tensors, 12, 1);
  REQUIRE(plan.ok());
  REQUIRE(plan->ranges.size() == 7);
  for (int r = 0; r < 7; ++r) {
    CHECK(plan->ranges[r].rank == 1 + r);
    CHECK(plan->ranges[r].begin == r);
    CHECK(plan->ranges[r].end == r + 1);
  }
}

TEST_CASE("unit plan: unknown tensors join the head and uneven units balance", "[assemble]") {
  // Synthetic: out-of-order input, a gap in the block numbers, an unknown tensor.
  std::vector<TensorInfo> tensors = {
      Tensor("rope_freqs.weight", {16}),           Tensor("blk.3.attn_q.weight", {100, 10}),
      Tensor("output_norm.weight", {10}),          Tensor("blk.0.attn_q.weight", {10, 10}),
      Tensor("token_embd.weight", {50, 10}),       Tensor("blk.0.extra.weight", {7}),
      Tensor("blk.1.ffn_down.weight", {300, 10}),
  };
  Result<UnitPlan> plan = MakeUnitPlan(tensors, 2, 5);
  REQUIRE(plan.ok());
  REQUIRE(plan->units.size() == 5);
  CHECK(plan->units[0].name == "embeddings");
  CHECK(plan->units[1].name == "blk.0");
  CHECK(plan->units[1].tensors == std::vector<std::string>{"blk.0.attn_q.weight", "blk.0.extra.weight"});
  CHECK(plan->units[1].bytes == (100u + 7u) * 4u);
  CHECK(plan->units[2].name == "blk.1");
  CHECK(plan->units[3].name == "blk.3");
  CHECK(plan->units[3].block == 3);
  CHECK(plan->units[4].tensors == std::vector<std::string>{"output_norm.weight", "rope_freqs.weight"});
  // Units 2000, 428, 12000, 4000, 104 bytes: best is {0,1,2} | {3,4} = 14428 vs 4104.
  CheckPlan(tensors, 2, 5);
  CHECK(plan->ranges[0].end == 3);
  CHECK(plan->ranges[1].rank == 6);
  CheckPlan(tensors, 3, 0);
}

TEST_CASE("unit plan: bad inputs are errors", "[assemble]") {
  const std::vector<TensorInfo> tensors = {Tensor("token_embd.weight", {4, 4})};
  Result<UnitPlan> none = MakeUnitPlan(tensors, 0, 1);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == Status::Code::kInvalidArgument);
  Result<UnitPlan> empty = MakeUnitPlan({}, 2, 1);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == Status::Code::kInvalidArgument);
  Result<UnitPlan> negative = MakeUnitPlan(tensors, 1, -1);
  CHECK_FALSE(negative.ok());
}

}  // namespace shardq
