// The mixed-precision allocator against exhaustive search: on small random
// instances (sizes in bytes, granularity 1) the dynamic programme finds the
// least total loss any assignment within the budget has, and never exceeds it.
#include <catch2/catch.hpp>

#include <limits>
#include <random>

#include "worker/bit_allocator.h"
#include "worker/type_allocation.h"

using namespace shardq;

namespace {

// Least loss over all assignments with bytes <= budget (inf when none).
double BruteForce(const std::vector<AllocationItem>& items, uint64_t budget) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> pick(items.size(), 0);
  for (;;) {
    uint64_t bytes = 0;
    double loss = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      bytes += items[i].options[pick[i]].bytes;
      loss += items[i].options[pick[i]].loss;
    }
    if (bytes <= budget && loss < best) best = loss;
    size_t i = 0;
    while (i < items.size() && ++pick[i] == items[i].options.size()) pick[i++] = 0;
    if (i == items.size()) return best;
  }
}

}  // namespace

TEST_CASE("bit allocator: the knapsack optimum of exhaustive search, within the budget", "[mixed]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> n_items(1, 6), n_opts(1, 4), size(1, 40);
  std::uniform_real_distribution<double> loss(0.0, 1.0);
  int feasible = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<AllocationItem> items(n_items(rng));
    uint64_t max_total = 0;
    for (auto& it : items) {
      uint64_t biggest = 0;
      for (int k = n_opts(rng); k > 0; --k) {
        it.options.push_back({static_cast<uint64_t>(size(rng)), loss(rng)});
        biggest = std::max(biggest, it.options.back().bytes);
      }
      max_total += biggest;
    }
    const uint64_t budget = std::uniform_int_distribution<uint64_t>(0, max_total)(rng);
    const double want = BruteForce(items, budget);
    Result<Allocation> got = AllocateBits(items, budget, /*granularity=*/1);
    INFO("trial " << trial << " budget " << budget);
    if (want == std::numeric_limits<double>::infinity()) {
      CHECK_FALSE(got.ok());
      continue;
    }
    ++feasible;
    REQUIRE(got.ok());
    REQUIRE(got->choice.size() == items.size());
    uint64_t bytes = 0;
    double total = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      bytes += items[i].options[got->choice[i]].bytes;
      total += items[i].options[got->choice[i]].loss;
    }
    CHECK(bytes == got->bytes);
    CHECK(bytes <= budget);
    CHECK(total == Approx(want).margin(1e-12));
    CHECK(got->loss == Approx(total).margin(1e-12));
  }
  CHECK(feasible > 100);  // the instances exercise the optimum, not only the errors
}

TEST_CASE("bit allocator: coarse units never break the budget, impossible budgets are errors", "[mixed]") {
  std::vector<AllocationItem> items = {{{{1000, 3.0}, {2000, 1.0}, {3000, 0.5}}},
                                       {{{1500, 2.0}, {2500, 0.2}}}};
  auto a = AllocateBits(items, 4499, /*granularity=*/100);
  REQUIRE(a.ok());
  CHECK(a->bytes <= 4499);
  // 2000 + 2500 and 3000 + 1500 take 4500: too many; 2000 + 1500 loses 3.0, 1000 + 2500 3.2.
  CHECK(a->choice == std::vector<int>{1, 0});
  CHECK(a->loss == Approx(3.0));
  auto none = AllocateBits(items, 2499);
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.status().message(), Catch::Contains("2500 bytes, over the budget of 2499"));
}

namespace shardq {
namespace {

TEST_CASE("mixed precision candidates fit the row: K-quants, else llama.cpp's 32-wide fallbacks", "[mixed]") {
  using T = GgmlType;
  CHECK(MixedPrecisionCandidatesFor(768) == std::vector<T>{T::Q2_K, T::Q3_K, T::Q4_K, T::Q5_K, T::Q6_K, T::Q8_0});
  // stories260K's 64-wide rows: no 256-wide block divides them.
  CHECK(MixedPrecisionCandidatesFor(64) == std::vector<T>{T::Q4_0, T::IQ4_NL, T::Q4_1, T::Q5_0, T::Q5_1, T::Q8_0});
  // 172 = 5 x 32 + 12: nothing fits; the tensor keeps its planned type.
  CHECK(MixedPrecisionCandidatesFor(172).empty());
}

}  // namespace
}  // namespace shardq
