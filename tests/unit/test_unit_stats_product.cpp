// Unit-statistics products (runtime/unit_stats_product.h): round trip, and any
// damage (a flipped bit, a cut) or mismatch (another unit, other job inputs) is refused.
#include <catch2/catch.hpp>

#include <vector>

#include "runtime/unit_stats_product.h"

using namespace shardq;

TEST_CASE("unit-statistics product round-trips and refuses damage", "[products]") {
  UnitStatsProduct p;
  p.unit = 5;
  p.inputs_fingerprint = "beef";
  p.stats = {9, 8, 7, 6, 5};
  const std::vector<uint8_t> bytes = EncodeUnitStatsProduct(p);
  // 4 magic + 4 version + 8 unit + 4 + 4 fingerprint + 8 length + 5 stats + 4 crc
  CHECK(bytes.size() == 41);
  CHECK(IsUnitStatsProduct(bytes));
  CHECK(UnitStatsKey(12) == "unit-stats/000012");
  auto back = DecodeUnitStatsProduct(bytes.data(), bytes.size(), "t");
  REQUIRE(back.ok());
  CHECK(back->unit == 5);
  CHECK(back->inputs_fingerprint == "beef");
  CHECK(back->stats == p.stats);
  CHECK(CheckUnitStatsProduct(*back, 5, "beef", "t").ok());
  CHECK(CheckUnitStatsProduct(*back, 4, "beef", "t").message().find("unit 5, expected 4") != std::string::npos);
  CHECK(CheckUnitStatsProduct(*back, 5, "cafe", "t").message().find("other inputs") != std::string::npos);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x04;
    auto r = DecodeUnitStatsProduct(bad.data(), bad.size(), "stored stats");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("stored stats") != std::string::npos);
  }
  for (size_t n : {size_t{0}, size_t{7}, bytes.size() - 1}) CHECK_FALSE(DecodeUnitStatsProduct(bytes.data(), n, "cut").ok());
}
