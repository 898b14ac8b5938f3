#include "worker/awq_unit.h"

#include <map>
#include <string>

#include "worker/awq.h"
#include "worker/block_forward_f32.h"
#include "worker/block_weights_f32.h"
#include "worker/calibration_stats.h"
#include "worker/gptq_tensor.h"
#include "worker/tensor_quantizer.h"
#include "worker/unit_compressor.h"

namespace shardq {
namespace {

// Where each of a block's tensors lives in BlockWeightsF32, by its GGUF suffix.
std::vector<float>* Slot(BlockWeightsF32& w, const std::string& suffix) {
  static const std::map<std::string, std::vector<float> BlockWeightsF32::*> kSlots = {
      {"attn_norm.weight", &BlockWeightsF32::attn_norm}, {"ffn_norm.weight", &BlockWeightsF32::ffn_norm},
      {"attn_q.weight", &BlockWeightsF32::wq},           {"attn_k.weight", &BlockWeightsF32::wk},
      {"attn_v.weight", &BlockWeightsF32::wv},           {"attn_output.weight", &BlockWeightsF32::wo},
      {"ffn_gate.weight", &BlockWeightsF32::w_gate},     {"ffn_up.weight", &BlockWeightsF32::w_up},
      {"ffn_down.weight", &BlockWeightsF32::w_down}};
  auto it = kSlots.find(suffix);
  return it == kSlots.end() ? nullptr : &(w.*(it->second));
}

GgmlType TargetOf(const TensorChoice& c) { return c.quantized ? c.type : GgmlType::F32; }

}  // namespace

Result<UnitOutput> AwqCompressBlock(const AwqUnitInput& in, TensorSource& source, ThreadPool* pool) {
  const std::string prefix = "blk." + std::to_string(in.block) + ".";
  const bool then_gptq = in.recipe->algorithm == Algorithm::kAwqGptq;
  BlockWeightsF32 w;
  AwqTargets targets;
  std::map<std::string, GgmlType*> target_slot = {
      {"attn_q.weight", &targets.wq},      {"attn_k.weight", &targets.wk},   {"attn_v.weight", &targets.wv},
      {"attn_output.weight", &targets.wo}, {"ffn_gate.weight", &targets.w_gate},
      {"ffn_up.weight", &targets.w_up},    {"ffn_down.weight", &targets.w_down}};
  UnitOutput out;
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    const TensorInfo& t = *in.tensors[i];
    if (t.name.rfind(prefix, 0) != 0 || !Slot(w, t.name.substr(prefix.size())))
      return Status::Unsupported(t.name + ": AWQ knows the nine tensors of a Llama block, not this one");
    const std::string suffix = t.name.substr(prefix.size());
    uint32_t fingerprint = 0;
    SHARDQ_RETURN_IF_ERROR(ReadSourceTensor(source, t, pool, Slot(w, suffix), &fingerprint));
    source.Release(t);
    out.source_fingerprints.push_back(fingerprint);
    if (auto it = target_slot.find(suffix); it != target_slot.end()) *it->second = TargetOf(in.choices[i]);
  }
  AwqOptions options;
  options.n_threads = pool ? pool->size() : 1;
  AwqReport report;
  SHARDQ_RETURN_IF_ERROR(
      AwqBlock(*in.config, in.block_input, in.n_windows, in.seq_len, targets, options, &w, &report)
          .WithContext(prefix + " AWQ: "));

  // awq+gptq: the Hessians of what the folded linears will see (X / s).
  std::map<std::string, ChannelStats> inputs;  // by group input: attn_in, attn_mix, ffn_in, down_in
  if (then_gptq) {
    BlockRunOptions ro;
    ro.capture_inputs = true;
    ro.n_threads = options.n_threads;
    BlockRunCapture cap;
    SHARDQ_RETURN_IF_ERROR(RunBlockF32(*in.config, w, in.block_input, in.n_windows, in.seq_len, ro, &cap));
    const int64_t dim = in.config->dim, hidden = in.config->hidden_dim;
    for (auto [name, x, cols] : {std::tuple{"attn_in", &cap.attn_in, dim}, std::tuple{"attn_mix", &cap.attn_mix, dim},
                                 std::tuple{"ffn_in", &cap.ffn_in, dim}, std::tuple{"down_in", &cap.down_in, hidden}}) {
      ChannelStats& s = inputs[name];
      s.n_channels = cols;
      s.Accumulate(x->data(), cap.n_captured, /*with_hessian=*/true);
      x->clear();
      x->shrink_to_fit();
    }
  }
  const std::map<std::string, std::string> input_of = {
      {"attn_q.weight", "attn_in"},  {"attn_k.weight", "attn_in"},   {"attn_v.weight", "attn_in"},
      {"attn_output.weight", "attn_mix"}, {"ffn_gate.weight", "ffn_in"}, {"ffn_up.weight", "ffn_in"},
      {"ffn_down.weight", "down_in"}};

  for (size_t i = 0; i < in.tensors.size(); ++i) {
    const TensorInfo& t = *in.tensors[i];
    const TensorChoice& choice = in.choices[i];
    const std::string suffix = t.name.substr(prefix.size());
    const std::vector<float>& data = *Slot(w, suffix);
    QuantizedTensor q;
    bool weighted = false;
    auto input = input_of.find(suffix);
    if (then_gptq && choice.quantized && input != input_of.end() && GptqSupports(choice.type)) {
      SHARDQ_RETURN_IF_ERROR(GptqQuantizeTensor(data.data(), t.n_rows(), t.row_length(), choice.type,
                                                inputs.at(input->second), in.recipe->gptq, pool,
                                                t.file + ": tensor '" + t.name + "'", &q));
      weighted = in.recipe->gptq.importance;
    } else {
      SHARDQ_RETURN_IF_ERROR(QuantizeTensor(data.data(), t.n_rows(), t.row_length(), choice.type, nullptr, pool, &q)
                                 .WithContext(t.file + ": tensor '" + t.name + "': "));
    }
    out.blobs.push_back(MakeBlob(t, choice, std::move(q)));
    out.weighted.push_back(weighted);
  }
  return out;
}

}  // namespace shardq
