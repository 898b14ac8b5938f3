// Non-finite weights on the inference paths (issue 9, item 5): quantize rejects
// them through TensorSource::ReadF32, but eval / generate / calibrate map most
// matrices zero-copy. LlamaWeights::Load must reject a NaN/Inf wherever it sits
// (safetensors token_embd / ffn_down, a llama2.c wq element, a quantized GGUF
// block whose scale decodes to Inf), naming the file, tensor and element; each
// command exits non-zero with that line.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/model.h"
#include "tests/unit/test_util.h"
#include "worker/llama_weights.h"

using namespace shardq;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using testing::RunResult;
using testing::RunShardq;

// shakespeare-5m's folder in `dir` with one float of safetensors tensor `victim` set to `bad`.
std::string ShakespeareWithBadValue(const std::string& dir, const std::string& victim, int64_t element, float bad) {
  std::vector<uint8_t> b = testing::ReadFileBytes(testing::SharedPath("models/shakespeare-5m/model.safetensors"));
  REQUIRE(b.size() > 8);
  uint64_t n;
  std::memcpy(&n, b.data(), 8);
  const json header = json::parse(std::string(b.begin() + 8, b.begin() + 8 + n));
  REQUIRE(header.contains(victim));
  REQUIRE(header[victim]["dtype"] == "F32");
  const uint64_t begin = header[victim]["data_offsets"][0];
  std::memcpy(&b[8 + n + begin + 4 * element], &bad, 4);
  testing::WriteFileBytes(dir + "/model.safetensors", b);
  for (const char* f : {"config.json", "tokenizer.model"})
    fs::copy_file(testing::SharedPath(std::string("models/shakespeare-5m/") + f), dir + "/" + f);
  return dir;
}

// stories260K.bin (llama2.c) and its tokenizer in `dir`, with blk.0.attn_q element `element` set to `bad`.
std::string Stories260KBinWithBadWq(const std::string& dir, int64_t element, float bad) {
  std::vector<uint8_t> b = testing::ReadFileBytes(testing::SharedPath("models/stories260K/stories260K.bin"));
  REQUIRE(b.size() > 28);
  int32_t h[7];
  std::memcpy(h, b.data(), sizeof h);
  const int64_t dim = h[0], layers = h[2], vocab = std::abs(h[5]);
  // Header, token embeddings, every layer's attention norm, then wq of layer 0.
  const uint64_t wq = 28 + 4 * static_cast<uint64_t>(vocab * dim + layers * dim);
  REQUIRE(wq + 4 * (element + 1) <= b.size());
  std::memcpy(&b[wq + 4 * element], &bad, 4);
  testing::WriteFileBytes(dir + "/stories260K.bin", b);
  fs::copy_file(testing::SharedPath("models/stories260K/tok512.bin"), dir + "/tok512.bin");
  return dir + "/stories260K.bin";
}

Status LoadStatus(const std::string& path) {
  auto m = OpenModel(path);
  if (!m.ok()) return m.status();
  auto w = LlamaWeights::Load(std::move(m).value());
  return w.ok() ? Status::OK() : w.status();
}

// eval, generate and calibrate on `model` must each fail with one line naming every word in `words`.
void ExpectEveryCommandRejects(const std::string& model, const std::string& text,
                               const std::vector<std::string>& words) {
  const std::string out = fs::path(model).parent_path().string() + "/stats.bin";
  const std::vector<std::string> commands = {
      "eval -m " + model + " --text " + text + " --ctx 64 --chunks 1 --threads 2",
      "generate -m " + model + " -p Once -n 4 --threads 2",
      "calibrate -m " + model + " --text " + text + " --samples 2 --seq-len 32 --threads 2 --out " + out,
  };
  for (const auto& args : commands) {
    RunResult r = RunShardq(args);
    INFO(args);
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code != -1);  // exited, not killed by a signal
    for (const auto& w : words) CHECK_THAT(r.output, Catch::Contains(w));
    CHECK_THAT(r.output, !Catch::Contains("PPL"));
  }
  CHECK_FALSE(fs::exists(out));
}

}  // namespace

TEST_CASE("LlamaWeights::Load rejects a NaN or Inf in a zero-copy matrix, naming tensor and element",
          "[forward][nonfinite]") {
  for (float bad : {std::nanf(""), -INFINITY}) {
    const std::string dir = testing::MakeTempDir("nonfinite-load");
    // 777 = row 3, column 9 of the 256-wide embedding rows.
    ShakespeareWithBadValue(dir, "model.embed_tokens.weight", 777, bad);
    Status st = LoadStatus(dir);
    INFO(st.message());
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains(dir + "/model.safetensors"));
    CHECK_THAT(st.message(), Catch::Contains("tensor 'token_embd.weight'"));
    CHECK_THAT(st.message(), Catch::Contains("non-finite value"));
    CHECK_THAT(st.message(), Catch::Contains("at row 3, column 9 (element 777)"));
    fs::remove_all(dir);
  }
  const std::string dir = testing::MakeTempDir("nonfinite-load-bin");
  Status st = LoadStatus(Stories260KBinWithBadWq(dir, 100, std::nanf("")));
  INFO(st.message());
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("stories260K.bin: tensor 'blk.0.attn_q.weight'"));
  CHECK_THAT(st.message(), Catch::Contains("at row 1, column 36 (element 100)"));
  fs::remove_all(dir);
}

TEST_CASE("eval, generate and calibrate reject a NaN in token_embd or ffn_down (safetensors)", "[cli][nonfinite]") {
  const std::string text = testing::SharedPath("corpus/shakespeare-eval.txt");
  {
    const std::string dir = testing::MakeTempDir("nonfinite-embd");
    ShakespeareWithBadValue(dir, "model.embed_tokens.weight", 777, std::nanf(""));
    ExpectEveryCommandRejects(dir + "/", text, {"model.safetensors", "token_embd.weight", "element 777"});
    fs::remove_all(dir);
  }
  {
    const std::string dir = testing::MakeTempDir("nonfinite-down");
    // ffn_down is 256 x 768: element 1000 is row 1, column 232.
    ShakespeareWithBadValue(dir, "model.layers.4.mlp.down_proj.weight", 1000, INFINITY);
    ExpectEveryCommandRejects(dir + "/", text,
                              {"model.safetensors", "blk.4.ffn_down.weight", "at row 1, column 232 (element 1000)"});
    fs::remove_all(dir);
  }
}

TEST_CASE("eval, generate and calibrate reject a NaN in one llama2.c wq element", "[cli][nonfinite]") {
  const std::string dir = testing::MakeTempDir("nonfinite-llama2c");
  const std::string bin = Stories260KBinWithBadWq(dir, 100, std::nanf(""));
  ExpectEveryCommandRejects(bin, testing::SharedPath("corpus/tinystories-eval.txt"),
                            {"stories260K.bin", "blk.0.attn_q.weight", "element 100"});
  fs::remove_all(dir);
}

TEST_CASE("eval rejects a quantized GGUF whose block decodes to Inf, naming the block", "[cli][nonfinite]") {
  const std::string dir = testing::MakeTempDir("nonfinite-q8");
  const std::string gguf = dir + "/q8.gguf";
  RunResult q = RunShardq("quantize --model " + testing::SharedPath("models/stories260K") + " --out " + gguf +
                          " --type Q8_0 --threads 2");
  INFO(q.output);
  REQUIRE(q.exit_code == 0);
  uint64_t offset = 0;
  {
    auto m = OpenModel(gguf);
    REQUIRE(m.ok());
    const TensorInfo* t = m->source->Find("blk.1.attn_q.weight");
    REQUIRE(t != nullptr);
    REQUIRE(t->type == GgmlType::Q8_0);
    REQUIRE(t->shape == std::vector<int64_t>{64, 64});
    offset = t->offset;
  }
  // Row 2, block 1 (columns 32..63, elements 160..191): its fp16 scale becomes +Inf,
  // so every value of the block decodes to +-Inf or NaN (a zero quant times Inf).
  std::vector<uint8_t> b = testing::ReadFileBytes(gguf);
  const uint64_t block = offset + (2 * 2 + 1) * 34;
  REQUIRE(block + 2 <= b.size());
  b[block] = 0x00;
  b[block + 1] = 0x7c;
  testing::WriteFileBytes(gguf, b);
  RunResult r = RunShardq("eval -m " + gguf + " --text " + testing::SharedPath("corpus/tinystories-eval.txt") +
                          " --ctx 64 --chunks 1");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("q8.gguf: tensor 'blk.1.attn_q.weight': non-finite value"));
  CHECK_THAT(r.output, Catch::Contains("at row 2, column 32 (element 160)"));
  CHECK_THAT(r.output, Catch::Contains("decoded from Q8_0 block 1 of that row"));
  fs::remove_all(dir);
}

TEST_CASE("shardq run's workers reject a NaN or Inf as quantize does, naming tensor and element, and write nothing",
          "[cli][nonfinite]") {
  // The workers encode rows straight from the mapping and check each row just
  // before encoding it: the error is ReadF32's, for any unit and rank.
  const std::string dir = testing::MakeTempDir("nonfinite-run");
  ShakespeareWithBadValue(dir, "model.layers.4.mlp.down_proj.weight", 1000, INFINITY);
  std::ofstream(dir + "/job.yaml") << "model: " << dir << "/\noutput: { path: " << dir << "/out.gguf }\nstate_dir: "
                                   << dir << "/state\nrecipe: { quantize: { preset: Q4_K_M, algorithm: rtn } }\n";
  for (const std::string& threads : {"1", "2"}) {
    RunResult r = RunShardq("run " + dir + "/job.yaml -q --threads " + threads);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains("blk.4.ffn_down.weight") &&
                             Catch::Contains("non-finite value inf at row 1, column 232 (element 1000)"));
    CHECK_FALSE(fs::exists(dir + "/out.gguf"));
  }
  fs::remove_all(dir);
}
