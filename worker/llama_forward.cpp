#include "worker/llama_forward.h"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

namespace shardq {

namespace {

// Dequantized tiles stay below this size so a large matrix never doubles memory.
constexpr int64_t kTileFloats = int64_t{4} << 20;
// Weight rows per slice in thread-independent products: small enough that a
// 2048-row matrix is 8 tasks, large enough that sgemm keeps its full speed (a
// one-off timing of 128 x 256 x 2048 slices against the unsliced product found
// no difference). Fixed: the slices, and so the bits, must not depend on the
// thread count.
constexpr int64_t kSliceRows = 256;
constexpr int64_t kMatVecChunkBytes = int64_t{256} << 10;
// Multiply-adds per attention task group worth a thread wake-up.
constexpr int64_t kAttentionChunkWork = int64_t{64} << 10;

// exp(x - max) for softmax rows, written so the compiler vectorizes it on baseline
// x86-64 (libm's expf is a call per value, and softmax is most of a small model's
// attention time). Cephes' range reduction x = n ln2 + r, |r| <= ln2/2, and its
// degree-6 polynomial: relative error about 2e-7, below float rounding of the sums.
void ExpShifted(float* x, int64_t n, float shift) {
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  for (int64_t i = 0; i < n; ++i) {
    // x[i] - shift <= 0 (shift is the row's max). Clamp its magnitude at 87 (exp(-87) is
    // ~0) on the integer bits: a float compare would keep the loop from vectorizing.
    const int32_t mag = std::bit_cast<int32_t>(x[i] - shift) & 0x7fffffff;
    const int32_t kMaxMag = std::bit_cast<int32_t>(87.0f);
    const float v = -std::bit_cast<float>(mag < kMaxMag ? mag : kMaxMag);
    const float t = v * kLog2e + kRound;
    const float k = t - kRound;
    const int32_t ki = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kRound);
    const float r = (v - k * kLn2Hi) - k * kLn2Lo;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float e = p * r * r + r + 1.0f;
    x[i] = e * std::bit_cast<float>((ki + 127) << 23);
  }
}

void AddInPlace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

void RmsNormRows(const float* x, const float* w, int64_t n, int64_t dim, double eps, float* y) {
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double sum = 0;  // double, as ggml sums squares, so long rows do not lose digits
    for (int64_t i = 0; i < dim; ++i) sum += static_cast<double>(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(sum / dim + eps));
    for (int64_t i = 0; i < dim; ++i) yr[i] = xr[i] * scale * w[i];
  }
}

LlamaForward::LlamaForward(const LlamaWeights& weights, const ForwardOptions& options) : weights_(weights) {
  n_threads_ = options.n_threads > 0 ? options.n_threads : DefaultThreadCount();
  pool_ = std::make_unique<ThreadPool>(n_threads_);
  // OpenBLAS runs only between our pool's parallel sections, so both may use every core
  // without oversubscribing.
  thread_independent_ = options.thread_independent;
  openblas_set_num_threads(thread_independent_ ? 1 : options.blas_threads > 0 ? options.blas_threads : n_threads_);
  const LlamaConfig& c = config();
  max_context_ = options.max_context > 0 ? options.max_context
                                         : (c.context_length > 0 ? c.context_length : 512);
  const int64_t kv_dim = c.n_kv_heads * c.head_dim();
  k_cache_.assign(c.n_layers, std::vector<float>(static_cast<size_t>(max_context_ * kv_dim)));
  v_cache_.assign(c.n_layers, std::vector<float>(static_cast<size_t>(max_context_ * kv_dim)));
  const int64_t half = c.head_dim() / 2;
  rope_freq_.resize(half);
  for (int64_t i = 0; i < half; ++i)
    rope_freq_[i] = static_cast<float>(std::pow(c.rope_theta, -2.0 * i / c.head_dim()));
}

LlamaForward::~LlamaForward() = default;

Status LlamaForward::CheckTokens(std::span<const int32_t> tokens) const {
  if (tokens.empty()) return Status::InvalidArgument("forward: no tokens to evaluate");
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= config().vocab_size)
      return Status::InvalidArgument("forward: token id " + std::to_string(tokens[i]) + " at position " +
                                     std::to_string(i) + " is outside the vocabulary (size " +
                                     std::to_string(config().vocab_size) + ")");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > max_context_)
    return Status::InvalidArgument("forward: " + std::to_string(n_past_ + tokens.size()) +
                                   " positions exceed the KV cache of " + std::to_string(max_context_));
  return Status::OK();
}

void LlamaForward::Rope(float* x, int64_t n, int64_t n_heads) const {
  // Interleaved pairs: position p rotates (x[2i], x[2i+1]) of every head by p * freq[i].
  const int64_t hd = config().head_dim();
  for (int64_t r = 0; r < n; ++r) {
    const double pos = static_cast<double>(n_past_ + r);
    for (int64_t i = 0; i < hd / 2; ++i) {
      const double angle = pos * rope_freq_[i];
      const float cs = static_cast<float>(std::cos(angle)), sn = static_cast<float>(std::sin(angle));
      for (int64_t h = 0; h < n_heads; ++h) {
        float* p = x + (r * n_heads + h) * hd + 2 * i;
        const float a = p[0], b = p[1];
        p[0] = a * cs - b * sn;
        p[1] = a * sn + b * cs;
      }
    }
  }
}

void LlamaForward::StoreKv(int64_t layer, const float* k, const float* v, int64_t n) {
  const int64_t kv_dim = config().n_kv_heads * config().head_dim();
  std::copy(k, k + n * kv_dim, k_cache_[layer].begin() + n_past_ * kv_dim);
  std::copy(v, v + n * kv_dim, v_cache_[layer].begin() + n_past_ * kv_dim);
}

void LlamaForward::AttentionBatched(int64_t layer, const float* q, int64_t n, float* out) {
  // Per head: S = Q_h K^T (sgemm), causal softmax per row, O_h = P V (sgemm). The rows
  // of one head sit `dim` (queries, outputs) or `kv_dim` (cache) floats apart.
  const LlamaConfig& c = config();
  const int64_t hd = c.head_dim(), dim = c.dim, kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
  const int64_t n_keys = n_past_ + n;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  auto softmax_rows = [&](float* s, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float* row = s + i * n_keys;
      const int64_t visible = n_past_ + i + 1;  // causal: this position and every earlier one
      float max_s = -INFINITY;
      for (int64_t t = 0; t < visible; ++t) max_s = std::max(max_s, row[t]);
      ExpShifted(row, visible, max_s);
      double sum = 0;
      for (int64_t t = 0; t < visible; ++t) sum += row[t];
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t t = 0; t < visible; ++t) row[t] *= inv;
      std::fill(row + visible, row + n_keys, 0.0f);
    }
  };
  auto head = [&](int64_t h, float* s, bool parallel_softmax) {
    const float* kh = k_cache_[layer].data() + (h / group) * hd;
    const float* vh = v_cache_[layer].data() + (h / group) * hd;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(n_keys),
                static_cast<int>(hd), scale, q + h * hd, static_cast<int>(dim), kh, static_cast<int>(kv_dim), 0.0f, s,
                static_cast<int>(n_keys));
    if (parallel_softmax)
      pool_->ParallelFor(n, 16, [&](int64_t b, int64_t e) { softmax_rows(s, b, e); });
    else
      softmax_rows(s, 0, n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(hd),
                static_cast<int>(n_keys), 1.0f, s, static_cast<int>(n_keys), vh, static_cast<int>(kv_dim), 0.0f,
                out + h * hd, static_cast<int>(dim));
  };
  if (thread_independent_) {
    // OpenBLAS runs single-threaded here, so the heads are the pool's tasks: each is
    // computed whole by one thread, the same way whatever the thread count.
    pool_->ParallelFor(c.n_heads, 1, [&](int64_t b, int64_t e) {
      std::vector<float> s(static_cast<size_t>(n * n_keys));
      for (int64_t h = b; h < e; ++h) head(h, s.data(), /*parallel_softmax=*/false);
    });
    return;
  }
  scores_.resize(static_cast<size_t>(n * n_keys));
  for (int64_t h = 0; h < c.n_heads; ++h) head(h, scores_.data(), /*parallel_softmax=*/true);
}

void LlamaForward::Attention(int64_t layer, const float* q, int64_t n, float* out) {
  const LlamaConfig& c = config();
  const int64_t hd = c.head_dim(), kv_dim = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const float* kc = k_cache_[layer].data();
  const float* vc = v_cache_[layer].data();
  const int64_t n_past = n_past_;
  const int64_t grain = std::max<int64_t>(1, kAttentionChunkWork / ((n_past + n) * hd));
  pool_->ParallelFor(n * c.n_heads, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(n_past + n));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t i = task / c.n_heads, h = task % c.n_heads;
      const int64_t kvh = h / group;
      const int64_t n_keys = n_past + i + 1;  // causal: this position and every earlier one
      const float* qh = q + i * c.dim + h * hd;
      float max_s = -INFINITY;
      for (int64_t t = 0; t < n_keys; ++t) {
        const float* kt = kc + t * kv_dim + kvh * hd;
        float s = 0;
        for (int64_t d = 0; d < hd; ++d) s += qh[d] * kt[d];
        s *= scale;
        scores[t] = s;
        max_s = std::max(max_s, s);
      }
      double sum = 0;
      for (int64_t t = 0; t < n_keys; ++t) {
        scores[t] = std::exp(scores[t] - max_s);
        sum += scores[t];
      }
      const float inv = static_cast<float>(1.0 / sum);
      float* oh = out + i * c.dim + h * hd;
      std::fill(oh, oh + hd, 0.0f);
      for (int64_t t = 0; t < n_keys; ++t) {
        const float* vt = vc + t * kv_dim + kvh * hd;
        const float p = scores[t] * inv;
        for (int64_t d = 0; d < hd; ++d) oh[d] += p * vt[d];
      }
    }
  });
}

void LlamaForward::MatVec(const WeightMatrix& w, const float* x, float* y) {
  const BlockFormat* f = w.format;
  const int64_t cols = w.cols;
  // Waking the pool costs tens of microseconds: a chunk must hold enough weight bytes
  // (kMatVecChunkBytes) to pay for it, so small matrices run on the calling thread.
  const int64_t grain = std::max<int64_t>(1, kMatVecChunkBytes / static_cast<int64_t>(w.row_bytes()));
  if (f->type == GgmlType::F32) {
    const float* base = reinterpret_cast<const float*>(w.data);
    pool_->ParallelFor(w.rows, grain, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) y[r] = cblas_sdot(static_cast<int>(cols), base + r * cols, 1, x, 1);
    });
    return;
  }
  const BlockFormat* act = f->vec_dot ? FindBlockFormat(f->vec_dot_type) : nullptr;
  if (act && act->quantize_row && f->vec_dot_type != GgmlType::F32 && cols % act->block_size == 0) {
    // Encode the activation once, then every row uses the integer dot (as ggml does).
    act_q_.resize(act->row_bytes(cols));
    act->quantize_row(x, act_q_.data(), cols, nullptr);
    const void* xq = act_q_.data();
    pool_->ParallelFor(w.rows, grain, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) y[r] = f->vec_dot(w.row(r), xq, cols);
    });
    return;
  }
  pool_->ParallelFor(w.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) y[r] = f->dot_f32(w.row(r), x, cols);
  });
}

const float* LlamaForward::RoundTripActivations(const WeightMatrix& w, const float* x, int64_t n) {
  const int64_t cols = w.cols;
  const BlockFormat* act = FindBlockFormat(w.format->vec_dot_type);
  if (!w.format->vec_dot || !act || !act->quantize_row || !act->dequantize_row ||
      w.format->vec_dot_type == GgmlType::F32 || cols % act->block_size != 0)
    return x;
  act_rt_.resize(static_cast<size_t>(n * cols));
  float* rt = act_rt_.data();
  pool_->ParallelFor(n, 4, [&](int64_t b, int64_t e) {
    std::vector<uint8_t> enc(act->row_bytes(cols));
    for (int64_t r = b; r < e; ++r) {
      act->quantize_row(x + r * cols, enc.data(), cols, nullptr);
      act->dequantize_row(enc.data(), rt + r * cols, cols);
    }
  });
  return rt;
}

void LlamaForward::MatMul(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  if (thread_independent_) return MatMulSliced(w, x, n, y);
  const int64_t rows = w.rows, cols = w.cols;
  if (w.format->type == GgmlType::F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(rows),
                static_cast<int>(cols), 1.0f, x, static_cast<int>(cols), reinterpret_cast<const float*>(w.data),
                static_cast<int>(cols), 0.0f, y, static_cast<int>(rows));
    return;
  }
  x = RoundTripActivations(w, x, n);
  const int64_t tile = std::max<int64_t>(1, std::min(rows, kTileFloats / cols));
  deq_.resize(static_cast<size_t>(tile * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += tile) {
    const int64_t nr = std::min(tile, rows - r0);
    float* d = deq_.data();
    pool_->ParallelFor(nr, 16, [&](int64_t b, int64_t e) { w.DequantizeRows(r0 + b, e - b, d + b * cols); });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(nr),
                static_cast<int>(cols), 1.0f, x, static_cast<int>(cols), d, static_cast<int>(cols), 0.0f, y + r0,
                static_cast<int>(rows));
  }
}

void LlamaForward::MatMulSliced(const WeightMatrix& w, const float* x, int64_t n, float* y) {
  const int64_t rows = w.rows, cols = w.cols;
  // Per row, so the round trip does not depend on how rows are spread over threads.
  if (w.format->type != GgmlType::F32) x = RoundTripActivations(w, x, n);
  const int64_t slices = (rows + kSliceRows - 1) / kSliceRows;
  pool_->ParallelFor(slices, 1, [&](int64_t b, int64_t e) {
    std::vector<float> deq;  // this task's dequantized slice (non-F32 weights)
    for (int64_t s = b; s < e; ++s) {
      const int64_t r0 = s * kSliceRows, nr = std::min(kSliceRows, rows - r0);
      const float* ws;
      if (w.format->type == GgmlType::F32) {
        ws = reinterpret_cast<const float*>(w.data) + r0 * cols;
      } else {
        deq.resize(static_cast<size_t>(nr * cols));
        w.DequantizeRows(r0, nr, deq.data());
        ws = deq.data();
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(nr),
                  static_cast<int>(cols), 1.0f, x, static_cast<int>(cols), ws, static_cast<int>(cols), 0.0f, y + r0,
                  static_cast<int>(rows));
    }
  });
}

Status LlamaForward::Decode(int32_t token, std::vector<float>* logits) {
  SHARDQ_RETURN_IF_ERROR(CheckTokens(std::span<const int32_t>(&token, 1)));
  const LlamaConfig& c = config();
  const int64_t dim = c.dim, kv_dim = c.n_kv_heads * c.head_dim(), hidden = c.hidden_dim;
  const double eps = c.rms_norm_eps;
  std::vector<float> x(dim), xn(dim), q(dim), k(kv_dim), v(kv_dim), att(dim), o(dim), g(hidden), u(hidden);
  weights_.token_embd().DequantizeRows(token, 1, x.data());
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayerWeights& L = weights_.layers()[l];
    RmsNormRows(x.data(), L.attn_norm.data(), 1, dim, eps, xn.data());
    MatVec(L.wq, xn.data(), q.data());
    MatVec(L.wk, xn.data(), k.data());
    MatVec(L.wv, xn.data(), v.data());
    Rope(q.data(), 1, c.n_heads);
    Rope(k.data(), 1, c.n_kv_heads);
    StoreKv(l, k.data(), v.data(), 1);
    Attention(l, q.data(), 1, att.data());
    MatVec(L.wo, att.data(), o.data());
    AddInPlace(x.data(), o.data(), dim);
    RmsNormRows(x.data(), L.ffn_norm.data(), 1, dim, eps, xn.data());
    MatVec(L.w_gate, xn.data(), g.data());
    MatVec(L.w_up, xn.data(), u.data());
    for (int64_t i = 0; i < hidden; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    MatVec(L.w_down, g.data(), o.data());
    AddInPlace(x.data(), o.data(), dim);
  }
  ++n_past_;
  RmsNormRows(x.data(), weights_.output_norm().data(), 1, dim, eps, xn.data());
  logits->resize(c.vocab_size);
  MatVec(weights_.output(), xn.data(), logits->data());
  return Status::OK();
}

Status LlamaForward::Eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits) {
  SHARDQ_RETURN_IF_ERROR(CheckTokens(tokens));
  if (tokens.size() == 1 && !observer_) return Decode(tokens[0], logits);
  const int64_t n = static_cast<int64_t>(tokens.size());
  std::vector<float> x;
  SHARDQ_RETURN_IF_ERROR(Embed(tokens, &x));
  RunLayers(0, config().n_layers, n, x.data());
  Advance(n);
  Head(x.data(), n, all_logits ? n : 1, logits);
  return Status::OK();
}

Status LlamaForward::Embed(std::span<const int32_t> tokens, std::vector<float>* hidden) const {
  SHARDQ_RETURN_IF_ERROR(CheckTokens(tokens));
  const int64_t dim = config().dim, n = static_cast<int64_t>(tokens.size());
  hidden->resize(static_cast<size_t>(n * dim));
  for (int64_t i = 0; i < n; ++i) weights_.token_embd().DequantizeRows(tokens[i], 1, hidden->data() + i * dim);
  return Status::OK();
}

void LlamaForward::RunLayers(int64_t begin, int64_t end, int64_t n, float* x) {
  const LlamaConfig& c = config();
  const int64_t dim = c.dim, kv_dim = c.n_kv_heads * c.head_dim(), hidden = c.hidden_dim;
  const double eps = c.rms_norm_eps;
  std::vector<float> xn(n * dim), q(n * dim), k(n * kv_dim), v(n * kv_dim), att(n * dim), o(n * dim),
      g(n * hidden), u(n * hidden);
  auto observe = [&](int64_t l, const char* what, const float* in, int64_t cols) {
    if (observer_) observer_("blk." + std::to_string(l) + "." + what + ".weight", in, n, cols);
  };
  for (int64_t l = begin; l < end; ++l) {
    const LlamaLayerWeights& L = weights_.layers()[l];
    RmsNormRows(x, L.attn_norm.data(), n, dim, eps, xn.data());
    observe(l, "attn_q", xn.data(), dim);
    observe(l, "attn_k", xn.data(), dim);
    observe(l, "attn_v", xn.data(), dim);
    MatMul(L.wq, xn.data(), n, q.data());
    MatMul(L.wk, xn.data(), n, k.data());
    MatMul(L.wv, xn.data(), n, v.data());
    Rope(q.data(), n, c.n_heads);
    Rope(k.data(), n, c.n_kv_heads);
    StoreKv(l, k.data(), v.data(), n);
    AttentionBatched(l, q.data(), n, att.data());
    observe(l, "attn_output", att.data(), dim);
    MatMul(L.wo, att.data(), n, o.data());
    AddInPlace(x, o.data(), n * dim);
    RmsNormRows(x, L.ffn_norm.data(), n, dim, eps, xn.data());
    observe(l, "ffn_gate", xn.data(), dim);
    observe(l, "ffn_up", xn.data(), dim);
    MatMul(L.w_gate, xn.data(), n, g.data());
    MatMul(L.w_up, xn.data(), n, u.data());
    for (int64_t i = 0; i < n * hidden; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    observe(l, "ffn_down", g.data(), hidden);
    MatMul(L.w_down, g.data(), n, o.data());
    AddInPlace(x, o.data(), n * dim);
  }
}

void LlamaForward::Head(const float* x, int64_t n, int64_t m, std::vector<float>* logits) {
  const LlamaConfig& c = config();
  const int64_t dim = c.dim;
  // Only the rows whose logits are wanted are normalized, unless the observer
  // needs the head's whole input.
  const int64_t first = observer_ ? 0 : n - m;
  std::vector<float> xn((n - first) * dim);
  RmsNormRows(x + first * dim, weights_.output_norm().data(), n - first, dim, c.rms_norm_eps, xn.data());
  if (observer_) observer_("output.weight", xn.data(), n, dim);
  logits->resize(static_cast<size_t>(m * c.vocab_size));
  MatMul(weights_.output(), xn.data() + (n - m - first) * dim, m, logits->data());
}

}  // namespace shardq
