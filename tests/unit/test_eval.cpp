// Perplexity / KL evaluation against llama.cpp's numbers on the same files
// (golden/gguf/llama-cpp-results.md), and the eval command's bad inputs.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/tokenizer.h"
#include "tests/unit/test_util.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"
#include "worker/perplexity.h"

using namespace shardq;

namespace {

std::unique_ptr<LlamaWeights> Load(const std::string& rel) {
  auto m = OpenModel(testing::SharedPath(rel));
  REQUIRE(m.ok());
  auto w = LlamaWeights::Load(std::move(m).value());
  REQUIRE(w.ok());
  return std::move(w).value();
}

std::vector<int32_t> TextTokens(const LlamaWeights& w, const std::string& rel) {
  std::ifstream in(testing::SharedPath(rel), std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  REQUIRE(w.model().vocab.has_value());
  return Tokenizer(*w.model().vocab).Encode(s.str(), true);
}

std::vector<int32_t> IdFile(const std::string& rel) {
  std::ifstream in(testing::SharedPath(rel));
  std::vector<int32_t> ids{1};  // BOS once, as llama-perplexity tokenizes the text
  int32_t id;
  while (in >> id) ids.push_back(id);
  return ids;
}

using testing::RunResult;
using testing::RunShardq;

}  // namespace

TEST_CASE("shakespeare-5m F32 perplexity at ctx 128 equals llama-perplexity's", "[forward][eval]") {
  auto w = Load("golden/gguf/shakespeare-5m-F32.gguf");
  const auto tokens = TextTokens(*w, "corpus/shakespeare-eval.txt");
  // The text path must tokenize as llama.cpp does: BOS + its ids.
  REQUIRE(tokens == IdFile("golden/tokens/shakespeare-5m-shakespeare-eval.llama-cpp.ids"));
  LlamaForward f(*w, ForwardOptions{0, 128});
  auto r = EvaluatePerplexity(f, nullptr, tokens, PerplexityOptions{128, 1, 0});
  REQUIRE(r.ok());
  CHECK(r->n_chunks == static_cast<int64_t>(tokens.size()) / 128);
  CHECK(r->n_scored == r->n_chunks * 63);  // positions 64..126 of each chunk
  // llama-cpp-results.md: 21.8440 +/- 0.43904. The acceptance bound is 1%; we sit far inside it.
  CHECK(std::fabs(r->ppl / 21.8440 - 1) < 0.01);
  CHECK(r->ppl == Approx(21.8440).epsilon(2e-4));
  CHECK(r->ppl_err == Approx(0.43904).epsilon(1e-3));
  // llama-perplexity --chunks 3 printed [1]10.5347,[2]12.8419,[3]14.2334.
  REQUIRE(r->running_ppl.size() >= 3);
  CHECK(r->running_ppl[0] == Approx(10.5347).epsilon(2e-4));
  CHECK(r->running_ppl[1] == Approx(12.8419).epsilon(2e-4));
  CHECK(r->running_ppl[2] == Approx(14.2334).epsilon(2e-4));
  CHECK_FALSE(r->has_reference);
}

TEST_CASE("shakespeare-5m Q8_0 vs F32 at ctx 256: perplexity, KL and top-1 as llama.cpp reports", "[forward][eval]") {
  auto q8 = Load("golden/gguf/shakespeare-5m-Q8_0.gguf");
  auto f32 = Load("golden/gguf/shakespeare-5m-F32.gguf");
  const auto tokens = IdFile("golden/tokens/shakespeare-5m-shakespeare-eval.llama-cpp.ids");
  LlamaForward model(*q8, ForwardOptions{0, 256}), reference(*f32, ForwardOptions{0, 256});
  auto r = EvaluatePerplexity(model, &reference, tokens, PerplexityOptions{256, 1, 0});
  REQUIRE(r.ok());
  CHECK(r->n_scored == r->n_chunks * 127);
  // llama-cpp-results.md: Q8_0 21.7510, F32 21.7473, mean KL 0.000077, top-1 99.119 %.
  CHECK(std::fabs(r->ppl / 21.7510 - 1) < 0.01);
  CHECK(std::fabs(r->ref_ppl / 21.7473 - 1) < 0.01);
  CHECK(r->ref_ppl == Approx(21.7473).epsilon(2e-4));
  CHECK(std::fabs(r->delta_ppl_pct()) < 1.0);
  CHECK(r->kl_mean == Approx(0.000077).epsilon(0.3));
  CHECK(r->kl_p99 > r->kl_median);
  CHECK(r->kl_max >= r->kl_p99);
  CHECK(r->top1_pct > 98.5);
  CHECK(r->top1_pct < 100.0);
}

TEST_CASE("stories260K F32 and Q4_K_M perplexity on tinystories equal llama-perplexity's", "[forward][eval][asan-slow]") {
  // The Q4_K_M file mixes types (row lengths 64 and 172 force llama-quantize's fallbacks),
  // so this covers every decode path the golden files use.
  auto f32 = Load("models/stories260K/stories260K.gguf");
  auto q4 = Load("golden/gguf/stories260K-Q4_K_M.gguf");
  const auto tokens = TextTokens(*f32, "corpus/tinystories-eval.txt");
  LlamaForward model(*q4, ForwardOptions{0, 256}), reference(*f32, ForwardOptions{0, 256});
  auto r = EvaluatePerplexity(model, &reference, tokens, PerplexityOptions{256, 1, 0});
  REQUIRE(r.ok());
  // llama-cpp-results.md: F32 5.2829, Q4_K_M 5.3894, mean KL 0.019950, top-1 92.487 %.
  CHECK(std::fabs(r->ref_ppl / 5.2829 - 1) < 0.01);
  CHECK(std::fabs(r->ppl / 5.3894 - 1) < 0.01);
  CHECK(r->kl_mean == Approx(0.019950).epsilon(0.05));
  CHECK(r->top1_pct == Approx(92.487).epsilon(0.01));
}

TEST_CASE("perplexity rejects a stream shorter than two chunks and a ctx beyond the cache", "[forward][eval]") {
  auto w = Load("models/stories260K/stories260K.gguf");
  LlamaForward f(*w, ForwardOptions{1, 64});
  std::vector<int32_t> tokens(127, 5);
  auto r = EvaluatePerplexity(f, nullptr, tokens, PerplexityOptions{64, 1, 0});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("needs at least 128") != std::string::npos);
  tokens.resize(400, 5);
  r = EvaluatePerplexity(f, nullptr, tokens, PerplexityOptions{128, 1, 0});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("KV cache") != std::string::npos);
  tokens[300] = 999;  // outside the 512-token vocabulary
  r = EvaluatePerplexity(f, nullptr, tokens, PerplexityOptions{64, 1, 0});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("999") != std::string::npos);
}

TEST_CASE("shardq eval: bad inputs fail with one clear line and --json parses", "[forward][eval]") {
  const std::string dir = testing::MakeTempDir("eval_cli");
  const std::string model = testing::SharedPath("models/stories260K/stories260K.gguf");
  auto write = [&](const std::string& name, const std::string& body) {
    std::ofstream(dir + "/" + name, std::ios::binary) << body;
    return dir + "/" + name;
  };

  RunResult r = RunShardq("eval -m " + model + " --text " + write("empty.txt", "") + " --ctx 64");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("empty.txt: the text is empty") != std::string::npos);

  r = RunShardq("eval -m " + model + " --text " + write("short.txt", "Once upon a time.") + " --ctx 64");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("short.txt:") != std::string::npos);
  CHECK(r.output.find("needs at least 128") != std::string::npos);

  std::string ids;
  for (int i = 0; i < 200; ++i) ids += std::to_string(i % 500 + 3) + (i % 10 == 9 ? "\n" : " ");
  r = RunShardq("eval -m " + model + " --tokens " + write("bad_id.ids", ids + "512 7") + " --ctx 64");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("bad_id.ids: token 200 is id 512") != std::string::npos);

  r = RunShardq("eval -m " + model + " --tokens " + write("word.ids", "1 2 x3") + " --ctx 64");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("word.ids: token 2 ('x3') is not an integer") != std::string::npos);

  r = RunShardq("eval -m " + model + " --ctx 64");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("--text FILE or ids with --tokens FILE") != std::string::npos);

  r = RunShardq("eval -m " + model + " --text " + write("empty2.txt", "") + " --tokens " + dir + "/word.ids");
  CHECK(r.exit_code != 0);  // mutually exclusive

  r = RunShardq("eval -m " + model + " --reference " + model + " --tokens " +
                testing::SharedPath("golden/tokens/stories260K-tinystories-eval.llama-cpp.ids") +
                " --ctx 128 --chunks 2 --json 2>/dev/null");
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  CHECK(j["chunks"] == 2);
  CHECK(j["scored_tokens"] == 2 * 63);
  CHECK(j["ppl"].get<double>() == Approx(j["reference_ppl"].get<double>()).epsilon(1e-9));
  CHECK(j["kl_mean"].get<double>() < 1e-9);  // a model against itself
  CHECK(j["top1_agreement_pct"].get<double>() == 100.0);
  std::filesystem::remove_all(dir);
}
