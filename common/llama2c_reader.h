// Legacy llama2.c checkpoints (.bin). Layout, little-endian:
//   7 x i32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//     (vocab_size < 0: the classifier is stored separately; >= 0: shared with the embedding)
//   F32 arrays, each stacked over layers where per layer: token_embedding [vocab, dim],
//   rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim],
//   wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden],
//   w3 [L, hidden, dim], rms_final [dim], freq_cis_real/imag [seq_len, head_dim/2] (skipped),
//   wcls [vocab, dim] when not shared.
// Q/K rows are already in llama.cpp's interleaved RoPE order: no layout fix.
// Tokenizer (tokenizer.bin / tok512.bin): i32 max_token_length, then per token
//   f32 score, i32 byte length, bytes (llama2.c's export writes '▁' as ' ' and
//   <s> / </s> as "\n<s>\n" / "\n</s>\n"; we undo that).
#pragma once

#include <memory>
#include <string>

#include "common/model.h"
#include "common/status.h"
#include "common/tensor_source.h"

namespace shardq {

struct Llama2cCheckpoint {
  LlamaConfig config;
  std::unique_ptr<TensorSource> source;  // GGUF names, canonical order
};

Result<Llama2cCheckpoint> OpenLlama2c(const std::string& path);

// Reads a llama2.c tokenizer with `vocab_size` tokens. Types are inferred the way
// llama.cpp's llama2.c converter does: 0 unknown, 1 and 2 control, <0xHH> byte.
Result<Vocab> LoadLlama2cTokenizer(const std::string& path, int64_t vocab_size);

}  // namespace shardq
