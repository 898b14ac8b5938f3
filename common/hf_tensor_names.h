// HF Llama tensor names -> GGUF names (the names llama.cpp's loader looks up),
// plus the canonical tensor order shardq lists and writes.
#pragma once

#include <string>
#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "common/tensor_info.h"

namespace shardq {

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight".
// InvalidArgument naming the tensor when the name is not a Llama weight.
Result<std::string> HfToGgufTensorName(const std::string& hf_name);

// True for HF buffers that are not weights (rotary_emb.inv_freq) and are dropped.
bool IsIgnoredHfTensor(const std::string& hf_name);

// Renames every tensor (source_name keeps the HF name), drops ignored buffers,
// sets the RoPE layout fix on attn_q (n_heads) / attn_k (n_kv_heads), rejects
// duplicates after mapping and sorts canonically. `label` names the model in errors.
Status MapHfTensors(const LlamaConfig& config, const std::string& label,
                    std::vector<TensorInfo>* tensors);

// token_embd, then per block attn_q attn_k attn_v attn_output ffn_gate ffn_up
// ffn_down attn_norm ffn_norm (llama.cpp's converter order), output_norm, output;
// names outside this scheme keep their relative order at the end.
void SortTensorsCanonically(std::vector<TensorInfo>* tensors);

}  // namespace shardq
