// A model opened from any supported format: its hyper-parameters, tokenizer and
// tensor source. Only headers are read at open time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/gguf_value.h"
#include "common/status.h"
#include "common/tensor_source.h"

namespace shardq {

// Llama-family hyper-parameters (HF config.json names in the comments).
struct LlamaConfig {
  std::string name;              // general.name (folder or file stem when absent)
  int64_t dim = 0;               // hidden_size
  int64_t hidden_dim = 0;        // intermediate_size
  int64_t n_layers = 0;          // num_hidden_layers
  int64_t n_heads = 0;           // num_attention_heads
  int64_t n_kv_heads = 0;        // num_key_value_heads (defaults to n_heads)
  int64_t vocab_size = 0;        // vocab_size
  int64_t context_length = 0;    // max_position_embeddings
  double rms_norm_eps = 1e-5;    // rms_norm_eps
  double rope_theta = 10000.0;   // rope_theta
  bool tied_embeddings = false;  // tie_word_embeddings (no output.weight)
  int64_t bos_token_id = 1;      // bos_token_id
  int64_t eos_token_id = 2;      // eos_token_id

  int64_t head_dim() const { return n_heads ? dim / n_heads : 0; }
};

// SentencePiece-style vocabulary as GGUF's tokenizer.ggml.* carries it.
struct Vocab {
  enum TokenType : int32_t {
    kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
  };
  std::string model = "llama";  // tokenizer.ggml.model
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  int64_t bos_id = 1;
  int64_t eos_id = 2;
  int64_t unk_id = 0;
  int64_t pad_id = -1;  // -1: none
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;  // SentencePiece's dummy prefix
};

enum class ModelFormat { kSafetensors, kGguf, kLlama2c };
const char* ModelFormatName(ModelFormat f);

struct Model {
  std::string path;
  ModelFormat format = ModelFormat::kSafetensors;
  LlamaConfig config;
  std::optional<Vocab> vocab;  // absent when no tokenizer was found
  // For GGUF input: every metadata key as read (carried to the output where it applies).
  GgufMetadata gguf_metadata;
  std::unique_ptr<TensorSource> source;
  // Every file opening the model read (config, index, tokenizer); with the
  // tensors' own files, what a job must never overwrite (see file_identity.h).
  std::vector<std::string> files;

  // `files` plus every tensor's file (a sharded model's shards).
  std::vector<std::string> InputFiles() const;
};

// Opens a model by path:
//  - a directory with config.json and model.safetensors or model.safetensors.index.json
//    (tokenizer from tokenizer.model when present);
//  - a .gguf file;
//  - a llama2.c .bin checkpoint (tokenizer from tok*.bin / tokenizer.bin beside it, if any).
// Tensor names are mapped to GGUF names; HF q/k rows get LayoutFix::kRopeHalfToInterleaved.
Result<Model> OpenModel(const std::string& path);

}  // namespace shardq
