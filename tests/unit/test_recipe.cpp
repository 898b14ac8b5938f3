// The typed recipe: the example specs parse to the stages and options they say,
// size targets and GPTQ settings are validated with the field named, and the
// recipe survives the trip to the workers (EncodeRecipe / DecodeRecipe).
#include <catch2/catch.hpp>

#include "common/job_spec.h"
#include "common/recipe.h"

using namespace shardq;

namespace {

Result<Recipe> FromYaml(const std::string& quantize, const std::string& extra = "") {
  auto spec = ParseJobSpec("model: m\noutput: {path: o}\nrecipe: {quantize: " + quantize + "}\n" + extra, "job.yaml");
  if (!spec.ok()) return spec.status();
  return RecipeFromSpec(*spec, "job.yaml");
}

const char* kCalib = "calibration: {text: c.txt, samples: 4, seq_len: 16}\n";

}  // namespace

TEST_CASE("recipe: the gptq + mixed example is what it says", "[recipe]") {
  auto spec = LoadJobSpec(std::string(SHARDQ_SOURCE_DIR) + "/examples/shakespeare-5m-gptq-mixed.yaml");
  REQUIRE(spec.ok());
  auto r = RecipeFromSpec(*spec, "example");
  REQUIRE(r.ok());
  CHECK(r->algorithm == Algorithm::kGptq);
  CHECK(r->Stages() == std::vector<StageKind>{StageKind::kCalibrate, StageKind::kQuantize});
  CHECK(r->NeedsBlockActivations());
  CHECK(r->UsesImportance());
  REQUIRE(r->size_target.has_value());
  CHECK(r->size_target->bits_per_weight == 4.8);
  CHECK(r->size_target->file_bytes == 0);
  CHECK(r->gptq.damp == 0.01);
  CHECK_FALSE(r->gptq.act_order);
}

TEST_CASE("recipe: every algorithm name, and what each needs", "[recipe]") {
  for (const char* name : {"rtn", "imatrix", "gptq", "awq", "awq+gptq"}) {
    auto a = ParseAlgorithm(name);
    REQUIRE(a.has_value());
    CHECK(std::string(AlgorithmName(*a)) == name);
  }
  CHECK_FALSE(ParseAlgorithm("GPTQ").has_value());
  auto awq = FromYaml("{algorithm: awq}", kCalib);
  REQUIRE(awq.ok());
  CHECK(awq->UsesAwq());
  CHECK_FALSE(awq->UsesGptq());
  CHECK_FALSE(awq->UsesImportance());
  auto both = FromYaml("{algorithm: awq+gptq, gptq: {act_order: true, damp: 0.05, block_columns: 64}}", kCalib);
  REQUIRE(both.ok());
  CHECK(both->UsesAwq());
  CHECK(both->UsesGptq());
  CHECK(both->gptq.act_order);
  CHECK(both->gptq.damp == 0.05);
  CHECK(both->gptq.block_columns == 64);
  // Without calibration text, every algorithm but rtn is refused, naming the field.
  for (const char* name : {"imatrix", "gptq", "awq", "awq+gptq"}) {
    auto r = FromYaml(std::string("{algorithm: ") + name + "}");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("recipe.quantize.algorithm") && Catch::Contains("calibration"));
  }
}

TEST_CASE("recipe: bad size targets and GPTQ settings name their field", "[recipe]") {
  auto expect = [](const std::string& quantize, const std::string& needle) {
    auto r = FromYaml(quantize, kCalib);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message());
    CHECK(r.status().message().find(needle) != std::string::npos);
  };
  expect("{algorithm: gptq, target_bpw: 0.5}", "recipe.quantize.target_bpw: must be in (1, 32]");
  expect("{algorithm: gptq, target_size: 0}", "recipe.quantize.target_size: must be a positive number");
  expect("{algorithm: gptq, target_bpw: 4, target_size: 100}", "target_bpw and target_size exclude each other");
  expect("{algorithm: rtn, target_bpw: 4}", "choose a calibrating algorithm");
  expect("{algorithm: imatrix, gptq: {damp: 0.1}}", "recipe.quantize.gptq: GPTQ settings need algorithm gptq");
  expect("{algorithm: gptq, gptq: {damp: -1}}", "recipe.quantize.gptq.damp: must be in [0, 1]");
  expect("{algorithm: gptq, gptq: {block_columns: 0}}", "recipe.quantize.gptq.block_columns: must be in 1..65536");
  expect("{algorithm: gptq, gptq: {act_order: maybe}}", "recipe.quantize.gptq.act_order: expected true or false");
  expect("{algorithm: gptq, gptq: {lazy: 1}}", "recipe.quantize.gptq.lazy: unknown field");
  expect("{algorithm: best}", "unknown algorithm 'best' (choose rtn, imatrix, gptq, awq, awq+gptq)");
}

TEST_CASE("recipe: encoded for the workers and decoded to the same typed values", "[recipe]") {
  auto r = FromYaml("{preset: Q3_K_M, algorithm: awq+gptq, tensor_types: [attn_v=Q8_0], target_size: 12345, "
                    "gptq: {act_order: true, damp: 0.2, block_columns: 32, importance: false}}",
                    kCalib);
  REQUIRE(r.ok());
  Recipe typed = *r;
  auto ov = ParseTensorTypeOverride("^blk\\.0\\.attn_q\\.weight$=Q5_K");
  REQUIRE(ov.ok());
  ov->origin = "sensitivity";
  typed.quant.overrides.push_back(*ov);
  auto back = DecodeRecipe(EncodeRecipe(typed), "assignment");
  REQUIRE(back.ok());
  CHECK(back->algorithm == Algorithm::kAwqGptq);
  CHECK(std::string(back->quant.preset.name) == "Q3_K_M");
  CHECK(back->gptq.act_order);
  CHECK(back->gptq.damp == 0.2);
  CHECK(back->gptq.block_columns == 32);
  CHECK_FALSE(back->gptq.importance);
  REQUIRE(back->calibration.has_value());
  CHECK(back->calibration->samples == 4);
  REQUIRE(back->quant.overrides.size() == 2);
  CHECK(back->quant.overrides[0].pattern == "attn_v");
  CHECK(back->quant.overrides[0].origin.empty());
  CHECK(back->quant.overrides[1].pattern == "^blk\\.0\\.attn_q\\.weight$");
  CHECK(back->quant.overrides[1].type == GgmlType::Q5_K);
  CHECK(back->quant.overrides[1].origin == "sensitivity");
  // The size target is rank 0's business: decided into overrides, not shipped.
  CHECK_FALSE(back->size_target.has_value());
  CHECK_FALSE(DecodeRecipe("{\"algorithm\": \"gptq\"}", "assignment").ok());
}
