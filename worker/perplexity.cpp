#include "worker/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace shardq {

namespace {

// log-softmax of one logit row into out (double, so the sums of 32k+ terms keep digits).
void LogSoftmax(const float* logits, int64_t n, std::vector<double>* out) {
  out->resize(n);
  float max_logit = logits[0];
  for (int64_t i = 1; i < n; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - max_logit));
  const double log_sum = std::log(sum);
  for (int64_t i = 0; i < n; ++i) (*out)[i] = static_cast<double>(logits[i] - max_logit) - log_sum;
}

struct NllSum {
  double nll = 0, nll2 = 0;
  int64_t count = 0;
  void Add(double logp) {
    nll -= logp;
    nll2 += logp * logp;
    ++count;
  }
  double Ppl() const { return count ? std::exp(nll / count) : 0; }
  // llama.cpp's error estimate: sqrt(var(nll) / (n - 1)) scaled by ppl.
  double PplErr() const {
    if (count < 2) return 0;
    const double mean = nll / count;
    const double var = nll2 / count - mean * mean;
    return var > 0 ? std::sqrt(var / (count - 1)) * Ppl() : 0;
  }
};

double Percentile(std::vector<double> sorted_copy, double q) {
  std::sort(sorted_copy.begin(), sorted_copy.end());
  if (sorted_copy.empty()) return 0;
  const double pos = q * static_cast<double>(sorted_copy.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted_copy.size() - 1);
  return sorted_copy[lo] + (pos - lo) * (sorted_copy[hi] - sorted_copy[lo]);
}

}  // namespace

Result<PerplexityResult> EvaluatePerplexity(LlamaForward& model, LlamaForward* reference,
                                            std::span<const int32_t> tokens, const PerplexityOptions& options,
                                            const std::function<void(int64_t, double)>& progress) {
  const int64_t ctx = options.ctx;
  const int64_t n_tokens = static_cast<int64_t>(tokens.size());
  if (ctx < 4) return Status::InvalidArgument("eval: --ctx " + std::to_string(ctx) + " is too small (at least 4)");
  if (ctx > model.max_context())
    return Status::InvalidArgument("eval: --ctx " + std::to_string(ctx) + " exceeds the KV cache of " +
                                   std::to_string(model.max_context()));
  if (n_tokens < 2 * ctx)
    return Status::InvalidArgument("eval: the text has " + std::to_string(n_tokens) + " tokens; perplexity with --ctx " +
                                   std::to_string(ctx) + " needs at least " + std::to_string(2 * ctx));
  const int64_t vocab = model.config().vocab_size;
  if (reference && reference->config().vocab_size != vocab)
    return Status::InvalidArgument("eval: reference vocabulary has " +
                                   std::to_string(reference->config().vocab_size) + " tokens, the model " +
                                   std::to_string(vocab));
  int64_t n_chunks = n_tokens / ctx;
  if (options.max_chunks > 0) n_chunks = std::min(n_chunks, options.max_chunks);
  const int64_t first = ctx / 2;

  PerplexityResult res;
  res.has_reference = reference != nullptr;
  NllSum sum, ref_sum;
  std::vector<double> kls;
  int64_t agree = 0;
  std::vector<int32_t> chunk(ctx);
  std::vector<float> logits, ref_logits;
  std::vector<double> lp, ref_lp;
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy(tokens.begin() + c * ctx, tokens.begin() + (c + 1) * ctx, chunk.begin());
    chunk[0] = options.bos_id;  // every chunk starts as a fresh sequence
    model.Reset();
    SHARDQ_RETURN_IF_ERROR(model.Eval(chunk, /*all_logits=*/true, &logits));
    if (reference) {
      reference->Reset();
      SHARDQ_RETURN_IF_ERROR(reference->Eval(chunk, /*all_logits=*/true, &ref_logits));
    }
    for (int64_t j = first; j < ctx - 1; ++j) {
      const int32_t next = tokens[c * ctx + j + 1];
      LogSoftmax(logits.data() + j * vocab, vocab, &lp);
      sum.Add(lp[next]);
      if (!reference) continue;
      LogSoftmax(ref_logits.data() + j * vocab, vocab, &ref_lp);
      ref_sum.Add(ref_lp[next]);
      double kl = 0;
      int64_t top = 0, ref_top = 0;
      for (int64_t i = 0; i < vocab; ++i) {
        kl += std::exp(ref_lp[i]) * (ref_lp[i] - lp[i]);
        if (lp[i] > lp[top]) top = i;
        if (ref_lp[i] > ref_lp[ref_top]) ref_top = i;
      }
      kls.push_back(std::max(0.0, kl));
      agree += top == ref_top;
    }
    res.running_ppl.push_back(sum.Ppl());
    if (progress) progress(c + 1, sum.Ppl());
  }
  res.n_chunks = n_chunks;
  res.n_scored = sum.count;
  res.ppl = sum.Ppl();
  res.ppl_err = sum.PplErr();
  if (reference) {
    res.ref_ppl = ref_sum.Ppl();
    res.ref_ppl_err = ref_sum.PplErr();
    const double n = static_cast<double>(kls.size());
    double s = 0, s2 = 0;
    for (double k : kls) {
      s += k;
      s2 += k * k;
    }
    res.kl_mean = s / n;
    const double var = s2 / n - res.kl_mean * res.kl_mean;
    res.kl_mean_err = n > 1 && var > 0 ? std::sqrt(var / (n - 1)) : 0;
    res.kl_p99 = Percentile(kls, 0.99);
    res.kl_median = Percentile(kls, 0.5);
    res.kl_max = *std::max_element(kls.begin(), kls.end());
    const double p = agree / n;
    res.top1_pct = 100.0 * p;
    res.top1_pct_err = n > 1 ? 100.0 * std::sqrt(p * (1 - p) / (n - 1)) : 0;
  }
  return res;
}

}  // namespace shardq
