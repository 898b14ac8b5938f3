#include "worker/awq.h"

#include <cmath>
#include <vector>

#include "common/thread_pool.h"
#include "kernels/block_format.h"
#include "worker/awq_fold.h"
#include "worker/awq_search.h"
#include "worker/block_forward_f32.h"

namespace shardq {

namespace {

struct Linear {
  const char* name;
  std::vector<float>* w;
  int64_t rows;
  const BlockFormat* format;  // nullptr: unquantized
};

Status ResolveFormat(const char* name, GgmlType type, int64_t cols, const BlockFormat** out) {
  const BlockFormat* f = FindBlockFormat(type);
  if (!f) return Status::Unsupported(std::string("AWQ: ") + name + ": no block format for type " + GgmlTypeName(type));
  if (!f->quantized) {
    *out = nullptr;
    return Status::OK();
  }
  if (!f->quantize_row || !f->dequantize_row)
    return Status::Unsupported(std::string("AWQ: ") + name + ": cannot encode type " + GgmlTypeName(type));
  if (cols % f->block_size != 0)
    return Status::InvalidArgument(std::string("AWQ: ") + name + ": row length " + std::to_string(cols) +
                                   " is not a multiple of " + f->name + "'s block size " +
                                   std::to_string(f->block_size) + " (pick the fallback type before AWQ)");
  *out = f;
  return Status::OK();
}

Status CheckOptions(const AwqOptions& o) {
  if (o.alpha_grid < 1) return Status::InvalidArgument("AWQ: alpha_grid must be at least 1");
  if (o.fixed_alpha > 1) return Status::InvalidArgument("AWQ: fixed_alpha must be in [0, 1] (or < 0 to search)");
  if (o.clip_grid < 1) return Status::InvalidArgument("AWQ: clip_grid must be at least 1");
  if (!(o.clip_min_ratio > 0 && o.clip_min_ratio <= 1))
    return Status::InvalidArgument("AWQ: clip_min_ratio must be in (0, 1]");
  if (o.max_tokens < 1) return Status::InvalidArgument("AWQ: max_tokens must be at least 1");
  return Status::OK();
}

}  // namespace

Status AwqBlock(const LlamaConfig& config, std::span<const float> block_input, int64_t n_windows, int64_t seq_len,
                const AwqTargets& targets, const AwqOptions& options, BlockWeightsF32* w, AwqReport* report) {
  SHARDQ_RETURN_IF_ERROR(CheckOptions(options));
  SHARDQ_RETURN_IF_ERROR(CheckBlockShapes(config, *w));
  if (n_windows <= 0 || seq_len <= 0 || block_input.empty())
    return Status::InvalidArgument("AWQ: no activations (" + std::to_string(n_windows) + " windows of " +
                                   std::to_string(seq_len) + " tokens, " + std::to_string(block_input.size()) +
                                   " values)");
  const int64_t dim = config.dim, hidden = config.hidden_dim, kv_dim = config.n_kv_heads * config.head_dim();
  Linear q{"attn_q", &w->wq, dim, nullptr}, k{"attn_k", &w->wk, kv_dim, nullptr}, v{"attn_v", &w->wv, kv_dim, nullptr},
      o{"attn_output", &w->wo, dim, nullptr}, gate{"ffn_gate", &w->w_gate, hidden, nullptr},
      up{"ffn_up", &w->w_up, hidden, nullptr}, down{"ffn_down", &w->w_down, dim, nullptr};
  SHARDQ_RETURN_IF_ERROR(ResolveFormat(q.name, targets.wq, dim, &q.format));
  SHARDQ_RETURN_IF_ERROR(ResolveFormat(k.name, targets.wk, dim, &k.format));
  SHARDQ_RETURN_IF_ERROR(ResolveFormat(v.name, targets.wv, dim, &v.format));
  SHARDQ_RETURN_IF_ERROR(ResolveFormat(o.name, targets.wo, dim, &o.format));
  SHARDQ_RETURN_IF_ERROR(ResolveFormat(gate.name, targets.w_gate, dim, &gate.format));
  SHARDQ_RETURN_IF_ERROR(ResolveFormat(up.name, targets.w_up, dim, &up.format));
  SHARDQ_RETURN_IF_ERROR(ResolveFormat(down.name, targets.w_down, hidden, &down.format));

  // The searches measure at most max_tokens tokens, evenly strided over all windows;
  // only their inputs are kept (the forward still runs every token).
  const int64_t n_tokens = n_windows * seq_len;
  BlockRunOptions run;
  run.capture_inputs = true;
  run.n_threads = options.n_threads;
  if (n_tokens > options.max_tokens) {
    run.captured_tokens.resize(static_cast<size_t>(options.max_tokens));
    for (int64_t i = 0; i < options.max_tokens; ++i) run.captured_tokens[i] = i * n_tokens / options.max_tokens;
  }
  BlockRunCapture act;
  SHARDQ_RETURN_IF_ERROR(RunBlockF32(config, *w, block_input, n_windows, seq_len, run, &act));
  const int64_t n_sampled = act.n_captured;

  struct Group {
    const char* name;
    std::vector<float> x;  // the sampled inputs, tokens x cols
    int64_t cols;
    std::vector<Linear*> linears;
    std::vector<float>* scales;
  };
  AwqScaleSet scales;
  Group groups[] = {{"attn_qkv", std::move(act.attn_in), dim, {&q, &k, &v}, &scales.qkv},
                    {"attn_output", std::move(act.attn_mix), dim, {&o}, &scales.attn_out},
                    {"ffn_gate_up", std::move(act.ffn_in), dim, {&gate, &up}, &scales.gate_up},
                    {"ffn_down", std::move(act.down_in), hidden, {&down}, &scales.down}};

  ThreadPool pool(options.n_threads);
  AwqReport rep;
  rep.tokens = n_sampled;
  // Every group is searched on the original weights: the folds of one group do not
  // change another group's input except by that group's own 1/s.
  for (Group& g : groups) {
    const LinearInputs inputs(g.x.data(), n_sampled, g.cols);
    std::vector<LinearToQuantize> lin;
    bool any_quantized = false;
    for (Linear* l : g.linears) {
      lin.push_back({l->w->data(), l->rows, l->format});
      any_quantized = any_quantized || l->format;
    }
    AwqGroupReport gr;
    gr.name = g.name;
    gr.rtn_error = ScaledQuantError(lin, inputs, nullptr, &pool);
    gr.error = gr.rtn_error;
    const bool is_o = g.scales == &scales.attn_out;
    if (any_quantized && (!is_o || options.scale_attn_output)) {
      std::vector<double> mean = inputs.mean_abs();
      if (is_o) {
        // Tie across the heads sharing a kv head: each v row gets one scale.
        const int64_t hd = config.head_dim(), group = config.n_heads / config.n_kv_heads;
        for (int64_t kvh = 0; kvh < config.n_kv_heads; ++kvh)
          for (int64_t d = 0; d < hd; ++d) {
            double sum = 0;
            for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) sum += inputs.mean_abs()[h * hd + d];
            for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) mean[h * hd + d] = sum / group;
          }
      }
      std::vector<double> alphas;
      if (options.fixed_alpha >= 0) {
        alphas.push_back(options.fixed_alpha);
      } else {
        for (int i = 0; i <= options.alpha_grid; ++i) alphas.push_back(static_cast<double>(i) / options.alpha_grid);
      }
      double best = INFINITY;
      for (double a : alphas) {
        std::vector<float> s = AwqScales(mean, a);
        const double err = a == 0 ? gr.rtn_error : ScaledQuantError(lin, inputs, s.data(), &pool);
        if (err < best) {  // strict: a tie keeps the smaller alpha
          best = err;
          gr.alpha = a;
          gr.error = err;
          *g.scales = std::move(s);
        }
      }
      gr.scaled = true;
      gr.scales = *g.scales;
    }
    rep.groups.push_back(std::move(gr));
  }
  SHARDQ_RETURN_IF_ERROR(FoldAwqScales(config, scales, w));

  if (options.clip_search) {
    for (Group& g : groups) {
      bool any = false;
      for (Linear* l : g.linears) any = any || (l->format && (options.clip_qk || (l != &q && l != &k)));
      if (!any) continue;
      // The folded linear reads X / s.
      std::vector<float> xs = g.x;
      if (!g.scales->empty())
        for (size_t i = 0; i < xs.size(); ++i) xs[i] /= (*g.scales)[i % g.cols];
      const LinearInputs inputs(xs.data(), n_sampled, g.cols);
      for (Linear* l : g.linears) {
        if (!l->format || (!options.clip_qk && (l == &q || l == &k))) continue;  // see AwqOptions::clip_qk
        const std::vector<float> h = inputs.DiagonalGramBlocks(l->format->block_size);
        const ClipResult c = ClipSearch(*l->format, l->w->data(), l->rows, g.cols, h, options.clip_grid,
                                        options.clip_min_ratio, &pool);
        rep.clips.push_back({l->name, c.error_before, c.error_after, c.mean_ratio});
      }
    }
  }
  if (report) *report = std::move(rep);
  return Status::OK();
}

}  // namespace shardq
