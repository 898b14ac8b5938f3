// Messages between rank 0 and the workers: round trips, and damage in flight
// (truncation, a flipped bit) is an error naming the sender, never a crash.
#include <catch2/catch.hpp>

#include "common/crc32c.h"
#include "common/recipe.h"
#include "runtime/job_messages.h"

using namespace shardq;

namespace {

// The typed recipe rank 0 builds from a spec's recipe section.
Recipe RecipeOf(const QuantizeRecipe& q, std::optional<CalibrationSpec> calibration = std::nullopt) {
  JobSpec spec;
  spec.quantize = q;
  spec.calibration = calibration;
  Result<Recipe> r = RecipeFromSpec(spec, "test");
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("job assignment and worker messages round-trip and damage is detected", "[messages]") {
  JobAssignment a;
  a.job_id = "job-1";
  a.model_path = "/m";
  QuantizeRecipe q;
  q.tensor_types = {"attn_v=Q8_0"};
  q.algorithm = "imatrix";
  a.recipe = RecipeOf(q, CalibrationSpec{"/t.txt", 8, 64, false});
  a.ranges = {{1, 0, 3}, {2, 3, 8}};
  a.todo = {2, 5, 7};
  a.threads = 3;
  a.placement.path = "/out/a.gguf.job-1.partial";
  a.placement.tag = {0x00, 0x7f, 0xff, 0x10};
  a.placement.file_bytes = 5000000000ull;
  a.placement.regions = {{"token_embd.weight", 4096, 4194304}, {"output.weight", 4198400, 17}};
  auto back = DecodeAssignment(EncodeAssignment(a));
  REQUIRE(back.ok());
  CHECK(back->job_id == "job-1");
  CHECK(back->placement.path == a.placement.path);
  CHECK(back->placement.tag == a.placement.tag);
  CHECK(back->placement.file_bytes == 5000000000ull);
  REQUIRE(back->placement.regions.size() == 2);
  CHECK(back->placement.regions[1].name == "output.weight");
  CHECK(back->placement.regions[1].offset == 4198400);
  CHECK(back->placement.regions[1].size == 17);
  {
    // A negative region or a tag that is not hex is Corruption.
    const std::vector<uint8_t> encoded = EncodeAssignment(a);
    const std::string text(encoded.begin(), encoded.end());
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"4198400", "-4198400"}, {"\"007fff10\"", "\"007fxf10\""}, {"\"007fff10\"", "\"007ff\""}}) {
      std::string bad = text;
      REQUIRE(bad.find(from) != std::string::npos);
      bad.replace(bad.find(from), from.size(), to);
      auto r = DecodeAssignment(std::vector<uint8_t>(bad.begin(), bad.end()));
      CHECK(r.status().code() == Status::Code::kCorruption);
    }
  }
  CHECK(back->ranges.size() == 2);
  CHECK(back->ranges[1].rank == 2);
  CHECK(back->ranges[1].end == 8);
  CHECK(back->todo == a.todo);
  REQUIRE(back->recipe.calibration.has_value());
  CHECK(back->recipe.calibration->seq_len == 64);
  CHECK(back->recipe.algorithm == Algorithm::kImatrix);
  CHECK(back->recipe.quant.has_imatrix);
  CHECK(back->recipe.quant.overrides.size() == 1);
  std::vector<uint8_t> cut = EncodeAssignment(a);
  cut.resize(5);
  CHECK_FALSE(DecodeAssignment(cut).ok());

  TensorBlob b;
  b.name = "blk.0.attn_q.weight";
  b.type = GgmlType::F32;
  b.shape = {2, 2};
  b.bytes.assign(16, 0);
  b.bytes[4] = 0x80;
  b.crc32c = Crc32c(b.bytes.data(), b.bytes.size());
  WorkerMessage m;
  m.unit = 4;
  m.seconds = 0.25;
  m.blobs = {b, b};
  m.source_fingerprints = {0x01020304u, 0xfffffffeu};
  const std::vector<uint8_t> wire = EncodeWorkerMessage(m);
  auto got = DecodeWorkerMessage(wire, 3);
  REQUIRE(got.ok());
  CHECK(got->unit == 4);
  CHECK(got->source_fingerprints == m.source_fingerprints);
  {
    WorkerMessage no_fp = m;  // a unit without one fingerprint per blob is refused
    no_fp.source_fingerprints.pop_back();
    CHECK_FALSE(DecodeWorkerMessage(EncodeWorkerMessage(no_fp), 3).ok());
  }
  CHECK(got->blobs.size() == 2);
  CHECK(got->blobs[1].bytes == b.bytes);

  for (size_t cut_at : {size_t(0), size_t(5), wire.size() / 2, wire.size() - 1}) {
    std::vector<uint8_t> t(wire.begin(), wire.begin() + cut_at);
    auto r = DecodeWorkerMessage(t, 3);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("rank 3"));
  }
  std::vector<uint8_t> flipped = wire;
  flipped[wire.size() - 10] ^= 0x04;  // inside the second blob's record
  auto r = DecodeWorkerMessage(flipped, 3);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kCorruption);

  WorkerMessage done;
  done.kind = WorkerMessage::kDone;
  done.error = "rank 2: disk full";
  auto d = DecodeWorkerMessage(EncodeWorkerMessage(done), 2);
  REQUIRE(d.ok());
  CHECK(d->kind == WorkerMessage::kDone);
  CHECK(d->error == "rank 2: disk full");
}

// Every field, each set to a value other than its default, so that a field the codec
// drops (or swaps with another) shows up here rather than as a worker that silently
// plans or calibrates differently from rank 0.
TEST_CASE("every job assignment and worker message field survives the round trip", "[messages]") {
  JobAssignment a;
  a.job_id = "job-7";
  a.model_path = "/models/m";
  QuantizeRecipe q;
  q.preset = "q5_k_s";  // typed on rank 0: the worker gets the preset, not the spelling
  q.pure = true;
  q.tensor_types = {"attn_v=Q8_0", "ffn_down=q6_k"};
  q.output_tensor_type = "Q8_0";
  q.token_embedding_type = "Q6_K";
  q.algorithm = "imatrix";
  a.recipe = RecipeOf(q, CalibrationSpec{"/corpus/c.txt", 9, 33, true});
  a.ranges = {{1, 0, 2}, {2, 2, 5}, {3, 5, 8}};
  a.todo = {0, 3, 6, 7};
  a.threads = 5;
  auto back = DecodeAssignment(EncodeAssignment(a));
  REQUIRE(back.ok());
  CHECK(back->job_id == a.job_id);
  CHECK(back->model_path == a.model_path);
  CHECK(back->recipe.algorithm == Algorithm::kImatrix);
  REQUIRE(back->recipe.calibration.has_value());
  CHECK(back->recipe.calibration->text == "/corpus/c.txt");
  CHECK(back->recipe.calibration->samples == 9);
  CHECK(back->recipe.calibration->seq_len == 33);
  CHECK(back->recipe.calibration->hessian);
  REQUIRE(back->ranges.size() == a.ranges.size());
  for (size_t i = 0; i < a.ranges.size(); ++i) {
    CHECK(back->ranges[i].rank == a.ranges[i].rank);
    CHECK(back->ranges[i].begin == a.ranges[i].begin);
    CHECK(back->ranges[i].end == a.ranges[i].end);
  }
  CHECK(back->todo == a.todo);
  CHECK(back->threads == a.threads);
  // The options the workers plan from are the recipe's, field by field.
  const QuantPlanOptions* opts = &back->recipe.quant;
  CHECK(std::string(opts->preset.name) == "Q5_K_S");
  CHECK(opts->pure);
  CHECK(opts->has_imatrix);
  REQUIRE(opts->overrides.size() == 2);
  CHECK(opts->overrides[0].pattern == "attn_v");
  CHECK(opts->overrides[0].type == GgmlType::Q8_0);
  CHECK(opts->overrides[1].pattern == "ffn_down");
  CHECK(opts->overrides[1].type == GgmlType::Q6_K);
  CHECK(opts->output_tensor_type == std::optional<GgmlType>(GgmlType::Q8_0));
  CHECK(opts->token_embedding_type == std::optional<GgmlType>(GgmlType::Q6_K));
  // Defaults round-trip as defaults (an rtn recipe has no importance and no overrides).
  JobAssignment plain;
  QuantizeRecipe plain_q;
  plain_q.preset = "Q8_0";
  plain.recipe = RecipeOf(plain_q);
  plain.ranges = {{1, 0, 8}};  // a job always has at least one worker range
  auto pb = DecodeAssignment(EncodeAssignment(plain));
  INFO(pb.status().ToString());
  REQUIRE(pb.ok());
  const QuantPlanOptions* popts = &pb->recipe.quant;
  CHECK(std::string(popts->preset.name) == "Q8_0");
  CHECK(pb->recipe.algorithm == Algorithm::kRtn);
  CHECK_FALSE(pb->recipe.calibration.has_value());
  CHECK_FALSE(popts->pure);
  CHECK_FALSE(popts->has_imatrix);
  CHECK_FALSE(popts->output_tensor_type.has_value());
  CHECK_FALSE(popts->token_embedding_type.has_value());

  TensorBlob b;
  b.name = "blk.3.ffn_down.weight";
  b.type = GgmlType::Q8_0;
  b.shape = {2, 32};
  b.bytes.assign(2 * 34, 0);
  for (size_t i = 0; i < b.bytes.size(); ++i) b.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  b.crc32c = Crc32c(b.bytes.data(), b.bytes.size());
  b.metrics.sum_sq_err = 0.125;
  b.metrics.sum_sq_ref = 3.5;
  b.metrics.max_abs_err = 0.0625;
  b.metrics.count = 64;
  b.reason = "more bits (ffn_down)";
  TensorBlob c = b;
  c.name = "blk.3.ffn_up.weight";
  c.type = GgmlType::F32;
  c.shape = {3};
  c.bytes.assign(12, 0x5a);
  c.crc32c = Crc32c(c.bytes.data(), c.bytes.size());
  c.metrics = {};
  c.reason = "preset";
  WorkerMessage m;
  m.unit = 6;
  m.seconds = 1.75;
  m.blobs = {b, c};
  m.source_fingerprints = {0xdeadbeefu, 7u};
  auto got = DecodeWorkerMessage(EncodeWorkerMessage(m), 2);
  REQUIRE(got.ok());
  CHECK(got->source_fingerprints == m.source_fingerprints);
  CHECK(got->kind == WorkerMessage::kUnit);
  CHECK(got->unit == 6);
  CHECK(got->seconds == 1.75);
  CHECK(got->error.empty());
  REQUIRE(got->blobs.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const TensorBlob& want = m.blobs[i];
    const TensorBlob& have = got->blobs[i];
    INFO("blob " << i);
    CHECK(have.name == want.name);
    CHECK(have.type == want.type);
    CHECK(have.shape == want.shape);
    CHECK(have.bytes == want.bytes);
    CHECK(have.crc32c == want.crc32c);
    CHECK(have.metrics.sum_sq_err == want.metrics.sum_sq_err);
    CHECK(have.metrics.sum_sq_ref == want.metrics.sum_sq_ref);
    CHECK(have.metrics.max_abs_err == want.metrics.max_abs_err);
    CHECK(have.metrics.count == want.metrics.count);
    CHECK(have.reason == want.reason);
  }
  // A message of an unknown kind is an error naming the sender, not a crash.
  std::vector<uint8_t> odd = EncodeWorkerMessage(m);
  odd[0] = 'X';
  auto bad = DecodeWorkerMessage(odd, 4);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("rank 4"));
}

TEST_CASE("calibration products and resume fields travel between ranks", "[messages][products]") {
  JobAssignment a;
  a.job_id = "j";
  a.model_path = "/m";
  QuantizeRecipe q;
  q.algorithm = "gptq";
  a.recipe = RecipeOf(q, CalibrationSpec{"/t.txt", 4, 64, false});
  a.ranges = {{1, 0, 3}, {2, 3, 8}};
  a.todo = {4};
  a.inputs_fingerprint = "f00d";
  a.calib_joins = {0, 1};
  a.calib_seed_layer = {-1, 3};
  auto back = DecodeAssignment(EncodeAssignment(a));
  REQUIRE(back.ok());
  CHECK(back->inputs_fingerprint == "f00d");
  CHECK(back->calib_joins == std::vector<uint8_t>{0, 1});
  CHECK(back->calib_seed_layer == std::vector<int64_t>{-1, 3});

  WorkerMessage m;
  m.kind = WorkerMessage::kProducts;
  m.unit = 4;
  m.products = {1, 2, 3, 250};
  const std::vector<uint8_t> encoded = EncodeWorkerMessage(m);
  auto p = DecodeWorkerMessage(encoded, 2);
  REQUIRE(p.ok());
  CHECK(p->kind == WorkerMessage::kProducts);
  CHECK(p->unit == 4);
  CHECK(p->products == m.products);
  auto moved = DecodeWorkerMessage(EncodeWorkerMessage(m), 2);  // the rvalue overload keeps the bytes
  REQUIRE(moved.ok());
  CHECK(moved->kind == WorkerMessage::kProducts);
  CHECK(moved->unit == 4);
  CHECK(moved->products == m.products);
  std::vector<uint8_t> cut = EncodeWorkerMessage(m);
  cut.resize(5);  // kind + half a unit index
  auto bad = DecodeWorkerMessage(cut, 2);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("rank 2") != std::string::npos);
}
