// Picks the next token from logits: greedy (argmax) when the temperature is 0,
// otherwise temperature + nucleus (top-p) sampling from a seeded generator, so a
// run is reproducible from its seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace shardq {

struct SamplingOptions {
  double temperature = 0.0;  // <= 0: greedy
  double top_p = 1.0;        // keep the smallest set of tokens whose probability reaches top_p
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options) : options_(options), rng_(options.seed) {}
  int32_t Sample(std::span<const float> logits);

 private:
  SamplingOptions options_;
  std::mt19937_64 rng_;
};

// Index of the largest logit (the lowest index among ties).
int32_t ArgMax(std::span<const float> logits);

}  // namespace shardq
