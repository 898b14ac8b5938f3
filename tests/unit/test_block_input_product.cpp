// Block-input products (runtime/block_input_product.h): the encoder's two entry
// points write the same bytes, the decoder gives back exactly what went in, and
// any damage (a flipped bit, a cut, another layer or job inputs) is refused.
#include <catch2/catch.hpp>

#include <vector>

#include "runtime/block_input_product.h"

using namespace shardq;

namespace {

BlockInputProduct Sample() {
  BlockInputProduct p;
  p.layer = 3;
  p.inputs_fingerprint = "abc123";
  p.dim = 4;
  p.window_tokens = {2, 3};
  for (int i = 0; i < 5 * 4; ++i) p.hidden.push_back(0.25f * static_cast<float>(i) - 1.5f);
  return p;
}

}  // namespace

TEST_CASE("block-input product round-trips, from either encoder", "[products]") {
  const BlockInputProduct p = Sample();
  const std::vector<uint8_t> bytes = EncodeBlockInputProduct(p);
  // 4 magic + 4 version + 8 layer + 4 + 6 fingerprint + 8 dim + 4 count + 16 lengths + 80 floats + 4 crc
  CHECK(bytes.size() == 138);
  const std::vector<std::vector<float>> windows = {std::vector<float>(p.hidden.begin(), p.hidden.begin() + 8),
                                                   std::vector<float>(p.hidden.begin() + 8, p.hidden.end())};
  CHECK(EncodeBlockInputWindows(3, "abc123", 4, windows) == bytes);
  auto back = DecodeBlockInputProduct(bytes.data(), bytes.size(), "t");
  REQUIRE(back.ok());
  CHECK(back->layer == 3);
  CHECK(back->inputs_fingerprint == "abc123");
  CHECK(back->dim == 4);
  CHECK(back->window_tokens == p.window_tokens);
  CHECK(back->hidden == p.hidden);
  CHECK(CheckBlockInputProduct(*back, 3, "abc123", "t").ok());
  CHECK(BlockInputKey(7) == "block-input/000007");
}

TEST_CASE("a damaged or mismatched block-input product is refused", "[products]") {
  const std::vector<uint8_t> bytes = EncodeBlockInputProduct(Sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x10;
    auto r = DecodeBlockInputProduct(bad.data(), bad.size(), "stored inputs");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("stored inputs") != std::string::npos);
  }
  for (size_t n : {size_t{0}, size_t{3}, bytes.size() - 1}) {
    auto r = DecodeBlockInputProduct(bytes.data(), n, "cut");
    CHECK_FALSE(r.ok());
  }
  auto good = DecodeBlockInputProduct(bytes.data(), bytes.size(), "t");
  REQUIRE(good.ok());
  Status other_layer = CheckBlockInputProduct(*good, 4, "abc123", "p");
  CHECK(other_layer.message().find("block 3, expected 4") != std::string::npos);
  Status other_inputs = CheckBlockInputProduct(*good, 3, "zzz", "p");
  CHECK(other_inputs.message().find("other inputs") != std::string::npos);
}
