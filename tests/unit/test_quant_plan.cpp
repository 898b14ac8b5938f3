// Per-tensor type choices against what llama-quantize chose for the same models
// (golden files), plus shardq's own overrides and fallbacks.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

#include "common/gguf_reader.h"
#include "tests/unit/test_util.h"
#include "common/quant_plan.h"

using namespace shardq;

namespace {

QuantPlanOptions WithPreset(const char* name) {
  QuantPlanOptions o;
  auto p = FindPreset(name);
  REQUIRE(p.has_value());
  o.preset = *p;
  return o;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST_CASE("Presets reproduce llama-quantize's per-tensor types on shakespeare-5m", "[quant_plan]") {
  for (const char* preset : {"Q4_K_M", "Q6_K", "Q8_0", "Q4_0"}) {
    INFO(preset);
    auto golden = GgufFile::Open(testing::SharedPath(std::string("golden/gguf/shakespeare-5m-") + preset + ".gguf"));
    REQUIRE(golden.ok());
    const auto& tensors = (*golden)->tensors();
    auto plan = PlanTensorTypes(tensors, WithPreset(preset));
    REQUIRE(plan.ok());
    REQUIRE(plan->size() == tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      INFO(tensors[i].name);
      REQUIRE(std::string(GgmlTypeName((*plan)[i].type)) == GgmlTypeName(tensors[i].type));
    }
  }
}

TEST_CASE("Q4_K_M on stories260K falls back exactly as llama-quantize did", "[quant_plan]") {
  // Lines like "[   9/  48] blk.0.ffn_down.weight 172x64 -> f16" (ggml order: ne0 x ne1).
  std::ifstream in(testing::SharedPath("golden/gguf/stories260K-Q4_K_M-types.txt"));
  REQUIRE(in.good());
  const std::regex line_re(R"(\]\s+(\S+)\s+(\d+)x(\d+)\s+->\s+(\w+))");
  std::vector<TensorInfo> tensors;
  std::vector<std::string> want;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, line_re)) continue;
    TensorInfo t;
    t.name = m[1];
    const int64_t ne0 = std::stoll(m[2]), ne1 = std::stoll(m[3]);
    t.shape = ne1 == 1 ? std::vector<int64_t>{ne0} : std::vector<int64_t>{ne1, ne0};
    tensors.push_back(t);
    want.push_back(m[4]);
  }
  REQUIRE(tensors.size() == 48);
  auto plan = PlanTensorTypes(tensors, WithPreset("Q4_K_M"));
  REQUIRE(plan.ok());
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].name);
    REQUIRE(Lower(GgmlTypeName((*plan)[i].type)) == want[i]);
  }
  // The reason says why a tensor did not get the preset's type.
  REQUIRE_THAT((*plan)[8].reason, Catch::Contains("fallback: row 172"));
}

TEST_CASE("Overrides, --pure and shardq's F16 fallback for legacy types", "[quant_plan]") {
  std::vector<TensorInfo> ts(4);
  ts[0].name = "blk.0.attn_v.weight"; ts[0].shape = {256, 256};
  ts[1].name = "blk.0.ffn_down.weight"; ts[1].shape = {256, 172};
  ts[2].name = "blk.0.attn_norm.weight"; ts[2].shape = {256};
  ts[3].name = "output.weight"; ts[3].shape = {1024, 256};

  QuantPlanOptions o = WithPreset("Q8_0");
  auto plan = PlanTensorTypes(ts, o);
  REQUIRE(plan.ok());
  REQUIRE((*plan)[0].type == GgmlType::Q8_0);
  REQUIRE((*plan)[1].type == GgmlType::F16);  // llama-quantize has no fallback here and stops
  REQUIRE((*plan)[2].type == GgmlType::F32);
  REQUIRE_FALSE((*plan)[2].quantized);
  REQUIRE((*plan)[3].type == GgmlType::Q8_0);

  o = WithPreset("Q4_K_M");
  auto ov = ParseTensorTypeOverride("attn_v=Q5_0");
  REQUIRE(ov.ok());
  o.overrides.push_back(*ov);
  plan = PlanTensorTypes(ts, o);
  REQUIRE(plan.ok());
  REQUIRE((*plan)[0].type == GgmlType::Q5_0);
  REQUIRE((*plan)[0].reason == "--tensor-type attn_v");
  REQUIRE((*plan)[3].type == GgmlType::Q6_K);

  o = WithPreset("Q4_K_M");
  o.pure = true;
  plan = PlanTensorTypes(ts, o);
  REQUIRE(plan.ok());
  REQUIRE((*plan)[0].type == GgmlType::Q4_K);
  REQUIRE((*plan)[3].type == GgmlType::Q4_K);

  REQUIRE_FALSE(ParseTensorTypeOverride("attn_v").ok());
  REQUIRE_FALSE(ParseTensorTypeOverride("attn_v=Q9_9").ok());
  REQUIRE_THAT(ParseTensorTypeOverride("(=Q8_0").status().message(), Catch::Contains("bad regular expression"));
  REQUIRE_FALSE(FindPreset("Q4_K_X").has_value());
}
