// The Llama forward pass against an independent naive implementation, across
// the model formats, and greedy decoding against the published continuations.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/tokenizer.h"
#include "tests/unit/test_util.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"
#include "worker/sampling.h"

using namespace shardq;

namespace {

std::unique_ptr<LlamaWeights> LoadWeights(const std::string& rel, LoadWeightsOptions opts = {}) {
  auto m = OpenModel(testing::SharedPath(rel));
  REQUIRE(m.ok());
  auto w = LlamaWeights::Load(std::move(m).value(), opts);
  INFO(w.status().ToString());
  REQUIRE(w.ok());
  return std::move(w).value();
}

std::vector<double> Tensor(Model& m, const std::string& name) {
  const TensorInfo* t = m.source->Find(name);
  REQUIRE(t != nullptr);
  std::vector<float> f;
  REQUIRE(m.source->ReadF32(*t, &f).ok());
  return std::vector<double>(f.begin(), f.end());
}

// y = W x with W {rows, cols} row-major.
std::vector<double> Linear(const std::vector<double>& w, const std::vector<double>& x, size_t rows) {
  const size_t cols = x.size();
  std::vector<double> y(rows, 0.0);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) y[r] += w[r * cols + c] * x[c];
  return y;
}

std::vector<double> RmsNorm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double s = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
  return y;
}

// Textbook Llama in double precision, written from the paper's equations: one
// position at a time, keys and values of every earlier position kept in lists.
std::vector<std::vector<double>> NaiveLogits(Model& m, const std::vector<int32_t>& tokens) {
  const LlamaConfig& c = m.config;
  const size_t dim = c.dim, hd = c.head_dim(), nh = c.n_heads, nkv = c.n_kv_heads, ff = c.hidden_dim;
  const auto emb = Tensor(m, "token_embd.weight");
  const bool tied = m.source->Find("output.weight") == nullptr;
  const auto head = tied ? emb : Tensor(m, "output.weight");
  const auto out_norm = Tensor(m, "output_norm.weight");
  struct Layer {
    std::vector<double> an, fn, q, k, v, o, g, u, d;
  };
  std::vector<Layer> layers(c.n_layers);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    layers[l] = {Tensor(m, p + "attn_norm.weight"), Tensor(m, p + "ffn_norm.weight"), Tensor(m, p + "attn_q.weight"),
                 Tensor(m, p + "attn_k.weight"),    Tensor(m, p + "attn_v.weight"),   Tensor(m, p + "attn_output.weight"),
                 Tensor(m, p + "ffn_gate.weight"),  Tensor(m, p + "ffn_up.weight"),   Tensor(m, p + "ffn_down.weight")};
  }
  std::vector<std::vector<std::vector<double>>> keys(c.n_layers), values(c.n_layers);
  std::vector<std::vector<double>> all_logits;
  auto rope = [&](std::vector<double>& v, size_t heads, size_t pos) {
    for (size_t h = 0; h < heads; ++h)
      for (size_t i = 0; i < hd / 2; ++i) {
        const double a = pos * std::pow(c.rope_theta, -2.0 * i / hd);
        const double x0 = v[h * hd + 2 * i], x1 = v[h * hd + 2 * i + 1];
        v[h * hd + 2 * i] = x0 * std::cos(a) - x1 * std::sin(a);
        v[h * hd + 2 * i + 1] = x0 * std::sin(a) + x1 * std::cos(a);
      }
  };
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    std::vector<double> x(emb.begin() + tokens[pos] * dim, emb.begin() + (tokens[pos] + 1) * dim);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      Layer& L = layers[l];
      auto xn = RmsNorm(x, L.an, c.rms_norm_eps);
      auto q = Linear(L.q, xn, dim), k = Linear(L.k, xn, nkv * hd), v = Linear(L.v, xn, nkv * hd);
      rope(q, nh, pos);
      rope(k, nkv, pos);
      keys[l].push_back(k);
      values[l].push_back(v);
      std::vector<double> att(dim, 0.0);
      for (size_t h = 0; h < nh; ++h) {
        const size_t kh = h / (nh / nkv);
        std::vector<double> s(pos + 1);
        double mx = -1e300, sum = 0;
        for (size_t t = 0; t <= pos; ++t) {
          s[t] = 0;
          for (size_t d = 0; d < hd; ++d) s[t] += q[h * hd + d] * keys[l][t][kh * hd + d];
          s[t] /= std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[t]);
        }
        for (size_t t = 0; t <= pos; ++t) sum += (s[t] = std::exp(s[t] - mx));
        for (size_t t = 0; t <= pos; ++t)
          for (size_t d = 0; d < hd; ++d) att[h * hd + d] += s[t] / sum * values[l][t][kh * hd + d];
      }
      auto o = Linear(L.o, att, dim);
      for (size_t i = 0; i < dim; ++i) x[i] += o[i];
      xn = RmsNorm(x, L.fn, c.rms_norm_eps);
      auto g = Linear(L.g, xn, ff), u = Linear(L.u, xn, ff);
      for (size_t i = 0; i < ff; ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      auto dn = Linear(L.d, g, dim);
      for (size_t i = 0; i < dim; ++i) x[i] += dn[i];
    }
    all_logits.push_back(Linear(head, RmsNorm(x, out_norm, c.rms_norm_eps), c.vocab_size));
  }
  return all_logits;
}

double MaxAbsDiff(const float* a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

std::vector<int32_t> Greedy(LlamaForward& f, std::vector<int32_t> prompt, int n) {
  std::vector<float> logits;
  REQUIRE(f.Eval(prompt, false, &logits).ok());
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(ArgMax(logits));
    if (i + 1 < n) REQUIRE(f.Decode(out.back(), &logits).ok());
  }
  return out;
}

}  // namespace

TEST_CASE("shakespeare-5m logits equal a naive double-precision forward", "[forward]") {
  // BOS + "ROMEO:" + a few more ids: covers GQA, RoPE at several positions and the untied head.
  const std::vector<int32_t> tokens = {1, 826, 974, 13, 979, 260, 267, 334, 269, 281, 5, 1000};
  auto model = OpenModel(testing::SharedPath("models/shakespeare-5m"));
  REQUIRE(model.ok());
  const auto naive = NaiveLogits(*model, tokens);
  auto w = LoadWeights("models/shakespeare-5m");
  const int64_t vocab = w->config().vocab_size;
  REQUIRE(vocab == 1024);

  for (int threads : {1, 2}) {
    LlamaForward f(*w, ForwardOptions{threads, 64});
    SECTION("batched, " + std::to_string(threads) + " threads") {
      std::vector<float> logits;
      REQUIRE(f.Eval(tokens, true, &logits).ok());
      REQUIRE(logits.size() == tokens.size() * vocab);
      for (size_t p = 0; p < tokens.size(); ++p) {
        INFO("position " << p);
        CHECK(MaxAbsDiff(logits.data() + p * vocab, naive[p]) < 1e-4);
      }
    }
    SECTION("token by token, " + std::to_string(threads) + " threads") {
      std::vector<float> logits;
      for (size_t p = 0; p < tokens.size(); ++p) {
        REQUIRE(f.Decode(tokens[p], &logits).ok());
        INFO("position " << p);
        CHECK(MaxAbsDiff(logits.data(), naive[p]) < 1e-4);
      }
    }
    SECTION("prompt then decode, " + std::to_string(threads) + " threads") {
      std::vector<float> logits;
      REQUIRE(f.Eval(std::span(tokens).first(7), false, &logits).ok());
      CHECK(MaxAbsDiff(logits.data(), naive[6]) < 1e-4);
      REQUIRE(f.Eval(std::span(tokens).subspan(7), true, &logits).ok());
      for (size_t p = 7; p < tokens.size(); ++p) CHECK(MaxAbsDiff(logits.data() + (p - 7) * vocab, naive[p]) < 1e-4);
    }
  }
}

TEST_CASE("the four forms of stories260K give the same logits", "[forward]") {
  // The published GGUF, the llama2.c checkpoint, the HF folder (rotate-half Q/K, permuted
  // on read) and shardq's own F32 GGUF written from that folder.
  const std::string dir = testing::MakeTempDir("forward_forms");
  const std::string own = dir + "/stories260K-F32.gguf";
  const std::string cmd = std::string(SHARDQ_BINARY) + " quantize -m " +
                          testing::SharedPath("models/stories260K") + " -t F32 -o " + own + " > /dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
  std::vector<std::vector<float>> results;
  for (const std::string& path : {testing::SharedPath("models/stories260K/stories260K.gguf"),
                                  testing::SharedPath("models/stories260K/stories260K.bin"),
                                  testing::SharedPath("models/stories260K"), own}) {
    auto m = OpenModel(path);
    INFO(path << ": " << m.status().ToString());
    REQUIRE(m.ok());
    auto w = LlamaWeights::Load(std::move(m).value());
    REQUIRE(w.ok());
    CHECK((*w)->config().tied_embeddings == ((*w)->model().source->Find("output.weight") == nullptr));
    LlamaForward f(**w, ForwardOptions{1, 32});
    std::vector<float> logits;
    REQUIRE(f.Eval(tokens, true, &logits).ok());
    results.push_back(logits);
  }
  for (size_t i = 1; i < results.size(); ++i) {
    INFO("form " << i);
    REQUIRE(results[i].size() == results[0].size());
    double d = 0;
    for (size_t j = 0; j < results[0].size(); ++j) d = std::max(d, (double)std::fabs(results[i][j] - results[0][j]));
    CHECK(d < 1e-4);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("stories260K greedy from BOS gives the published 20 ids", "[forward]") {
  const std::vector<int32_t> expected = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                         315, 421, 395, 317, 426, 338, 401, 396, 267, 337};
  for (const char* rel : {"models/stories260K/stories260K.gguf", "models/stories260K/stories260K.bin"}) {
    INFO(rel);
    auto w = LoadWeights(rel);
    LlamaForward f(*w, ForwardOptions{2, 32});
    CHECK(Greedy(f, {1}, 20) == expected);
  }
}

TEST_CASE("shakespeare-5m greedy continuation of ROMEO: matches llama.cpp", "[forward]") {
  // llama-cpp-greedy.md: the F32 and Q8_0 files continue the same way. (Q6_K does too in
  // llama.cpp, but at "And" its two best tokens are 0.01 apart, so summation order decides.)
  const std::string expected = "ROMEO:\nThere is the crown of Norfolk,\nAnd thoughts of my bod";
  for (const char* rel : {"models/shakespeare-5m", "golden/gguf/shakespeare-5m-F32.gguf",
                          "golden/gguf/shakespeare-5m-Q8_0.gguf"}) {
    INFO(rel);
    auto w = LoadWeights(rel);
    REQUIRE(w->model().vocab.has_value());
    Tokenizer tok(*w->model().vocab);
    std::vector<int32_t> prompt = tok.Encode("ROMEO:", true);
    REQUIRE(prompt == std::vector<int32_t>{1, 826, 974});
    LlamaForward f(*w, ForwardOptions{2, 64});
    std::vector<int32_t> ids = prompt;
    for (int32_t id : Greedy(f, prompt, 24)) ids.push_back(id);
    CHECK(tok.Decode(ids).substr(0, expected.size()) == expected);
  }
}

TEST_CASE("forward rejects token ids outside the vocabulary and a full cache", "[forward]") {
  auto w = LoadWeights("models/stories260K/stories260K.gguf");
  LlamaForward f(*w, ForwardOptions{1, 4});
  std::vector<float> logits;
  Status st = f.Decode(512, &logits);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK(st.message().find("512") != std::string::npos);
  const std::vector<int32_t> bad = {1, 5, -3};
  st = f.Eval(bad, true, &logits);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK(st.message().find("position 2") != std::string::npos);
  CHECK(f.n_past() == 0);
  const std::vector<int32_t> five = {1, 2, 3, 4, 5};
  st = f.Eval(five, true, &logits);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK(st.message().find("KV cache") != std::string::npos);
}

TEST_CASE("in-memory Q8_0 weights stay close to F32 and decode equals batched", "[forward]") {
  LoadWeightsOptions q8;
  q8.requantize = GgmlType::Q8_0;
  auto w = LoadWeights("golden/gguf/shakespeare-5m-F32.gguf", q8);
  CHECK(w->layers()[0].wq.format->type == GgmlType::Q8_0);
  CHECK(w->token_embd().format->type == GgmlType::Q8_0);
  const std::vector<int32_t> tokens = {1, 826, 974, 13, 979, 260};
  auto f32 = LoadWeights("golden/gguf/shakespeare-5m-F32.gguf");
  LlamaForward batched(*w, ForwardOptions{2, 16}), single(*w, ForwardOptions{2, 16}), exact(*f32, ForwardOptions{2, 16});
  std::vector<float> all, one, ref;
  REQUIRE(batched.Eval(tokens, true, &all).ok());
  REQUIRE(exact.Eval(tokens, true, &ref).ok());
  for (size_t p = 0; p < tokens.size(); ++p) {
    INFO("position " << p);
    REQUIRE(single.Decode(tokens[p], &one).ok());
    // Both paths encode activations as Q8_0; only the summation order differs, which can
    // flip an activation's rounding now and then (a step of absmax/127), hence the bound.
    double d = 0, dq = 0;
    for (size_t i = 0; i < one.size(); ++i) {
      d = std::max(d, (double)std::fabs(one[i] - all[p * one.size() + i]));
      dq = std::max(dq, (double)std::fabs(ref[p * one.size() + i] - all[p * one.size() + i]));
    }
    CHECK(d < 0.05);
    CHECK(dq < 0.25);   // Q8_0 error on logits of magnitude ~10
    CHECK(dq > 1e-4);   // and the weights really were re-encoded
    CHECK(ArgMax(std::span(one)) == ArgMax(std::span(all).subspan(p * one.size(), one.size())));
  }
}

TEST_CASE("sampling: greedy is argmax, temperature sampling follows the seed and top-p", "[forward]") {
  const std::vector<float> logits = {0.5f, 3.0f, 2.9f, -1.0f};
  Sampler greedy(SamplingOptions{0.0, 1.0, 7});
  CHECK(greedy.Sample(logits) == 1);
  // top_p tiny: only the most likely token survives.
  Sampler narrow(SamplingOptions{1.0, 1e-6, 7});
  for (int i = 0; i < 20; ++i) CHECK(narrow.Sample(logits) == 1);
  Sampler a(SamplingOptions{1.0, 1.0, 42}), b(SamplingOptions{1.0, 1.0, 42});
  int seen[4] = {};
  for (int i = 0; i < 400; ++i) {
    const int32_t x = a.Sample(logits);
    CHECK(x == b.Sample(logits));
    ++seen[x];
  }
  CHECK(seen[1] > 100);
  CHECK(seen[2] > 100);
  CHECK(seen[0] > 5);  // p ~ 0.04
}

// The sampler against the distribution it claims to draw from: softmax(logits / T),
// cut to the nucleus of mass top_p and renormalized. Each option must change what is
// drawn: a sampler that ignored the temperature, the seed or top-p fails here.
TEST_CASE("sampling: frequencies follow softmax(logits / T) within the top-p nucleus and per seed", "[forward]") {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, 3.0f};
  auto expected = [&](double t, double top_p) {
    std::vector<double> p(logits.size());
    double sum = 0;
    for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(logits[i] / t);
    for (double& x : p) x /= sum;
    // Nucleus: the most likely tokens (here the highest indices) until their mass reaches top_p.
    double kept = 0;
    std::vector<double> q(p.size(), 0.0);
    for (size_t i = p.size(); i-- > 0;) {
      q[i] = p[i];
      kept += p[i];
      if (kept >= top_p) break;
    }
    for (double& x : q) x /= kept;
    return q;
  };
  auto frequencies = [&](double t, double top_p, uint64_t seed) {
    Sampler s(SamplingOptions{t, top_p, seed});
    const int n = 8000;
    std::vector<double> f(logits.size(), 0.0);
    for (int i = 0; i < n; ++i) f[s.Sample(logits)] += 1.0 / n;
    return f;
  };
  for (double t : {1.0, 2.0, 0.5}) {
    for (double top_p : {1.0, 0.7}) {
      const auto want = expected(t, top_p);
      const auto got = frequencies(t, top_p, 11);
      for (size_t i = 0; i < want.size(); ++i) {
        INFO("T " << t << " top_p " << top_p << " token " << i << ": drawn " << got[i] << ", expected " << want[i]);
        if (want[i] == 0) {
          CHECK(got[i] == 0);  // outside the nucleus: never drawn
        } else {
          CHECK(std::fabs(got[i] - want[i]) < 0.025);  // ~4.5 sigma at 8000 draws
        }
      }
    }
  }
  // The seed decides the sequence: equal seeds agree, different seeds do not.
  Sampler a(SamplingOptions{1.0, 1.0, 5}), b(SamplingOptions{1.0, 1.0, 5}), c(SamplingOptions{1.0, 1.0, 6});
  int same_ab = 0, same_ac = 0;
  for (int i = 0; i < 64; ++i) {
    const int32_t x = a.Sample(logits), y = b.Sample(logits), z = c.Sample(logits);
    same_ab += x == y;
    same_ac += x == z;
  }
  CHECK(same_ab == 64);
  CHECK(same_ac < 48);  // two independent streams agree ~40% of the time at T 1
}

TEST_CASE("shardq generate: greedy text and ids from the CLI, bad prompt ids rejected", "[forward]") {
  auto run = [](const std::string& args) {
    const std::string cmd = std::string(SHARDQ_BINARY) + " generate " + args + " 2>&1";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    const int status = pclose(p);
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  };
  const std::string model = testing::SharedPath("models/stories260K/stories260K.gguf");
  auto [code, out] = run("-m " + model + " -n 20 --ids");
  CHECK(code == 0);
  CHECK(out.find("Once upon a time, there was a little girl named Lily") != std::string::npos);
  CHECK(out.find("ids: 1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337\n") !=
        std::string::npos);
  std::tie(code, out) = run("-m " + model + " --prompt-ids '403 512' -n 2");
  CHECK(code == 1);
  CHECK(out.find("'512' at position 1 is not a token id below 512") != std::string::npos);
  // Sampling is reproducible from its seed.
  const std::string sampled = "-m " + model + " -n 16 --temp 0.9 --top-p 0.95 --seed 11 --ids";
  auto a = run(sampled), b = run(sampled);
  CHECK(a.first == 0);
  CHECK(a.second.substr(0, a.second.find("shardq generate:")) == b.second.substr(0, b.second.find("shardq generate:")));
}
