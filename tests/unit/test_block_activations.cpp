// Block-major calibration (worker/block_activations.h) gathers, one block at a
// time, exactly what the window-major forward of `shardq calibrate --hessian`
// gathers for all blocks at once: the same X^T X and mean x^2 for every linear.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "common/hf_tokenizer_json.h"
#include "common/model.h"
#include "tests/unit/test_util.h"
#include "worker/block_activations.h"
#include "worker/calibration.h"
#include "worker/llama_weights.h"

using namespace shardq;

TEST_CASE("block activations: layer-major Hessians equal the window-major calibration's", "[calibration]") {
  auto model = OpenModel(testing::SharedPath("models/shakespeare-5m"));
  REQUIRE(model.ok());
  auto tokenizer = TokenizerForModel(*model);
  REQUIRE(tokenizer.ok());
  std::ifstream in(testing::SharedPath("corpus/shakespeare-calib.txt"), std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto windows = CalibrationWindows(*tokenizer, text, 4, 48, "calib");
  REQUIRE(windows.ok());
  auto weights = LlamaWeights::Load(std::move(*model));
  REQUIRE(weights.ok());
  ForwardOptions fo;
  fo.n_threads = 2;
  fo.max_context = 48;
  LlamaForward forward(**weights, fo);

  CalibrationStats window_major;
  REQUIRE(Calibrate(forward, *windows, /*hessian=*/true, &window_major).ok());

  BlockActivations acts(&forward, 0);
  std::vector<float> hidden;
  for (const auto& w : *windows) {
    REQUIRE(forward.Embed(w, &hidden).ok());
    acts.AddWindow(hidden.data(), static_cast<int64_t>(w.size()));
  }
  CHECK(acts.bytes() == 4u * 48 * (*weights)->config().dim * sizeof(float));
  const int64_t n_layers = (*weights)->config().n_layers;
  REQUIRE(n_layers >= 3);
  CalibrationStats layer_major;
  // Block 0 observed, block 1 skipped (advanced over), the rest observed: what a
  // resumed stage does when block 1 is already done.
  acts.RunBlockObserved(StatsObserver(&layer_major, true));
  acts.AdvanceTo(2);
  CHECK(acts.layer() == 2);
  for (int64_t l = 2; l < n_layers; ++l) acts.RunBlockObserved(StatsObserver(&layer_major, true));
  acts.RunHeadObserved(StatsObserver(&layer_major, true));

  size_t compared = 0;
  for (const auto& [name, want] : window_major.entries()) {
    const ChannelStats* got = layer_major.Find(name);
    if (name.rfind("blk.1.", 0) == 0) {
      CHECK(got == nullptr);
      continue;
    }
    INFO(name);
    REQUIRE(got != nullptr);
    CHECK(got->token_count == want.token_count);
    CHECK(got->sum_sq == want.sum_sq);
    CHECK(got->absmax == want.absmax);
    REQUIRE(got->hessian.size() == want.hessian.size());
    CHECK(got->hessian == want.hessian);
    ++compared;
  }
  CHECK(compared == window_major.size() - 7);  // all but block 1's seven linears
}
