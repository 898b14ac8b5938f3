// A Llama-shaped F32 safetensors model with random Gaussian weights and
// realistic shapes (TinyLlama-like block), for whole-process benchmarks
// (bench_quantize_model, bench_scaling). Header-only: each bench is one .cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shardq::bench {

struct Shape {
  std::string name;
  std::vector<int64_t> dims;
};

// TinyLlama-like block (dim 2048, 32 heads, 4 KV heads, SwiGLU 5632); vocab of the
// shakespeare tokenizer so the file carries a real tokenizer.
inline std::vector<Shape> LlamaShapes(int layers, int64_t dim, int64_t ffn, int64_t kv_dim, int64_t vocab) {
  std::vector<Shape> s;
  s.push_back({"model.embed_tokens.weight", {vocab, dim}});
  for (int i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    s.push_back({p + "input_layernorm.weight", {dim}});
    s.push_back({p + "self_attn.q_proj.weight", {dim, dim}});
    s.push_back({p + "self_attn.k_proj.weight", {kv_dim, dim}});
    s.push_back({p + "self_attn.v_proj.weight", {kv_dim, dim}});
    s.push_back({p + "self_attn.o_proj.weight", {dim, dim}});
    s.push_back({p + "post_attention_layernorm.weight", {dim}});
    s.push_back({p + "mlp.gate_proj.weight", {ffn, dim}});
    s.push_back({p + "mlp.up_proj.weight", {ffn, dim}});
    s.push_back({p + "mlp.down_proj.weight", {dim, ffn}});
  }
  s.push_back({"model.norm.weight", {dim}});
  s.push_back({"lm_head.weight", {vocab, dim}});
  return s;
}

inline int64_t Count(const Shape& s) {
  int64_t n = 1;
  for (auto d : s.dims) n *= d;
  return n;
}

// Writes DIR/model.safetensors, DIR/config.json and DIR/tokenizer.model (copied
// from `tokenizer`); returns the bytes of F32 weights. Deterministic (seed 42):
// every call with the same `layers` writes the same bytes.
inline uint64_t WriteLlamaModel(const std::string& dir, int layers, const std::string& tokenizer) {
  const int64_t dim = 2048, ffn = 5632, heads = 32, kv_heads = 4, vocab = 1024;
  const auto shapes = LlamaShapes(layers, dim, ffn, dim / heads * kv_heads, vocab);
  nlohmann::json header;
  uint64_t offset = 0;
  for (const auto& s : shapes) {
    const uint64_t bytes = 4ull * Count(s);
    header[s.name] = {{"dtype", "F32"}, {"shape", s.dims}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(dir + "/model.safetensors", std::ios::binary);
  const uint64_t n = text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(text.data(), text.size());
  std::mt19937 rng(42);
  std::normal_distribution<float> gauss(0.0f, 0.02f);
  std::vector<float> buf(1 << 20);
  std::vector<float> pool;
  for (const auto& s : shapes) {
    int64_t left = Count(s);
    const bool norm = s.dims.size() == 1;
    while (left > 0) {
      const int64_t k = std::min<int64_t>(left, buf.size());
      // A fresh Gaussian per value is slow for 500M values: draw 65536 and
      // scramble them with a cheap hash; the statistics stay Gaussian.
      for (int64_t i = 0; i < k; ++i) buf[i] = norm ? 1.0f : 0.0f;
      if (!norm) {
        if (pool.empty()) for (int i = 0; i < 65536; ++i) pool.push_back(gauss(rng));
        uint32_t h = rng();
        for (int64_t i = 0; i < k; ++i) {
          h ^= h << 13; h ^= h >> 17; h ^= h << 5;
          buf[i] = pool[h & 65535] * (1.0f + 0.001f * static_cast<float>((h >> 16) & 255));
        }
      }
      out.write(reinterpret_cast<const char*>(buf.data()), k * 4);
      left -= k;
    }
  }
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
                           {"hidden_size", dim}, {"intermediate_size", ffn},
                           {"num_hidden_layers", layers}, {"num_attention_heads", heads},
                           {"num_key_value_heads", kv_heads}, {"vocab_size", vocab},
                           {"max_position_embeddings", 2048}, {"rms_norm_eps", 1e-5},
                           {"rope_theta", 10000.0}, {"tie_word_embeddings", false},
                           {"bos_token_id", 1}, {"eos_token_id", 2}};
  std::ofstream(dir + "/config.json") << config.dump(2);
  std::filesystem::copy_file(tokenizer, dir + "/tokenizer.model",
                             std::filesystem::copy_options::overwrite_existing);
  return offset;
}

}  // namespace shardq::bench
