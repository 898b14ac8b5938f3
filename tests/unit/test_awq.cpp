// AWQ on the real shakespeare-5m (GQA: 8 heads / 4 kv heads, rows of 256 and 768):
// folding leaves the F32 model's logits unchanged, AWQ'd blocks quantized with
// the real formats beat RTN on held-out tokens, alpha 0 is RTN to the byte, the
// Gram-matrix error equals the error computed from its definition, bad input is
// an error. Every reference is computed outside the AWQ code: LlamaForward (tested
// against a naive forward in test_forward.cpp), QuantizeTensor, double loops.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <random>

#include "common/hf_tokenizer_json.h"
#include "common/model.h"
#include "kernels/block_format.h"
#include "tests/unit/test_util.h"
#include "worker/awq.h"
#include "worker/awq_fold.h"
#include "worker/awq_search.h"
#include "worker/block_forward_f32.h"
#include "worker/calibration.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"
#include "worker/perplexity.h"
#include "worker/tensor_quantizer.h"

using namespace shardq;

namespace {

constexpr int64_t kSeq = 64;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Fixture {
  std::unique_ptr<LlamaWeights> weights;
  std::vector<std::vector<int32_t>> calib, held_out;
};

// A model in F32 with `n_calib` calibration windows and 8 held-out windows (from
// the eval text, never seen by the search). Returns false when the model is missing.
bool LoadModel(const std::string& model_rel, const std::string& corpus, int64_t n_calib, Fixture* f) {
  auto model = OpenModel(testing::SharedPath(model_rel));
  if (!model.ok()) return false;
  auto tok = TokenizerForModel(*model);
  REQUIRE(tok.ok());
  auto calib = CalibrationWindows(*tok, ReadText(testing::SharedPath("corpus/" + corpus + "-calib.txt")), n_calib,
                                  kSeq, "calib");
  auto held = CalibrationWindows(*tok, ReadText(testing::SharedPath("corpus/" + corpus + "-eval.txt")), 8, kSeq, "eval");
  REQUIRE(calib.ok());
  REQUIRE(held.ok());
  LoadWeightsOptions lo;
  lo.force_f32 = true;
  auto w = LlamaWeights::Load(std::move(*model), lo);
  REQUIRE(w.ok());
  f->weights = std::move(w).value();
  f->calib = std::move(calib).value();
  f->held_out = std::move(held).value();
  return true;
}

bool LoadShakespeare(Fixture* f) { return LoadModel("models/shakespeare-5m", "shakespeare", 16, f); }

// The hidden states entering every block, per window (window after window), from
// the original F32 model: inputs[l] feeds block l.
std::vector<std::vector<float>> BlockInputs(const LlamaWeights& w, const std::vector<std::vector<int32_t>>& windows) {
  ForwardOptions fo;
  fo.max_context = kSeq;
  fo.n_threads = 1;
  LlamaForward fwd(w, fo);
  const int64_t layers = w.config().n_layers;
  std::vector<std::vector<float>> inputs(layers);
  for (const auto& win : windows) {
    fwd.Reset();
    std::vector<float> x;
    REQUIRE(fwd.Embed(win, &x).ok());
    for (int64_t l = 0; l < layers; ++l) {
      inputs[l].insert(inputs[l].end(), x.begin(), x.end());
      fwd.RunLayers(l, l + 1, static_cast<int64_t>(win.size()), x.data());
    }
  }
  return inputs;
}

WeightMatrix Quantized(const std::vector<float>& w, int64_t rows, int64_t cols, GgmlType type) {
  ThreadPool pool(1);
  QuantizedTensor qt;
  REQUIRE(QuantizeTensor(w.data(), rows, cols, type, nullptr, &pool, &qt).ok());
  WeightMatrix m;
  m.format = FindBlockFormat(type);
  m.rows = rows;
  m.cols = cols;
  m.owned = std::move(qt.bytes);
  m.data = m.owned.data();
  return m;
}

// The block with every linear stored in `type`, as inference would hold it.
LlamaLayerWeights QuantizedLayer(const LlamaConfig& c, const BlockWeightsF32& b, GgmlType type) {
  const int64_t dim = c.dim, kv = c.n_kv_heads * c.head_dim(), hid = c.hidden_dim;
  LlamaLayerWeights l;
  l.attn_norm = b.attn_norm;
  l.ffn_norm = b.ffn_norm;
  l.wq = Quantized(b.wq, dim, dim, type);
  l.wk = Quantized(b.wk, kv, dim, type);
  l.wv = Quantized(b.wv, kv, dim, type);
  l.wo = Quantized(b.wo, dim, dim, type);
  l.w_gate = Quantized(b.w_gate, hid, dim, type);
  l.w_up = Quantized(b.w_up, hid, dim, type);
  l.w_down = Quantized(b.w_down, dim, hid, type);
  return l;
}

// The block's output on `input` through LlamaForward, whatever the layer's formats.
std::vector<float> RunLayer(const LlamaConfig& c, LlamaLayerWeights layer, const std::vector<float>& input) {
  std::vector<LlamaLayerWeights> layers;
  layers.push_back(std::move(layer));
  auto w = LlamaWeights::FromLayers(c, std::move(layers));
  ForwardOptions fo;
  fo.max_context = kSeq;
  fo.n_threads = 1;
  LlamaForward fwd(*w, fo);
  std::vector<float> x = input;
  for (size_t off = 0; off < x.size(); off += kSeq * c.dim) {
    fwd.Reset();
    fwd.RunLayers(0, 1, kSeq, x.data() + off);
  }
  return x;
}

double SumSqDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s;
}

}  // namespace

TEST_CASE("AWQ block forward is LlamaForward's block on the same windows", "[awq]") {
  Fixture f;
  if (!LoadShakespeare(&f)) SHARDQ_SKIP("shakespeare-5m not found under ../shared/models");
  const LlamaConfig& c = f.weights->config();
  const auto inputs = BlockInputs(*f.weights, f.calib);
  const int64_t l = 3, n_win = static_cast<int64_t>(f.calib.size());
  BlockRunCapture act;
  BlockRunOptions ro;
  ro.capture_inputs = true;
  const BlockWeightsF32 block = BlockFromLayer(f.weights->layers()[l]);
  REQUIRE(RunBlockF32(c, block, inputs[l], n_win, kSeq, ro, &act).ok());
  REQUIRE(act.output == inputs[l + 1]);  // the full model's next block input, bit for bit
  // A subsample of tokens (crossing windows, on 2 threads) captures exactly those rows.
  ro.captured_tokens = {0, 5, 63, 64, 700, n_win * kSeq - 1};
  ro.n_threads = 2;
  BlockRunCapture sub;
  REQUIRE(RunBlockF32(c, block, inputs[l], n_win, kSeq, ro, &sub).ok());
  REQUIRE(sub.n_captured == 6);
  REQUIRE(sub.output == act.output);
  for (size_t i = 0; i < ro.captured_tokens.size(); ++i) {
    const int64_t t = ro.captured_tokens[i];
    for (int64_t j = 0; j < c.hidden_dim; ++j) REQUIRE(sub.down_in[i * c.hidden_dim + j] == act.down_in[t * c.hidden_dim + j]);
    for (int64_t j = 0; j < c.dim; ++j) REQUIRE(sub.attn_mix[i * c.dim + j] == act.attn_mix[t * c.dim + j]);
  }
  ro.captured_tokens = {5, 5};
  REQUIRE_FALSE(RunBlockF32(c, block, inputs[l], n_win, kSeq, ro, &sub).ok());
  // The captured attn_norm output is RMSNorm of the input (computed here in double).
  const auto& an = f.weights->layers()[l].attn_norm;
  double max_err = 0;
  for (int64_t t = 0; t < n_win * kSeq; t += 97) {
    const float* x = inputs[l].data() + t * c.dim;
    double ss = 0;
    for (int64_t j = 0; j < c.dim; ++j) ss += double(x[j]) * x[j];
    const double inv = 1.0 / std::sqrt(ss / c.dim + c.rms_norm_eps);
    for (int64_t j = 0; j < c.dim; ++j)
      max_err = std::max(max_err, std::fabs(x[j] * inv * an[j] - act.attn_in[t * c.dim + j]));
  }
  REQUIRE(max_err < 1e-5);
  REQUIRE(act.down_in.size() == static_cast<size_t>(n_win * kSeq * c.hidden_dim));
}

TEST_CASE("AWQ scaled quantization error equals its definition", "[awq]") {
  // ||X W^T - (X / s) Q(W diag s)^T||^2 computed in double from the definition,
  // for n < cols (X path) and n >= cols (Gram path).
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t rows = 8, cols = 64;
  std::vector<float> w(rows * cols), s(cols);
  for (float& v : w) v = nd(rng);
  for (int64_t j = 0; j < cols; ++j) s[j] = 0.5f + 0.03f * static_cast<float>(j);
  const BlockFormat* fmt = FindBlockFormat(GgmlType::Q4_0);
  ThreadPool pool(1);
  for (int64_t n : {int64_t{16}, int64_t{200}}) {
    std::vector<float> x(n * cols);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < cols; ++j) x[t * cols + j] = nd(rng) * (1.0f + (j % 7));
    // Q(W diag s) row by row with the format's own functions.
    std::vector<float> ws(w.size()), q(w.size());
    for (size_t i = 0; i < w.size(); ++i) ws[i] = w[i] * s[i % cols];
    std::vector<uint8_t> enc(fmt->row_bytes(cols));
    for (int64_t r = 0; r < rows; ++r) {
      fmt->quantize_row(ws.data() + r * cols, enc.data(), cols, nullptr);
      fmt->dequantize_row(enc.data(), q.data() + r * cols, cols);
    }
    double expect = 0;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        double ref = 0, got = 0;
        for (int64_t j = 0; j < cols; ++j) {
          ref += double(x[t * cols + j]) * w[r * cols + j];
          got += double(x[t * cols + j]) / s[j] * q[r * cols + j];
        }
        expect += (ref - got) * (ref - got);
      }
    LinearInputs inputs(x.data(), n, cols);
    const LinearToQuantize lin[] = {{w.data(), rows, fmt}};
    INFO("n = " << n);
    REQUIRE(ScaledQuantError(lin, inputs, s.data(), &pool) == Approx(expect).epsilon(1e-4));
    REQUIRE(expect > 0);
  }
}

TEST_CASE("AWQ folding leaves the F32 model's logits unchanged", "[awq][asan-slow]") {
  Fixture f;
  if (!LoadShakespeare(&f)) SHARDQ_SKIP("shakespeare-5m not found under ../shared/models");
  const LlamaConfig& c = f.weights->config();
  const auto inputs = BlockInputs(*f.weights, f.calib);
  auto folded = LlamaWeights::Load(std::move(OpenModel(testing::SharedPath("models/shakespeare-5m"))).value(), [] {
    LoadWeightsOptions lo;
    lo.force_f32 = true;
    return lo;
  }());
  REQUIRE(folded.ok());
  // Searched alphas (Q4_K targets), and alpha 1 (the widest scales) for every group.
  for (double fixed : {-1.0, 1.0}) {
    AwqOptions opt;
    opt.clip_search = false;
    opt.fixed_alpha = fixed;
    opt.max_tokens = 300;  // the search on a subsample of the 1024 tokens (folding is exact whatever it chose)
    int scaled_groups = 0;
    for (int64_t l = 0; l < c.n_layers; ++l) {
      BlockWeightsF32 b = BlockFromLayer(f.weights->layers()[l]);
      AwqReport rep;
      REQUIRE(AwqBlock(c, inputs[l], static_cast<int64_t>(f.calib.size()), kSeq, AwqTargets::All(GgmlType::Q4_K), opt,
                       &b, &rep)
                  .ok());
      for (const auto& g : rep.groups) scaled_groups += g.scaled && g.alpha > 0;
      (*folded)->SetLayer(l, LayerFromBlock(c, b));
    }
    INFO("fixed alpha " << fixed);
    REQUIRE(scaled_groups >= c.n_layers);  // the weights really changed
    ForwardOptions fo;
    fo.max_context = kSeq;
    LlamaForward ref(*f.weights, fo), got(**folded, fo);
    std::vector<float> a, b;
    REQUIRE(ref.Eval(f.held_out[0], true, &a).ok());
    REQUIRE(got.Eval(f.held_out[0], true, &b).ok());
    double max_diff = 0, max_abs = 0, sum_diff = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      sum_diff += std::fabs(double(a[i]) - b[i]);
      max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
      max_abs = std::max(max_abs, std::fabs(double(a[i])));
    }
    const double rel = max_diff / max_abs;
    WARN("fold, fixed alpha " << fixed << ": max |logit diff| / max |logit| = " << rel << " (" << scaled_groups
                              << " groups scaled), sum diff " << sum_diff << " max diff " << max_diff);
    REQUIRE(rel <= 1e-5);
  }
}

TEST_CASE("AWQ beats RTN on held-out tokens for Q4_0, Q4_K and Q3_K", "[awq][asan-slow]") {
  // Each block AWQ'd on its calibration input (16 windows of the calib text),
  // then every linear stored in the format and run by LlamaForward's quantized
  // path (activations through Q8_0 / Q8_K, as llama.cpp multiplies them) on 8
  // held-out windows of the eval text; the error is the block output's squared
  // distance to the F32 block's. With clipping (the default) every block must
  // beat RTN. Scales alone must beat RTN summed over the blocks, but not in
  // every block: the search scores each linear's own output error, and a block's
  // output error is not the sum of those (softmax, SiLU, the activations'
  // rounding), so a block may lose by a few percent (measured: Q4_K blk.3 1.05x).
  Fixture f;
  if (!LoadShakespeare(&f)) SHARDQ_SKIP("shakespeare-5m not found under ../shared/models");
  const LlamaConfig& c = f.weights->config();
  const auto calib_in = BlockInputs(*f.weights, f.calib);
  const auto held_in = BlockInputs(*f.weights, f.held_out);
  const int64_t n_calib = static_cast<int64_t>(f.calib.size());
  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q3_K}) {
    double rtn_total = 0, awq_total = 0, scales_total = 0;
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const BlockWeightsF32 orig = BlockFromLayer(f.weights->layers()[l]);
      BlockWeightsF32 awq = orig, scaled = orig;
      AwqReport rep;
      REQUIRE(AwqBlock(c, calib_in[l], n_calib, kSeq, AwqTargets::All(type), {}, &awq, &rep).ok());
      AwqOptions no_clip;
      no_clip.clip_search = false;
      REQUIRE(AwqBlock(c, calib_in[l], n_calib, kSeq, AwqTargets::All(type), no_clip, &scaled, nullptr).ok());
      const std::vector<float> ref = RunLayer(c, LayerFromBlock(c, orig), held_in[l]);
      const double rtn = SumSqDiff(ref, RunLayer(c, QuantizedLayer(c, orig, type), held_in[l]));
      const double got = SumSqDiff(ref, RunLayer(c, QuantizedLayer(c, awq, type), held_in[l]));
      const double sc = SumSqDiff(ref, RunLayer(c, QuantizedLayer(c, scaled, type), held_in[l]));
      std::string alphas;
      for (const auto& g : rep.groups) alphas += " " + g.name + "=" + std::to_string(g.alpha).substr(0, 4);
      WARN(GgmlTypeName(type) << " blk." << l << ": held-out block output error / RTN's: AWQ " << got / rtn
                              << ", scales only " << sc / rtn << ";" << alphas);
      rtn_total += rtn;
      awq_total += got;
      scales_total += sc;
      INFO(GgmlTypeName(type) << " blk." << l);
      REQUIRE(got < rtn);
    }
    WARN(GgmlTypeName(type) << " all blocks: AWQ / RTN = " << awq_total / rtn_total << ", scales only / RTN = "
                            << scales_total / rtn_total);
    REQUIRE(scales_total < rtn_total);
  }
}

TEST_CASE("AWQ with alpha 0 and no clipping is RTN to the byte", "[awq]") {
  Fixture f;
  if (!LoadShakespeare(&f)) SHARDQ_SKIP("shakespeare-5m not found under ../shared/models");
  const LlamaConfig& c = f.weights->config();
  const auto inputs = BlockInputs(*f.weights, f.calib);
  AwqOptions opt;
  opt.fixed_alpha = 0;
  opt.clip_search = false;
  const int64_t l = 2;
  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_K}) {
    const BlockWeightsF32 orig = BlockFromLayer(f.weights->layers()[l]);
    BlockWeightsF32 b = orig;
    AwqReport rep;
    REQUIRE(AwqBlock(c, inputs[l], static_cast<int64_t>(f.calib.size()), kSeq, AwqTargets::All(type), opt, &b, &rep)
                .ok());
    REQUIRE(b.attn_norm == orig.attn_norm);
    REQUIRE(b.ffn_norm == orig.ffn_norm);
    const LlamaLayerWeights qa = QuantizedLayer(c, orig, type), qb = QuantizedLayer(c, b, type);
    for (auto m : {&LlamaLayerWeights::wq, &LlamaLayerWeights::wk, &LlamaLayerWeights::wv, &LlamaLayerWeights::wo,
                   &LlamaLayerWeights::w_gate, &LlamaLayerWeights::w_up, &LlamaLayerWeights::w_down})
      REQUIRE((qa.*m).owned == (qb.*m).owned);
    for (const auto& g : rep.groups) {
      REQUIRE(g.alpha == 0);
      REQUIRE(g.error == g.rtn_error);
      REQUIRE(g.rtn_error > 0);
    }
  }
}

TEST_CASE("AWQ rejects bad input with a clear error and leaves the weights alone", "[awq]") {
  Fixture f;
  if (!LoadShakespeare(&f)) SHARDQ_SKIP("shakespeare-5m not found under ../shared/models");
  const LlamaConfig& c = f.weights->config();
  const BlockWeightsF32 orig = BlockFromLayer(f.weights->layers()[0]);
  std::vector<float> input(2 * kSeq * c.dim, 0.5f);
  const AwqTargets q4k = AwqTargets::All(GgmlType::Q4_K);
  auto expect_error = [&](BlockWeightsF32 b, std::span<const float> in, int64_t n_win, int64_t seq,
                          const AwqTargets& t, const std::string& words) {
    const BlockWeightsF32 before = b;
    Status st = AwqBlock(c, in, n_win, seq, t, {}, &b, nullptr);
    INFO(st.ToString());
    REQUIRE_FALSE(st.ok());
    REQUIRE_THAT(st.message(), Catch::Contains(words));
    REQUIRE(b.wq == before.wq);
    REQUIRE(b.attn_norm == before.attn_norm);
  };
  BlockWeightsF32 bad = orig;
  bad.wk.pop_back();
  expect_error(bad, input, 2, kSeq, q4k, "attn_k has");
  expect_error(orig, {}, 0, kSeq, q4k, "no activations");
  expect_error(orig, input, 3, kSeq, q4k, "expected 3 windows");
  AwqTargets q5 = q4k;
  q5.w_down = GgmlType::Q5_0;  // fine: 768 is a multiple of 32
  BlockWeightsF32 ok = orig;
  REQUIRE(AwqBlock(c, input, 2, kSeq, q5, {}, &ok, nullptr).ok());
  // A config whose rows do not fit the format: the message names the linear.
  LlamaConfig small = c;
  small.hidden_dim = 200;  // not a multiple of 32
  BlockWeightsF32 b200 = orig;
  b200.w_gate.resize(200 * c.dim);
  b200.w_up.resize(200 * c.dim);
  b200.w_down.resize(c.dim * 200);
  Status st = AwqBlock(small, input, 2, kSeq, AwqTargets::All(GgmlType::Q4_0), {}, &b200, nullptr);
  REQUIRE_FALSE(st.ok());
  REQUIRE_THAT(st.message(), Catch::Contains("ffn_down") && Catch::Contains("block size"));
  // Untied attn_output scales under GQA cannot fold into attn_v.
  AwqScaleSet s;
  s.attn_out.assign(c.dim, 1.0f);
  s.attn_out[c.head_dim() + 3] = 2.0f;  // head 1 shares kv head 0 with head 0
  BlockWeightsF32 fb = orig;
  st = FoldAwqScales(c, s, &fb);
  REQUIRE_FALSE(st.ok());
  REQUIRE_THAT(st.message(), Catch::Contains("share kv head 0"));
}

TEST_CASE("AWQ whole model: Q4_K blocks after AWQ are closer to F32 than RTN Q4_K (KL on held-out text)", "[awq][asan-slow]") {
  // Every block AWQ'd on its input from the original F32 model (as AWQ's own code
  // does: scaling alone leaves each block's output unchanged, so that is also the
  // scaled model's input), then all 7 linears of every block stored in Q4_K;
  // embeddings and head stay F32. KL(P_f32 || P_model) of next-token
  // distributions on the eval text, which the search never saw.
  Fixture f;
  if (!LoadShakespeare(&f)) SHARDQ_SKIP("shakespeare-5m not found under ../shared/models");
  const LlamaConfig& c = f.weights->config();
  const auto inputs = BlockInputs(*f.weights, f.calib);
  LoadWeightsOptions lo;
  lo.force_f32 = true;
  auto open = [&] { return std::move(OpenModel(testing::SharedPath("models/shakespeare-5m"))).value(); };
  auto rtn = LlamaWeights::Load(open(), lo), awq = LlamaWeights::Load(open(), lo);
  REQUIRE(rtn.ok());
  REQUIRE(awq.ok());
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const BlockWeightsF32 orig = BlockFromLayer(f.weights->layers()[l]);
    BlockWeightsF32 b = orig;
    REQUIRE(AwqBlock(c, inputs[l], static_cast<int64_t>(f.calib.size()), kSeq, AwqTargets::All(GgmlType::Q4_K), {},
                     &b, nullptr)
                .ok());
    (*rtn)->SetLayer(l, QuantizedLayer(c, orig, GgmlType::Q4_K));
    (*awq)->SetLayer(l, QuantizedLayer(c, b, GgmlType::Q4_K));
  }
  auto model = OpenModel(testing::SharedPath("models/shakespeare-5m"));
  auto tok = TokenizerForModel(*model);
  REQUIRE(tok.ok());
  const std::vector<int32_t> ids = tok->Encode(ReadText(testing::SharedPath("corpus/shakespeare-eval.txt")), true);
  PerplexityOptions po;
  po.ctx = 128;
  po.max_chunks = 24;
  ForwardOptions fo;
  fo.max_context = po.ctx;
  LlamaForward ref(*f.weights, fo), fr(**rtn, fo), fa(**awq, fo);
  auto r = EvaluatePerplexity(fr, &ref, ids, po);
  auto a = EvaluatePerplexity(fa, &ref, ids, po);
  REQUIRE(r.ok());
  REQUIRE(a.ok());
  WARN("Q4_K whole model, " << a->n_scored << " tokens: KL RTN " << r->kl_mean << " +/- " << r->kl_mean_err
                            << ", KL AWQ " << a->kl_mean << " +/- " << a->kl_mean_err << "; PPL F32 " << r->ref_ppl
                            << ", RTN " << r->ppl << ", AWQ " << a->ppl);
  REQUIRE(r->kl_mean > 0);
  REQUIRE(a->kl_mean < r->kl_mean);
}

TEST_CASE("AWQ on stories260K: a linear left unquantized leaves its group unscaled, folding still exact", "[awq]") {
  // dim 64, hidden 172: ffn_down's rows (172) fit no 32-block format, so it stays
  // F16 (as llama.cpp falls back); the other linears are Q4_0.
  Fixture f;
  if (!LoadModel("models/stories260K/stories260K.gguf", "tinystories", 8, &f))
    SHARDQ_SKIP("stories260K not found under ../shared/models");
  const LlamaConfig& c = f.weights->config();
  REQUIRE(c.hidden_dim % 32 != 0);
  const auto inputs = BlockInputs(*f.weights, f.calib);
  AwqTargets t = AwqTargets::All(GgmlType::Q4_0);
  t.w_down = GgmlType::F16;
  LoadWeightsOptions lo;
  lo.force_f32 = true;
  auto folded = LlamaWeights::Load(std::move(OpenModel(testing::SharedPath("models/stories260K/stories260K.gguf"))).value(), lo);
  REQUIRE(folded.ok());
  AwqOptions opt;
  opt.clip_search = false;
  opt.fixed_alpha = 0.5;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const BlockWeightsF32 orig = BlockFromLayer(f.weights->layers()[l]);
    BlockWeightsF32 b = orig;
    AwqReport rep;
    REQUIRE(AwqBlock(c, inputs[l], static_cast<int64_t>(f.calib.size()), kSeq, t, opt, &b, &rep).ok());
    REQUIRE(rep.groups.size() == 4);
    for (const auto& g : rep.groups) {
      INFO(g.name);
      REQUIRE(g.scaled == (g.name != "ffn_down"));
    }
    REQUIRE(b.w_down == orig.w_down);  // its group was left alone
    REQUIRE(b.wq != orig.wq);
    (*folded)->SetLayer(l, LayerFromBlock(c, b));
  }
  ForwardOptions fo;
  fo.max_context = kSeq;
  LlamaForward ref(*f.weights, fo), got(**folded, fo);
  std::vector<float> a, b;
  REQUIRE(ref.Eval(f.held_out[0], true, &a).ok());
  REQUIRE(got.Eval(f.held_out[0], true, &b).ok());
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
    max_abs = std::max(max_abs, std::fabs(double(a[i])));
  }
  WARN("stories260K fold (alpha 0.5): max |logit diff| / max |logit| = " << max_diff / max_abs);
  REQUIRE(max_diff / max_abs <= 1e-5);
}
