// Calibration statistics: accumulation against direct sums, the file format's
// round trip and its checksum, and --imatrix reaching the quantizer.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/crc32c.h"
#include "tests/unit/test_util.h"
#include "worker/calibration_stats.h"

using namespace shardq;
namespace fs = std::filesystem;

TEST_CASE("CRC-32C matches the published check value", "[stats]") {
  // RFC 3720's test vector: 32 bytes of zeros -> 0x8a9136aa; "123456789" -> 0xe3069283.
  const uint8_t zeros[32] = {};
  REQUIRE(Crc32c(zeros, 32) == 0x8a9136aau);
  REQUIRE(Crc32c("123456789", 9) == 0xe3069283u);
  REQUIRE(Crc32c("6789", 4, Crc32c("12345", 5)) == 0xe3069283u);  // extends
}

TEST_CASE("ChannelStats accumulate mean x^2, absmax and X^T X exactly", "[stats]") {
  const int64_t n = 5, tokens = 7;
  std::vector<float> x(tokens * n);
  for (int64_t i = 0; i < tokens * n; ++i) x[i] = static_cast<float>((i * 37 % 11) - 5) * 0.25f;
  ChannelStats s;
  s.n_channels = n;
  s.Accumulate(x.data(), 3, true);                 // two micro-batches ...
  s.Accumulate(x.data() + 3 * n, tokens - 3, true);
  REQUIRE(s.token_count == tokens);
  for (int64_t c = 0; c < n; ++c) {
    double sq = 0;
    float mx = 0;
    for (int64_t t = 0; t < tokens; ++t) {
      sq += double(x[t * n + c]) * x[t * n + c];
      mx = std::max(mx, std::fabs(x[t * n + c]));
    }
    REQUIRE(s.sum_sq[c] == Approx(sq).epsilon(1e-15));
    REQUIRE(s.absmax[c] == mx);
    REQUIRE(s.MeanSquare()[c] == Approx(sq / tokens));
    for (int64_t d = 0; d < n; ++d) {
      double h = 0;
      for (int64_t t = 0; t < tokens; ++t) h += double(x[t * n + c]) * x[t * n + d];
      REQUIRE(s.hessian[c * n + d] == Approx(h).margin(1e-12));
    }
  }
  // ... equal one merged from two halves.
  ChannelStats a, b;
  a.n_channels = b.n_channels = n;
  a.Accumulate(x.data(), 4, true);
  b.Accumulate(x.data() + 4 * n, tokens - 4, true);
  REQUIRE(a.Merge(b).ok());
  REQUIRE(a.token_count == tokens);
  for (int64_t c = 0; c < n; ++c) REQUIRE(a.sum_sq[c] == Approx(s.sum_sq[c]));
  ChannelStats wrong;
  wrong.n_channels = n + 1;
  wrong.Accumulate(std::vector<float>(n + 1, 1.0f).data(), 1, false);
  REQUIRE_FALSE(a.Merge(wrong).ok());
}

TEST_CASE("Statistics file: round trip, checksum, truncation", "[stats]") {
  const std::string dir = testing::MakeTempDir("stats");
  const std::string path = dir + "/calib.stats";
  CalibrationStats stats;
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  for (const char* name : {"blk.0.attn_q.weight", "blk.0.ffn_down.weight"}) {
    std::vector<float> x(16 * 8);
    for (auto& v : x) v = g(rng);
    stats.Entry(name, 8).Accumulate(x.data(), 16, std::string(name).find("attn") != std::string::npos);
  }
  REQUIRE(stats.Save(path).ok());
  auto loaded = CalibrationStats::Load(path);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->size() == 2);
  for (const auto& [name, s] : stats.entries()) {
    const ChannelStats* l = loaded->Find(name);
    REQUIRE(l != nullptr);
    REQUIRE(l->token_count == s.token_count);
    REQUIRE(l->sum_sq == s.sum_sq);
    REQUIRE(l->absmax == s.absmax);
    REQUIRE(l->hessian == s.hessian);
  }
  REQUIRE(loaded->Find("blk.0.ffn_down.weight")->hessian.empty());

  std::vector<uint8_t> bytes = testing::ReadFileBytes(path);
  for (size_t at : {size_t(9), bytes.size() / 2, bytes.size() - 5}) {
    std::vector<uint8_t> bad = bytes;
    bad[at] ^= 0x10;
    std::ofstream(dir + "/bad.stats", std::ios::binary).write(reinterpret_cast<const char*>(bad.data()), bad.size());
    auto r = CalibrationStats::Load(dir + "/bad.stats");
    REQUIRE_FALSE(r.ok());
    REQUIRE_THAT(r.status().message(), Catch::Contains("bad.stats"));
  }
  std::ofstream(dir + "/short.stats", std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), 40);
  REQUIRE_FALSE(CalibrationStats::Load(dir + "/short.stats").ok());
  REQUIRE_FALSE(CalibrationStats::Load(dir + "/missing.stats").ok());
  fs::remove_all(dir);
}
