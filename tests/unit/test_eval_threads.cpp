// The forward pass and `shardq eval` give the same bits for any thread count
// (issue 9, item 8): a job's eval.json must not depend on how many threads or
// ranks ran it, for F32 and for quantized weights.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/model.h"
#include "tests/unit/test_util.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"

using namespace shardq;
namespace fs = std::filesystem;

namespace {

using testing::RunResult;
using testing::RunShardq;

std::unique_ptr<LlamaWeights> LoadShakespeare(GgmlType requantize) {
  auto m = OpenModel(testing::SharedPath("models/shakespeare-5m"));
  REQUIRE(m.ok());
  LoadWeightsOptions o;
  o.requantize = requantize;
  auto w = LlamaWeights::Load(std::move(m).value(), o);
  REQUIRE(w.ok());
  return std::move(w).value();
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("forward: batched and single-token logits are bit-identical for 1, 2 and 3 threads", "[forward][threads]") {
  std::vector<int32_t> tokens(96);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 37 + 11) % 1000 + 3);
  tokens[0] = 1;
  for (GgmlType type : {GgmlType::F32, GgmlType::Q4_K, GgmlType::Q8_0}) {
    INFO(GgmlTypeName(type));
    auto w = LoadShakespeare(type);
    std::vector<float> batched[3], decoded[3];
    for (int threads = 1; threads <= 3; ++threads) {
      ForwardOptions fo;
      fo.n_threads = threads;
      fo.max_context = 128;
      LlamaForward f(*w, fo);
      REQUIRE(f.Eval(tokens, /*all_logits=*/true, &batched[threads - 1]).ok());
      // Then single tokens on top of the cache (generate's path).
      REQUIRE(f.Decode(5, &decoded[threads - 1]).ok());
      REQUIRE(f.Decode(7, &decoded[threads - 1]).ok());
    }
    CHECK(SameBits(batched[0], batched[1]));
    CHECK(SameBits(batched[0], batched[2]));
    CHECK(SameBits(decoded[0], decoded[1]));
    CHECK(SameBits(decoded[0], decoded[2]));
  }
}

namespace {

void CheckEvalThreadIndependence() {
  const std::string dir = testing::MakeTempDir("eval-threads");
  const std::string f32 = testing::SharedPath("models/shakespeare-5m");
  const std::string q4 = dir + "/q4km.gguf";
  RunResult q = RunShardq("quantize --model " + f32 + " --out " + q4 + " --type Q4_K_M --threads 2");
  INFO(q.output);
  REQUIRE(q.exit_code == 0);
  const std::string text = testing::SharedPath("corpus/shakespeare-eval.txt");
  // The quantized model against the F32 one: PPL of both, KL, top-1.
  std::string first;
  for (int threads = 1; threads <= 3; ++threads) {
    RunResult r = RunShardq("eval -m " + q4 + " --reference " + f32 + " --text " + text +
                            " --ctx 128 --chunks 6 --json --threads " + std::to_string(threads));
    INFO("--threads " << threads << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE_THAT(r.output, Catch::Contains("\"kl_mean\""));
    if (threads == 1)
      first = r.output;
    else
      CHECK(r.output == first);
  }
  // The F32 model alone.
  first.clear();
  for (int threads = 1; threads <= 3; ++threads) {
    RunResult r = RunShardq("eval -m " + f32 + " --text " + text + " --ctx 128 --chunks 6 --json --threads " +
                            std::to_string(threads));
    INFO("--threads " << threads << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    if (threads == 1)
      first = r.output;
    else
      CHECK(r.output == first);
  }
  fs::remove_all(dir);
}

}  // namespace

TEST_CASE("shardq eval --json is byte-identical for --threads 1, 2 and 3 (F32 and Q4_K_M)", "[cli][eval][threads]") {
  // Multi-threaded OpenBLAS gives thread-dependent sums with some of its sgemm
  // kernels (Haswell's and Zen's; the SkylakeX kernel happens not to), so the
  // commands also run with the Haswell kernel forced where the CPU has it.
  const char* was = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = was ? was : "";
  std::vector<std::string> core_types = {saved};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) core_types.push_back("Haswell");
  for (const std::string& core : core_types) {
    INFO("OPENBLAS_CORETYPE=" << core);
    if (core.empty())
      unsetenv("OPENBLAS_CORETYPE");
    else
      setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    CheckEvalThreadIndependence();
  }
  if (saved.empty())
    unsetenv("OPENBLAS_CORETYPE");
  else
    setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
}
