// Whole-process benchmark of `shardq quantize` on a ~2 GB Llama-shaped model
// (random Gaussian weights, realistic shapes), beside llama.cpp's llama-quantize
// on the same weights in the same run. Prints wall time, throughput and peak RSS
// of each, and the ratios. Never passes or fails on time.
//
// usage: bench_quantize_model [--layers N] [--type Q4_K_M] [--dir DIR] [--keep]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

struct Shape {
  std::string name;
  std::vector<int64_t> dims;
};

// TinyLlama-like block (dim 2048, 32 heads, 4 KV heads, SwiGLU 5632); vocab of the
// shakespeare tokenizer so the file carries a real tokenizer.
std::vector<Shape> LlamaShapes(int layers, int64_t dim, int64_t ffn, int64_t kv_dim, int64_t vocab) {
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

int64_t Count(const Shape& s) {
  int64_t n = 1;
  for (auto d : s.dims) n *= d;
  return n;
}

uint64_t WriteModel(const std::string& dir, int layers, const std::string& tokenizer) {
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
  for (const auto& s : shapes) {
    int64_t left = Count(s);
    const bool norm = s.dims.size() == 1;
    while (left > 0) {
      const int64_t k = std::min<int64_t>(left, buf.size());
      // A fresh Gaussian per value is slow for 500M values: draw 4096 and
      // scramble them with a cheap hash; the statistics stay Gaussian.
      for (int64_t i = 0; i < k; ++i) buf[i] = norm ? 1.0f : 0.0f;
      if (!norm) {
        static std::vector<float> pool;
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
  fs::copy_file(tokenizer, dir + "/tokenizer.model", fs::copy_options::overwrite_existing);
  return offset;
}

struct RunStats {
  int exit_code = -1;
  double seconds = 0;
  double peak_rss_mb = 0;
};

RunStats Run(const std::vector<std::string>& argv, const std::string& log) {
  RunStats r;
  const auto start = std::chrono::steady_clock::now();
  std::fflush(nullptr);  // else the child inherits and re-prints our buffered output
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(fileno(stdout), STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.peak_rss_mb = ru.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
  return r;
}

std::string SelfDir() { return fs::canonical("/proc/self/exe").parent_path().string(); }

}  // namespace

int main(int argc, char** argv) {
  int layers = 11;
  std::string type = "Q4_K_M", dir = "/tmp/shardq-bench-model";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--layers" && i + 1 < argc) layers = std::atoi(argv[++i]);
    else if (a == "--type" && i + 1 < argc) type = argv[++i];
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keep") keep = true;
  }
  const std::string shared = SHARDQ_SHARED_DIR;
  const std::string shardq = SelfDir() + "/shardq";
  const std::string llama_quantize = shared + "/tools/llama.cpp/bin/llama-quantize";
  const int threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  fs::create_directories(dir);

  std::printf("generating a %d-layer Llama-shaped F32 model in %s ...\n", layers, dir.c_str());
  const uint64_t model_bytes = WriteModel(dir, layers, shared + "/models/shakespeare-5m/tokenizer.model");
  const double model_mb = model_bytes / 1e6;
  std::printf("model: %.0f MB of F32 weights (%.0f M parameters)\n\n", model_mb, model_bytes / 4e6);

  // Warm the page cache for both tools alike: each reads the same bytes once before timing.
  Run({shardq, "quantize", "--quiet", "--model", dir, "--out", dir + "/f32.gguf", "--type", "F32"}, dir + "/f32.log");

  RunStats ours = Run({shardq, "quantize", "--quiet", "--model", dir, "--out", dir + "/shardq.gguf", "--type", type,
                       "--threads", std::to_string(threads)}, dir + "/shardq.log");
  std::printf("%-34s %8s %9s %13s %12s\n", "run", "wall s", "MB/s", "peak RSS MB", "RSS / model");
  auto row = [&](const char* name, const RunStats& r) {
    std::printf("%-34s %8.2f %9.1f %13.1f %12.3f%s\n", name, r.seconds, model_mb / r.seconds, r.peak_rss_mb,
                r.peak_rss_mb / model_mb, r.exit_code == 0 ? "" : "  (FAILED)");
  };
  row(("shardq quantize " + type + " (safetensors)").c_str(), ours);

  RunStats ours_gguf = Run({shardq, "quantize", "--quiet", "--model", dir + "/f32.gguf", "--out", dir + "/shardq2.gguf",
                            "--type", type, "--threads", std::to_string(threads)}, dir + "/shardq2.log");
  row(("shardq quantize " + type + " (F32 GGUF)").c_str(), ours_gguf);

  if (access(llama_quantize.c_str(), X_OK) == 0) {
    RunStats ref = Run({llama_quantize, dir + "/f32.gguf", dir + "/llama.gguf", type, std::to_string(threads)},
                       dir + "/llama.log");
    row(("llama-quantize " + type + " (F32 GGUF)").c_str(), ref);
    if (ref.exit_code == 0 && ours_gguf.exit_code == 0) {
      std::printf("\nspeed-up over llama-quantize, same input file: %.2fx; peak RSS ratio (shardq / llama): %.2f\n",
                  ref.seconds / ours_gguf.seconds, ours_gguf.peak_rss_mb / ref.peak_rss_mb);
      const bool same = fs::file_size(dir + "/llama.gguf") == fs::file_size(dir + "/shardq2.gguf");
      std::printf("output sizes: shardq %llu bytes, llama-quantize %llu bytes%s\n",
                  (unsigned long long)fs::file_size(dir + "/shardq2.gguf"),
                  (unsigned long long)fs::file_size(dir + "/llama.gguf"), same ? " (equal)" : "");
    }
  } else {
    std::printf("(llama-quantize not found at %s: no side-by-side run)\n", llama_quantize.c_str());
  }
  std::printf("target: peak RSS < 0.5 x model size -> shardq %.3f\n", ours.peak_rss_mb / model_mb);
  if (!keep) fs::remove_all(dir);
  return 0;
}
