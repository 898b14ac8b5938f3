// The Llama forward pass over LlamaWeights, with a KV cache.
//
// Two paths share the cache:
//  - Decode(token): one position, matrix-vector products with the block formats'
//    integer dot kernels (activations encoded as vec_dot_type once per product),
//    rows split over the thread pool;
//  - Eval(tokens): a batch of positions (prompt, perplexity chunk), each weight
//    dequantized to F32 a slice of rows at a time and multiplied with cblas_sgemm.
// By default (ForwardOptions::thread_independent) both give the same bits for
// any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <span>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "worker/llama_weights.h"

namespace shardq {

struct ForwardOptions {
  int n_threads = 0;        // <= 0: DefaultThreadCount()
  int64_t max_context = 0;  // KV cache positions; <= 0: the model's context_length (512 if unknown)
  // OpenBLAS threads; <= 0: n_threads. OpenBLAS picks different sgemm kernels
  // for different thread counts, so results differ in the last bits between
  // thread counts. Ignored when thread_independent is set.
  int blas_threads = 0;
  // Results a function of the inputs alone, whatever n_threads is (calibration:
  // the artifact must not depend on how many threads a rank has; eval: a job's
  // eval.json must not depend on the ranks' thread counts). Batched products are
  // cut into fixed slices of weight rows, each a single-threaded sgemm, and the
  // pool runs the slices; batched attention runs one head per task. Every thread
  // count computes the same pieces the same way, and still uses every thread.
  // The single-token path (Decode) is independent of the thread count either
  // way: each output row is one dot product on one thread. Off only for
  // benchmarks of multi-threaded OpenBLAS.
  bool thread_independent = true;
};

// Sees the input of every linear layer in the batched path, before the
// product: `weight` is the GGUF name of the consuming tensor
// ("blk.3.attn_q.weight", ..., "output.weight"), x is n rows of cols values.
// Calibration statistics are gathered through it.
using LinearInputObserver =
    std::function<void(const std::string& weight, const float* x, int64_t n, int64_t cols)>;

class LlamaForward {
 public:
  LlamaForward(const LlamaWeights& weights, const ForwardOptions& options = {});
  ~LlamaForward();

  const LlamaConfig& config() const { return weights_.config(); }
  int64_t n_past() const { return n_past_; }
  int64_t max_context() const { return max_context_; }
  // Forgets the cache: the next token is at position 0.
  void Reset() { n_past_ = 0; }

  // Runs one token at position n_past(); logits gets vocab_size values.
  Status Decode(int32_t token, std::vector<float>* logits);

  // Runs tokens at positions n_past() ... n_past() + n - 1. With all_logits,
  // logits gets n * vocab_size values (row per position); otherwise only the
  // last position's vocab_size values.
  Status Eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits);

  // The same computation as Eval, as pipeline stages, so ranks that own
  // different layers can run one sequence between them (calibration):
  // Embed -> RunLayers(0, a) -> RunLayers(a, b) -> ... -> Head, then Advance.
  Status Embed(std::span<const int32_t> tokens, std::vector<float>* hidden) const;
  // Layers [begin, end) on n rows of hidden states at positions n_past() ...
  // (does not advance the position: call Advance(n) once the sequence is through).
  void RunLayers(int64_t begin, int64_t end, int64_t n, float* hidden);
  // Final norm and output projection of the last `m` of n rows (the observer sees all n).
  void Head(const float* hidden, int64_t n, int64_t m, std::vector<float>* logits);
  void Advance(int64_t n) { n_past_ += n; }

  void SetLinearInputObserver(LinearInputObserver observer) { observer_ = std::move(observer); }

 private:
  Status CheckTokens(std::span<const int32_t> tokens) const;
  // y[rows] = W x, the single-token path.
  void MatVec(const WeightMatrix& w, const float* x, float* y);
  // Y[n x rows] = X[n x cols] W^T, the batched path.
  void MatMul(const WeightMatrix& w, const float* x, int64_t n, float* y);
  // ggml multiplies quantized weights with activations encoded as vec_dot_type:
  // x through that format and back (into act_rt_), so the batched products agree
  // with Decode() and with llama.cpp's numbers; x itself when there is none.
  const float* RoundTripActivations(const WeightMatrix& w, const float* x, int64_t n);
  // MatMul in fixed slices of weight rows spread over the pool (thread_independent).
  void MatMulSliced(const WeightMatrix& w, const float* x, int64_t n, float* y);
  // Attention of n query rows at positions n_past_ ... against the cache.
  void Attention(int64_t layer, const float* q, int64_t n, float* out);
  // The same for many query rows, with sgemm for Q K^T and P V.
  void AttentionBatched(int64_t layer, const float* q, int64_t n, float* out);
  void StoreKv(int64_t layer, const float* k, const float* v, int64_t n);
  void Rope(float* x, int64_t n, int64_t n_heads) const;

  const LlamaWeights& weights_;
  std::unique_ptr<ThreadPool> pool_;
  bool thread_independent_ = false;
  int n_threads_ = 1;
  int64_t max_context_ = 0;
  int64_t n_past_ = 0;
  std::vector<std::vector<float>> k_cache_, v_cache_;  // per layer: max_context x kv_dim
  std::vector<float> rope_freq_;                        // head_dim / 2 inverse frequencies
  // Scratch reused between calls.
  std::vector<float> deq_;
  std::vector<uint8_t> act_q_;
  std::vector<float> act_rt_;
  std::vector<float> scores_;
  LinearInputObserver observer_;
};

// RMSNorm of n rows of `dim` values: y = x / sqrt(mean(x^2) + eps) * w.
void RmsNormRows(const float* x, const float* w, int64_t n, int64_t dim, double eps, float* y);

}  // namespace shardq
