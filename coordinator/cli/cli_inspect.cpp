#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "common/model.h"
#include "common/sha256.h"
#include "coordinator/cli/cli_commands.h"
#include "kernels/block_format.h"

namespace shardq {
namespace {

std::string Describe(const GgufValue& v) {
  char buf[64];
  switch (v.type) {
    case GgufValueType::STRING: {
      std::string s = v.s.size() > 60 ? v.s.substr(0, 57) + "..." : v.s;
      return "\"" + s + "\"";
    }
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64:
      std::snprintf(buf, sizeof(buf), "%g", v.f);
      return buf;
    case GgufValueType::BOOL:
      return v.b ? "true" : "false";
    case GgufValueType::ARRAY: {
      std::string s = "[" + std::to_string(v.arr.size()) + " x " + GgufValueTypeName(v.array_type) + "]";
      for (size_t i = 0; i < v.arr.size() && i < 4; ++i) s += (i ? ", " : " ") + Describe(v.arr[i]);
      if (v.arr.size() > 4) s += ", ...";
      return s;
    }
    default:
      return std::to_string(v.as_int());
  }
}

int Run(const std::string& path, bool hashes) {
  Result<Model> opened = OpenModel(path);
  if (!opened.ok()) {
    std::fprintf(stderr, "shardq inspect: %s\n", opened.status().message().c_str());
    return 1;
  }
  const Model& m = *opened;
  const LlamaConfig& c = m.config;
  std::printf("file: %s (%s)\n", path.c_str(), ModelFormatName(m.format));
  std::printf("model: %s: dim %lld, ffn %lld, layers %lld, heads %lld/%lld kv, vocab %lld, ctx %lld, "
              "rms_eps %g, rope_theta %g, %s head\n",
              c.name.c_str(), (long long)c.dim, (long long)c.hidden_dim, (long long)c.n_layers,
              (long long)c.n_heads, (long long)c.n_kv_heads, (long long)c.vocab_size,
              (long long)c.context_length, c.rms_norm_eps, c.rope_theta, c.tied_embeddings ? "tied" : "untied");
  if (m.vocab) {
    std::printf("tokenizer: %s, %zu tokens, bos %lld, eos %lld, unk %lld\n", m.vocab->model.c_str(),
                m.vocab->tokens.size(), (long long)m.vocab->bos_id, (long long)m.vocab->eos_id,
                (long long)m.vocab->unk_id);
  } else {
    std::printf("tokenizer: none\n");
  }
  if (m.gguf_metadata.size() > 0) {
    std::printf("metadata (%zu keys):\n", m.gguf_metadata.size());
    for (const auto& kv : m.gguf_metadata.entries())
      std::printf("  %-40s %-4s %s\n", kv.first.c_str(), GgufValueTypeName(kv.second.type),
                  Describe(kv.second).c_str());
  }
  const auto& tensors = m.source->tensors();
  uint64_t total_bytes = 0, total_elems = 0;
  std::printf("tensors (%zu):\n", tensors.size());
  std::printf("  %-28s %-12s %-6s %12s %12s  %s\n", "name", "shape", "type", "bytes", "offset", "source name");
  for (const auto& t : tensors) {
    std::printf("  %-28s %-12s %-6s %12llu %12llu  %s\n", t.name.c_str(), t.shape_string().c_str(),
                GgmlTypeName(t.type), (unsigned long long)t.nbytes, (unsigned long long)t.offset,
                t.source_name.c_str());
    total_bytes += t.nbytes;
    total_elems += t.n_elements();
  }
  if (hashes) {
    // One line per tensor, sorted by name: easy to diff against another file.
    std::vector<const TensorInfo*> sorted;
    for (const auto& t : tensors) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const TensorInfo* t : sorted) {
      Result<ByteSpan> bytes = m.source->RawBytes(*t);
      if (!bytes.ok()) {
        std::fprintf(stderr, "shardq inspect: %s\n", bytes.status().message().c_str());
        return 1;
      }
      std::printf("sha256 %s %s %s\n", t->name.c_str(), GgmlTypeName(t->type),
                  Sha256Hex(bytes->data, bytes->size).c_str());
    }
  }
  std::printf("total: %.3f M weights, %.2f MB, %.3f bits/weight\n", total_elems / 1e6, total_bytes / 1e6,
              total_elems ? 8.0 * total_bytes / total_elems : 0.0);
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& app, int* exit_code) {
  auto path = std::make_shared<std::string>();
  auto hashes = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("inspect", "Print the metadata and tensor table of a model file");
  cmd->add_option("file", *path, "HF folder, .safetensors, .gguf or llama2.c .bin")->required();
  cmd->add_flag("--hashes", *hashes, "also print the sha256 of each tensor's stored bytes, sorted by name");
  cmd->callback([path, hashes, exit_code] { *exit_code = Run(*path, *hashes); });
}

}  // namespace shardq
