#include "worker/sensitivity.h"

#include <algorithm>
#include <cmath>

#include "common/thread_pool.h"
#include "kernels/block_format.h"
#include "worker/calibration.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"
#include "worker/tensor_quantizer.h"

namespace shardq {
namespace {

// log-softmax of each row of `logits` (n rows of vocab), in place.
void LogSoftmaxRows(std::vector<float>* logits, int64_t vocab) {
  const int64_t n = static_cast<int64_t>(logits->size()) / vocab;
  for (int64_t r = 0; r < n; ++r) {
    float* x = logits->data() + r * vocab;
    const float mx = *std::max_element(x, x + vocab);
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(x[i]) - mx);
    const float lse = mx + static_cast<float>(std::log(sum));
    for (int64_t i = 0; i < vocab; ++i) x[i] -= lse;
  }
}

// Which block a tensor feeds: the forward reruns from there (-1: the embeddings, L: the head).
int64_t FirstBlockAffected(const std::string& name, int64_t n_layers) {
  if (name == "token_embd.weight") return -1;
  if (name.rfind("blk.", 0) == 0) return std::stoll(name.substr(4, name.find('.', 4) - 4));
  return n_layers;
}

}  // namespace

Result<std::vector<TensorSensitivity>> MeasureSensitivity(Model model, const std::vector<std::vector<int32_t>>& windows,
                                                          const std::vector<SensitivityRequest>& requests, int threads) {
  LoadWeightsOptions lo;
  lo.force_f32 = true;  // the reference, and every other tensor while one is quantized
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<LlamaWeights> weights, LlamaWeights::Load(std::move(model), lo));
  const LlamaConfig& c = weights->config();
  const int64_t L = c.n_layers, dim = c.dim, vocab = c.vocab_size;
  int64_t max_len = 0;
  for (const auto& w : windows) max_len = std::max<int64_t>(max_len, static_cast<int64_t>(w.size()));
  ForwardOptions fo;
  fo.n_threads = threads;
  fo.max_context = max_len;
  fo.thread_independent = true;
  LlamaForward forward(*weights, fo);
  ThreadPool pool(threads);

  // The F32 pass once: each block's input per window, the reference
  // log-probabilities, and every linear input's mean x^2 (the importance).
  CalibrationStats stats;
  const CalibrationStats* importance = &stats;
  forward.SetLinearInputObserver(StatsObserver(&stats, /*hessian=*/false));
  std::vector<std::vector<std::vector<float>>> block_in(L + 1, std::vector<std::vector<float>>(windows.size()));
  std::vector<std::vector<float>> ref(windows.size());
  for (size_t w = 0; w < windows.size(); ++w) {
    const int64_t n = static_cast<int64_t>(windows[w].size());
    std::vector<float> h;
    forward.Reset();
    SHARDQ_RETURN_IF_ERROR(forward.Embed(windows[w], &h));
    for (int64_t l = 0; l < L; ++l) {
      block_in[l][w] = h;
      forward.Reset();
      forward.RunLayers(l, l + 1, n, h.data());
    }
    block_in[L][w] = h;
    forward.Head(h.data(), n, n, &ref[w]);
    LogSoftmaxRows(&ref[w], vocab);
  }
  forward.SetLinearInputObserver(nullptr);

  // Mean KL(ref || current weights) over every position, rerunning from `first`.
  auto mean_kl = [&](int64_t first) -> Result<double> {
    double total = 0;
    int64_t count = 0;
    std::vector<float> h, logits;
    for (size_t w = 0; w < windows.size(); ++w) {
      const int64_t n = static_cast<int64_t>(windows[w].size());
      forward.Reset();
      if (first < 0) {
        SHARDQ_RETURN_IF_ERROR(forward.Embed(windows[w], &h));
        forward.RunLayers(0, L, n, h.data());
      } else {
        h = block_in[first][w];
        if (first < L) forward.RunLayers(first, L, n, h.data());
      }
      forward.Head(h.data(), n, n, &logits);
      LogSoftmaxRows(&logits, vocab);
      for (int64_t r = 0; r < n; ++r) {
        const float* p = ref[w].data() + r * vocab;
        const float* q = logits.data() + r * vocab;
        double kl = 0;
        for (int64_t i = 0; i < vocab; ++i) kl += std::exp(double(p[i])) * (double(p[i]) - q[i]);
        total += kl;
        ++count;
      }
    }
    return count > 0 ? total / count : 0.0;
  };

  std::vector<TensorSensitivity> out;
  std::vector<float> f32;
  for (const SensitivityRequest& r : requests) {
    WeightMatrix* m = weights->FindMatrix(r.name);
    if (!m) return Status::NotFound("sensitivity: " + r.name + " is not a matrix the forward pass reads");
    f32.resize(static_cast<size_t>(m->rows * m->cols));
    m->DequantizeRows(0, m->rows, f32.data());
    const WeightMatrix original = *m;
    std::vector<float> imp;
    if (importance)
      if (const ChannelStats* s = importance->Find(r.name); s && s->n_channels == m->cols) imp = s->MeanSquare();
    TensorSensitivity ts;
    ts.name = r.name;
    for (GgmlType type : r.candidates) {
      QuantizedTensor q;
      SHARDQ_RETURN_IF_ERROR(QuantizeTensor(f32.data(), m->rows, m->cols, type, imp.empty() ? nullptr : imp.data(),
                                            &pool, &q)
                                 .WithContext("sensitivity: " + r.name + ": "));
      m->format = FindBlockFormat(type);
      m->owned = std::move(q.bytes);
      m->data = m->owned.data();
      Result<double> kl = mean_kl(FirstBlockAffected(r.name, L));
      *m = original;
      m->data = m->owned.empty() ? original.data : m->owned.data();
      if (!kl.ok()) return kl.status();
      ts.types.push_back(type);
      ts.kl.push_back(*kl);
    }
    out.push_back(std::move(ts));
  }
  return out;
}

}  // namespace shardq
