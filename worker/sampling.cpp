#include "worker/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace shardq {

int32_t ArgMax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  return best;
}

int32_t Sampler::Sample(std::span<const float> logits) {
  if (options_.temperature <= 0 || logits.size() < 2) return ArgMax(logits);
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] = std::exp((logits[i] - max_logit) / options_.temperature);
    sum += p[i];
  }
  std::vector<int32_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  // Stable: equal probabilities keep index order, so a seed always gives the same token.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
  const double top_p = std::clamp(options_.top_p, 0.0, 1.0);
  size_t keep = 0;
  double kept = 0;
  while (keep < order.size()) {
    kept += p[order[keep++]] / sum;
    if (kept >= top_p) break;
  }
  std::uniform_real_distribution<double> uniform(0.0, kept);
  double r = uniform(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= p[order[i]] / sum;
    if (r < 0) return order[i];
  }
  return order[keep - 1];
}

}  // namespace shardq
