// Job spec: the examples parse, every validation error names its field, the
// canonical JSON ignores how the file was written, the fingerprint follows the
// spec and the model's tensor index.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "common/job_spec.h"
#include "common/recipe.h"
#include "common/sha256.h"

namespace shardq {
namespace {

std::string Example(const std::string& name) { return std::string(SHARDQ_SOURCE_DIR) + "/examples/" + name; }

const char* kMinimal = R"(model: m
output: {path: o.gguf}
)";

// Parses `text` and requires an InvalidArgument whose message holds `needle`.
void ExpectError(const std::string& text, const std::string& needle) {
  INFO(text);
  auto r = ParseJobSpec(text, "job.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  INFO(r.status().message());
  CHECK(r.status().message().rfind("job.yaml: ", 0) == 0);
  CHECK(r.status().message().find(needle) != std::string::npos);
}

std::vector<TensorInfo> SmallIndex() {
  TensorInfo a;
  a.name = "token_embd.weight";
  a.shape = {1024, 256};
  a.type = GgmlType::F32;
  a.nbytes = 1024 * 256 * 4;
  TensorInfo b;
  b.name = "output_norm.weight";
  b.shape = {256};
  b.type = GgmlType::F32;
  b.nbytes = 256 * 4;
  return {a, b};
}

}  // namespace

TEST_CASE("job spec: the shipped examples parse and point at real files", "[state]") {
  auto q4 = LoadJobSpec(Example("shakespeare-5m.yaml"));
  REQUIRE(q4.ok());
  CHECK(q4->model == "../shared/models/shakespeare-5m");
  CHECK(q4->output_path == "out/shakespeare-5m-Q4_K_M.gguf");
  CHECK(q4->output_format == "gguf");
  CHECK(q4->state_dir == ".shardq");
  CHECK(q4->quantize.preset == "Q4_K_M");
  CHECK(q4->quantize.algorithm == "imatrix");
  REQUIRE(q4->calibration);
  CHECK(q4->calibration->text == "../shared/corpus/shakespeare-calib.txt");
  CHECK(q4->calibration->samples == 32);
  CHECK(q4->calibration->seq_len == 128);
  REQUIRE(q4->eval);
  CHECK(q4->eval->text == "../shared/corpus/shakespeare-eval.txt");
  CHECK(q4->eval->ctx == 128);
  auto recipe = RecipeFromSpec(*q4, "shakespeare-5m.yaml");
  REQUIRE(recipe.ok());
  CHECK(recipe->algorithm == Algorithm::kImatrix);
  CHECK(recipe->quant.has_imatrix);
  CHECK(recipe->quant.preset.default_type == GgmlType::Q4_K);
  CHECK(recipe->Stages() == std::vector<StageKind>{StageKind::kCalibrate, StageKind::kQuantize});

  auto q8 = LoadJobSpec(Example("shakespeare-5m-q8.json"));
  REQUIRE(q8.ok());
  CHECK(q8->quantize.preset == "Q8_0");
  CHECK(q8->quantize.algorithm == "rtn");
  CHECK_FALSE(q8->calibration);
  auto q8_recipe = RecipeFromSpec(*q8, "q8.json");
  REQUIRE(q8_recipe.ok());
  CHECK(q8_recipe->algorithm == Algorithm::kRtn);
  CHECK(q8_recipe->Stages() == std::vector<StageKind>{StageKind::kQuantize});

  auto st = LoadJobSpec(Example("stories260K.yaml"));
  REQUIRE(st.ok());
  CHECK(st->model == "../shared/models/stories260K");
  CHECK(st->output_format == "gguf");  // defaulted
  REQUIRE(st->eval);
  CHECK(st->eval->ctx == 256);
  CHECK(RecipeFromSpec(*st, "stories260K.yaml").ok());

  // Paths are relative to the project root, where examples are run from.
  namespace fs = std::filesystem;
  const fs::path root = SHARDQ_SOURCE_DIR;
  for (const JobSpec* s : {&*q4, &*q8, &*st}) {
    CHECK(fs::exists(root / s->model / "config.json"));
    if (s->calibration) CHECK(fs::exists(root / s->calibration->text));
    if (s->eval) CHECK(fs::exists(root / s->eval->text));
  }
}

TEST_CASE("job spec: defaults of a minimal spec", "[state]") {
  auto r = ParseJobSpec(kMinimal, "job.yaml");
  REQUIRE(r.ok());
  CHECK(r->job_id.empty());
  CHECK(r->quantize.preset == "Q4_K_M");
  CHECK(r->quantize.algorithm == "rtn");
  CHECK_FALSE(r->quantize.pure);
  CHECK_FALSE(r->calibration);
  CHECK_FALSE(r->eval);
  auto c = ParseJobSpec("model: m\noutput: {path: o}\ncalibration: {text: c.txt}\neval: {text: e.txt}\n", "j");
  REQUIRE(c.ok());
  CHECK(c->calibration->samples == 32);
  CHECK(c->calibration->seq_len == 128);
  CHECK_FALSE(c->calibration->hessian);
  CHECK(c->eval->ctx == 256);
}

TEST_CASE("job spec: every structural error names its field", "[state]") {
  ExpectError("model: m\noutput: {path: o}\nrecipe: {quantize: {presett: Q4_K_M}}\n",
              "recipe.quantize.presett: unknown field");
  ExpectError("model: m\noutput: {path: o}\nmodle: x\n", "modle: unknown field");
  ExpectError("output: {path: o}\n", "model: required field is missing");
  ExpectError("model: m\n", "output.path: required field is missing");
  ExpectError("model: m\noutput: {format: gguf}\n", "output.path: required field is missing");
  ExpectError("model: m\noutput: o.gguf\n", "output: expected a mapping");
  ExpectError("model: [a, b]\noutput: {path: o}\n", "model: expected a string");
  ExpectError("model: ''\noutput: {path: o}\n", "model: must not be empty");
  ExpectError("model: m\noutput: {path: o, format: onnx}\n", "output.format: unknown format 'onnx'");
  ExpectError("model: m\noutput: {path: o, format: safetensors-gptq}\n", "output.format: safetensors-gptq is not implemented yet");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {quantize: {algorithm: gptq2}}\n",
              "recipe.quantize.algorithm: unknown algorithm 'gptq2' (choose rtn, imatrix, gptq, awq, awq+gptq)");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {quantize: {algorithm: gptq}}\n",
              "recipe.quantize.algorithm: gptq needs a calibration section");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {quantize: {algorithm: imatrix}}\n",
              "recipe.quantize.algorithm: imatrix needs a calibration section");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {quantize: {pure: maybe}}\n", "recipe.quantize.pure: expected true or false");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {quantize: {tensor_types: attn_v=Q8_0}}\n",
              "recipe.quantize.tensor_types: expected a list");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {quantize: {tensor_types: [attn_v=Q8_0, attn_k]}}\n",
              "recipe.quantize.tensor_types[1]: expected REGEX=TYPE");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {prune: {sparsity: 0.5}}\n", "recipe.prune: not implemented yet");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {distill: {steps: 10}}\n", "recipe.distill: not implemented yet");
  ExpectError("model: m\noutput: {path: o}\nrecipe: {quantise: {}}\n", "recipe.quantise: unknown field");
  ExpectError("model: m\noutput: {path: o}\ncalibration: {samples: 4}\n", "calibration.text: required field is missing");
  ExpectError("model: m\noutput: {path: o}\ncalibration: {text: c, samples: 0}\n", "calibration.samples: must be at least 1, got 0");
  ExpectError("model: m\noutput: {path: o}\ncalibration: {text: c, samples: 2.5}\n", "calibration.samples: expected an integer");
  ExpectError("model: m\noutput: {path: o}\ncalibration: {text: c, seq_len: 1}\n", "calibration.seq_len: must be at least 2, got 1");
  ExpectError("model: m\noutput: {path: o}\ncalibration: {text: c, hessian: 3}\n", "calibration.hessian: expected true or false");
  ExpectError("model: m\noutput: {path: o}\neval: {text: e, ctx: 127}\n", "eval.ctx: must be even and at least 2, got 127");
  ExpectError("model: m\noutput: {path: o}\neval: {text: e, ctx: 0}\n", "eval.ctx: must be even and at least 2, got 0");
  ExpectError("model: m\noutput: {path: o}\neval: {ctx: 64}\n", "eval.text: required field is missing");
  ExpectError("model: m\noutput: {path: o}\neval: {text: e, ctxx: 64}\n", "eval.ctxx: unknown field");
  ExpectError("model: m\noutput: {path: o}\njob_id: 'a/b'\n", "job_id:");
  ExpectError("model: m\nmodel: n\noutput: {path: o}\n", "model: duplicate field");
  ExpectError("", "the job spec is empty");
  ExpectError("- a\n- b\n", "(top level): expected a mapping");
  // JSON: a quoted number is a string, not silently an integer.
  ExpectError(R"({"model": "m", "output": {"path": "o"}, "eval": {"text": "e", "ctx": "128"}})", "eval.ctx: expected an integer");
  // Syntax errors carry the position.
  ExpectError("model: m\noutput: {path: o\n", "line ");
}

TEST_CASE("job spec: recipe names are validated against the worker's tables", "[state]") {
  auto parse = [](const std::string& quantize) {
    auto r = ParseJobSpec("model: m\noutput: {path: o}\nrecipe: {quantize: " + quantize + "}\n", "job.yaml");
    REQUIRE(r.ok());  // structure is fine; only the names are wrong
    return std::move(r).value();
  };
  auto expect = [](const JobSpec& spec, const std::string& needle) {
    const Status st = RecipeFromSpec(spec, "job.yaml").status();
    REQUIRE_FALSE(st.ok());
    CHECK(st.code() == Status::Code::kInvalidArgument);
    INFO(st.message());
    CHECK(st.message().find(needle) != std::string::npos);
  };
  expect(parse("{preset: Q4_K_X}"), "job.yaml: recipe.quantize.preset: unknown preset 'Q4_K_X' (choose one of ");
  expect(parse("{tensor_types: [attn_v=Q9_9]}"), "job.yaml: recipe.quantize.tensor_types[0]: ");
  expect(parse("{tensor_types: [attn_v=Q8_0, '(=Q8_0']}"), "recipe.quantize.tensor_types[1]: ");
  expect(parse("{output_tensor_type: Q7_K}"), "job.yaml: recipe.quantize.output_tensor_type: unknown or unsupported type 'Q7_K'");
  expect(parse("{token_embedding_type: nope}"), "recipe.quantize.token_embedding_type: unknown or unsupported type 'nope'");
  auto ok = parse("{preset: q6_k, tensor_types: [attn_v=Q8_0], output_tensor_type: Q8_0, token_embedding_type: F16}");
  auto recipe = RecipeFromSpec(ok, "job.yaml");
  REQUIRE(recipe.ok());
  const QuantPlanOptions* opts = &recipe->quant;
  CHECK(opts->preset.default_type == GgmlType::Q6_K);
  REQUIRE(opts->overrides.size() == 1);
  CHECK(opts->overrides[0].type == GgmlType::Q8_0);
  CHECK(opts->output_tensor_type == GgmlType::Q8_0);
  CHECK(opts->token_embedding_type == GgmlType::F16);
  CHECK_FALSE(opts->has_imatrix);
}

TEST_CASE("job spec: canonical JSON ignores key order and format, writes defaults", "[state]") {
  const std::string a = R"(model: ../m
output: {path: out/a.gguf, format: gguf}
recipe:
  quantize:
    preset: Q4_K_M
    algorithm: imatrix
    tensor_types: [attn_v=Q8_0]
calibration: {text: c.txt, samples: 8, seq_len: 64}
)";
  // Same values, keys reordered, JSON syntax, another output path and job id.
  const std::string b = R"({"calibration": {"seq_len": 64, "text": "c.txt", "samples": 8},
  "recipe": {"quantize": {"tensor_types": ["attn_v=Q8_0"], "algorithm": "imatrix", "preset": "Q4_K_M"}},
  "job_id": "mine", "state_dir": "/tmp/x", "output": {"format": "gguf", "path": "elsewhere.gguf"}, "model": "../m"})";
  auto ra = ParseJobSpec(a, "a.yaml");
  auto rb = ParseJobSpec(b, "b.json");
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK(ra->CanonicalJson() == rb->CanonicalJson());
  // Sorted keys, every defaulted field written (hessian, pure, eval as null).
  CHECK(ra->CanonicalJson() ==
        R"({"calibration":{"hessian":false,"samples":8,"seq_len":64,"text":"c.txt"},"eval":null,"model":"../m",)"
        R"("output":{"format":"gguf"},"recipe":{"quantize":{"algorithm":"imatrix","output_tensor_type":"",)"
        R"("preset":"Q4_K_M","pure":false,"tensor_types":["attn_v=Q8_0"],"token_embedding_type":""}}})");
  // "eval: null" is not a mapping: refused, not silently read as "no eval".
  auto rc = ParseJobSpec(a + "eval: null\n", "c.yaml");
  CHECK_FALSE(rc.ok());
  // Writing a default explicitly changes nothing.
  auto rd = ParseJobSpec(std::string(a).replace(a.find("seq_len: 64"), 11, "seq_len: 64, hessian: false"), "d.yaml");
  REQUIRE(rd.ok());
  CHECK(rd->CanonicalJson() == ra->CanonicalJson());
}

TEST_CASE("job spec: fingerprint follows the spec and the tensor index", "[state]") {
  auto base = ParseJobSpec(kMinimal, "j");
  REQUIRE(base.ok());
  const auto index = SmallIndex();
  const std::string fp = SpecFingerprint(*base, index);
  CHECK(fp.size() == 64);
  CHECK(SpecFingerprint(*base, index) == fp);  // deterministic

  // Output path, state dir and job id do not define the result.
  JobSpec moved = *base;
  moved.output_path = "elsewhere.gguf";
  moved.state_dir = "/tmp/s";
  CHECK(SpecFingerprint(moved, index) == fp);

  JobSpec other = *base;
  other.quantize.preset = "Q8_0";
  CHECK(SpecFingerprint(other, index) != fp);
  JobSpec pure = *base;
  pure.quantize.pure = true;
  CHECK(SpecFingerprint(pure, index) != fp);

  auto changed = index;
  changed[1].shape = {128};
  changed[1].nbytes = 512;
  CHECK(SpecFingerprint(*base, changed) != fp);
  auto retyped = index;
  retyped[0].type = GgmlType::F16;
  CHECK(SpecFingerprint(*base, retyped) != fp);
  auto reordered = std::vector<TensorInfo>{index[1], index[0]};
  CHECK(SpecFingerprint(*base, reordered) != fp);
  CHECK(SpecFingerprint(*base, {}) != fp);

  // The documented input: canonical JSON, a newline, one line per tensor.
  // Checked against the sha256 of that text written out here by hand.
  const std::string text = base->CanonicalJson() + "\ntoken_embd.weight F32 1024x256 1048576\noutput_norm.weight F32 256 1024\n";
  CHECK(fp == Sha256Hex(text.data(), text.size()));

  const std::string id = DeriveJobId(*base, index);
  CHECK(id == "job-" + fp.substr(0, 16));
  JobSpec named = *base;
  named.job_id = "nightly-7";
  CHECK(DeriveJobId(named, index) == "nightly-7");
}

// Which spec changes give a new job id (today's rule: every field of the canonical JSON,
// i.e. everything but job_id, output path and state_dir), one field at a time, each
// from a spec that sets all of them, written as YAML and parsed, as `shardq run` does.
TEST_CASE("job id: each result-defining spec field changes it, output path and state dir do not", "[state]") {
  const std::string full = R"(model: m
output: {path: o.gguf, format: gguf}
state_dir: s
recipe:
  quantize: {preset: Q4_K_M, algorithm: imatrix, pure: false, tensor_types: [attn_v=Q8_0],
             output_tensor_type: Q8_0, token_embedding_type: Q6_K}
calibration: {text: c.txt, samples: 8, seq_len: 64, hessian: false}
eval: {text: e.txt, ctx: 128}
)";
  const auto index = SmallIndex();
  auto base = ParseJobSpec(full, "full.yaml");
  REQUIRE(base.ok());
  const std::string id = DeriveJobId(*base, index);
  auto id_with = [&](const std::string& from, const std::string& to) {
    std::string text = full;
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    auto s = ParseJobSpec(text, "changed.yaml");
    INFO(text);
    REQUIRE(s.ok());
    return DeriveJobId(*s, index);
  };
  const std::pair<const char*, const char*> changes[] = {
      {"model: m", "model: m2"},
      {"preset: Q4_K_M", "preset: Q5_K_M"},
      {"algorithm: imatrix", "algorithm: rtn"},
      {"pure: false", "pure: true"},
      {"[attn_v=Q8_0]", "[attn_v=Q6_K]"},
      {"output_tensor_type: Q8_0", "output_tensor_type: Q6_K"},
      {"token_embedding_type: Q6_K", "token_embedding_type: Q8_0"},
      {"text: c.txt", "text: c2.txt"},
      {"samples: 8", "samples: 9"},
      {"seq_len: 64", "seq_len: 32"},
      {"hessian: false", "hessian: true"},
      {"text: e.txt", "text: e2.txt"},
      {"ctx: 128", "ctx: 64"},
  };
  for (const auto& [from, to] : changes) {
    INFO(from << " -> " << to);
    CHECK(id_with(from, to) != id);
  }
  CHECK(id_with("path: o.gguf", "path: other.gguf") == id);
  CHECK(id_with("state_dir: s", "state_dir: /elsewhere") == id);
  CHECK(id_with("format: gguf", "format: gguf") == id);
  CHECK(id_with("[attn_v=Q8_0]", "[\"attn_v=Q8_0\"]") == id);  // same value, other spelling
}

TEST_CASE("job spec: recipe.quantize.gptq parses, reaches the recipe and is refused where it means nothing", "[state]") {
  auto spec = [](const std::string& quantize) {
    return "model: m\noutput: {path: o}\nrecipe: {quantize: " + quantize + "}\ncalibration: {text: c.txt}\n";
  };
  // Defaults (those of shardq quantize's flags) when the section is absent.
  auto plain = ParseJobSpec(spec("{algorithm: gptq}"), "job.yaml");
  REQUIRE(plain.ok());
  CHECK(plain->quantize.gptq.damp == 0.01);
  CHECK_FALSE(plain->quantize.gptq.act_order);
  CHECK(plain->quantize.gptq.block_columns == 128);
  CHECK(plain->quantize.gptq.importance);
  for (const char* alg : {"gptq", "awq+gptq"}) {
    INFO(alg);
    auto s = ParseJobSpec(spec(std::string("{algorithm: '") + alg +
                               "', gptq: {damp: 0.05, act_order: true, block_columns: 32, importance: false}}"),
                          "job.yaml");
    REQUIRE(s.ok());
    CHECK(s->quantize.gptq.damp == 0.05);
    CHECK(s->quantize.gptq.act_order);
    CHECK(s->quantize.gptq.block_columns == 32);
    CHECK_FALSE(s->quantize.gptq.importance);
    auto r = RecipeFromSpec(*s, "job.yaml");
    REQUIRE(r.ok());
    CHECK(r->UsesGptq());
    CHECK(r->gptq.damp == 0.05);
    CHECK(r->gptq.act_order);
    CHECK(r->gptq.block_columns == 32);
    CHECK_FALSE(r->gptq.importance);
    CHECK_FALSE(r->UsesImportance());  // importance: false turns the imatrix weighting off
    // Through the assignment's JSON and back, unchanged.
    auto back = DecodeRecipe(EncodeRecipe(*r), "assignment");
    REQUIRE(back.ok());
    CHECK(back->algorithm == r->algorithm);
    CHECK(back->gptq.damp == 0.05);
    CHECK(back->gptq.act_order);
    CHECK(back->gptq.block_columns == 32);
    CHECK_FALSE(back->gptq.importance);
    // Each gptq field is part of the job's identity.
    const std::string id = DeriveJobId(*s, SmallIndex());
    for (const char* other : {"{damp: 0.06, act_order: true, block_columns: 32, importance: false}",
                              "{damp: 0.05, act_order: false, block_columns: 32, importance: false}",
                              "{damp: 0.05, act_order: true, block_columns: 64, importance: false}",
                              "{damp: 0.05, act_order: true, block_columns: 32, importance: true}"}) {
      INFO(other);
      auto o = ParseJobSpec(spec(std::string("{algorithm: '") + alg + "', gptq: " + other + "}"), "job.yaml");
      REQUIRE(o.ok());
      CHECK(DeriveJobId(*o, SmallIndex()) != id);
    }
  }
  ExpectError(spec("{algorithm: imatrix, gptq: {damp: 0.1}}"),
              "recipe.quantize.gptq: GPTQ settings need algorithm gptq or awq+gptq (the algorithm is imatrix)");
  ExpectError(spec("{gptq: {act_order: true}}"), "recipe.quantize.gptq: GPTQ settings need algorithm gptq or awq+gptq");
  ExpectError(spec("{algorithm: awq, gptq: {act_order: true}}"), "recipe.quantize.gptq: GPTQ settings need");
  ExpectError(spec("{algorithm: gptq, gptq: {damp: -1}}"), "recipe.quantize.gptq.damp: must be in [0, 1], got -1");
  ExpectError(spec("{algorithm: gptq, gptq: {damp: 1.5}}"), "recipe.quantize.gptq.damp: must be in [0, 1], got 1.5");
  ExpectError(spec("{algorithm: gptq, gptq: {damp: .nan}}"), "recipe.quantize.gptq.damp");
  ExpectError(spec("{algorithm: gptq, gptq: {block_columns: 0}}"),
              "recipe.quantize.gptq.block_columns: must be in 1..65536, got 0");
  ExpectError(spec("{algorithm: gptq, gptq: {block_columns: 65537}}"), "recipe.quantize.gptq.block_columns: must be in 1..65536");
  ExpectError(spec("{algorithm: gptq, gptq: {block_columns: 2.5}}"), "recipe.quantize.gptq.block_columns: expected an integer");
  ExpectError(spec("{algorithm: gptq, gptq: {act_order: yes please}}"), "recipe.quantize.gptq.act_order: expected true or false");
  ExpectError(spec("{algorithm: gptq, gptq: {dampp: 0.1}}"), "recipe.quantize.gptq.dampp: unknown field");
  ExpectError(spec("{algorithm: gptq, gptq: 0.1}"), "recipe.quantize.gptq: expected a mapping");
}

}  // namespace shardq
