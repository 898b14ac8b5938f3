#include "common/model.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "common/gguf_config.h"
#include "common/gguf_reader.h"
#include "common/gguf_vocab.h"
#include "common/hf_config.h"
#include "common/hf_tensor_names.h"
#include "common/llama2c_reader.h"
#include "common/safetensors_reader.h"
#include "common/sentencepiece_vocab.h"

namespace shardq {
namespace {

namespace fs = std::filesystem;

// Every tensor a llama.cpp Llama model needs, with the shape the config implies.
Status CheckLlamaTensors(const LlamaConfig& c, const std::vector<TensorInfo>& tensors,
                         const std::string& label) {
  std::map<std::string, const TensorInfo*> by_name;
  for (const auto& t : tensors) by_name[t.name] = &t;
  const int64_t kv = c.head_dim() * c.n_kv_heads;
  auto expect = [&](const std::string& name, std::vector<int64_t> shape) -> Status {
    auto it = by_name.find(name);
    if (it == by_name.end()) return Status::NotFound(label + ": missing tensor '" + name + "'");
    if (it->second->shape != shape) {
      TensorInfo want;
      want.shape = shape;
      return Status::InvalidArgument(it->second->file + ": tensor '" + name + "': shape " +
                                     it->second->shape_string() + " does not match the config's " +
                                     want.shape_string());
    }
    return Status::OK();
  };
  SHARDQ_RETURN_IF_ERROR(expect("token_embd.weight", {c.vocab_size, c.dim}));
  SHARDQ_RETURN_IF_ERROR(expect("output_norm.weight", {c.dim}));
  if (!c.tied_embeddings) SHARDQ_RETURN_IF_ERROR(expect("output.weight", {c.vocab_size, c.dim}));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    SHARDQ_RETURN_IF_ERROR(expect(p + "attn_norm.weight", {c.dim}));
    SHARDQ_RETURN_IF_ERROR(expect(p + "attn_q.weight", {c.dim, c.dim}));
    SHARDQ_RETURN_IF_ERROR(expect(p + "attn_k.weight", {kv, c.dim}));
    SHARDQ_RETURN_IF_ERROR(expect(p + "attn_v.weight", {kv, c.dim}));
    SHARDQ_RETURN_IF_ERROR(expect(p + "attn_output.weight", {c.dim, c.dim}));
    SHARDQ_RETURN_IF_ERROR(expect(p + "ffn_norm.weight", {c.dim}));
    SHARDQ_RETURN_IF_ERROR(expect(p + "ffn_gate.weight", {c.hidden_dim, c.dim}));
    SHARDQ_RETURN_IF_ERROR(expect(p + "ffn_up.weight", {c.hidden_dim, c.dim}));
    SHARDQ_RETURN_IF_ERROR(expect(p + "ffn_down.weight", {c.dim, c.hidden_dim}));
  }
  return Status::OK();
}

// First file in `dir` whose name starts with `prefix` and ends with `ext`, skipping `except`.
std::string FindBeside(const fs::path& dir, const std::string& prefix, const std::string& ext,
                       const fs::path& except) {
  std::error_code ec;
  std::vector<std::string> hits;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (e.path() != except && n.starts_with(prefix) && n.ends_with(ext)) hits.push_back(e.path().string());
  }
  std::sort(hits.begin(), hits.end());
  return hits.empty() ? "" : hits.front();
}

Result<Model> OpenHfFolder(const std::string& path) {
  const fs::path dir(path);
  Model m;
  m.path = path;
  m.format = ModelFormat::kSafetensors;
  SHARDQ_ASSIGN_OR_RETURN(m.config, LoadHfConfig((dir / "config.json").string()));
  m.files.push_back((dir / "config.json").string());
  m.config.name = fs::absolute(dir).lexically_normal().filename().string();
  if (m.config.name.empty()) m.config.name = fs::absolute(dir).parent_path().filename().string();

  std::string weights = (dir / "model.safetensors.index.json").string();
  if (!fs::exists(weights)) weights = (dir / "model.safetensors").string();
  if (!fs::exists(weights))
    return Status::NotFound(path + ": no model.safetensors or model.safetensors.index.json");
  SHARDQ_ASSIGN_OR_RETURN(auto src, SafetensorsSource::Open(weights));
  m.files.push_back(weights);
  SHARDQ_RETURN_IF_ERROR(MapHfTensors(m.config, weights, src->mutable_tensors()));
  const bool has_output = src->Find("output.weight") != nullptr;
  if (!has_output && !m.config.tied_embeddings)
    return Status::NotFound(weights + ": missing tensor 'lm_head.weight' (config.json says tie_word_embeddings is false)");
  m.config.tied_embeddings = !has_output;
  SHARDQ_RETURN_IF_ERROR(CheckLlamaTensors(m.config, src->tensors(), weights));
  m.source = std::move(src);

  std::string tok = (dir / "tokenizer.model").string();
  if (!fs::exists(tok)) tok = FindBeside(dir, "tok", ".model", {});
  if (!tok.empty()) {
    m.files.push_back(tok);
    SHARDQ_ASSIGN_OR_RETURN(Vocab v, LoadSentencePieceVocab(tok));
    m.vocab = std::move(v);
  }
  return m;
}

Result<Model> OpenGguf(const std::string& path) {
  SHARDQ_ASSIGN_OR_RETURN(auto g, GgufFile::Open(path));
  Model m;
  m.path = path;
  m.files.push_back(path);
  m.format = ModelFormat::kGguf;
  SHARDQ_ASSIGN_OR_RETURN(m.config, ConfigFromGgufMetadata(g->metadata(), path));
  if (m.config.name.empty()) m.config.name = fs::path(path).stem().string();
  const TensorInfo* embd = g->Find("token_embd.weight");
  if (m.config.vocab_size == 0 && embd) m.config.vocab_size = embd->shape.front();
  m.config.tied_embeddings = g->Find("output.weight") == nullptr;
  SHARDQ_RETURN_IF_ERROR(CheckLlamaTensors(m.config, g->tensors(), path));
  if (g->metadata().Find("tokenizer.ggml.tokens")) {
    SHARDQ_ASSIGN_OR_RETURN(Vocab v, VocabFromGgufMetadata(g->metadata(), path));
    m.vocab = std::move(v);
  }
  m.gguf_metadata = g->metadata();
  m.source = std::move(g);
  return m;
}

Result<Model> OpenLlama2cModel(const std::string& path) {
  SHARDQ_ASSIGN_OR_RETURN(Llama2cCheckpoint ck, OpenLlama2c(path));
  Model m;
  m.path = path;
  m.files.push_back(path);
  m.format = ModelFormat::kLlama2c;
  m.config = ck.config;
  SHARDQ_RETURN_IF_ERROR(CheckLlamaTensors(m.config, ck.source->tensors(), path));
  m.source = std::move(ck.source);
  const fs::path dir = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  std::string tok = (dir / "tokenizer.bin").string();
  if (!fs::exists(tok)) tok = FindBeside(dir, "tok", ".bin", fs::path(path));
  if (!tok.empty()) {
    m.files.push_back(tok);
    SHARDQ_ASSIGN_OR_RETURN(Vocab v, LoadLlama2cTokenizer(tok, m.config.vocab_size));
    m.vocab = std::move(v);
  }
  return m;
}

}  // namespace

const char* ModelFormatName(ModelFormat f) {
  switch (f) {
    case ModelFormat::kSafetensors: return "safetensors";
    case ModelFormat::kGguf: return "gguf";
    case ModelFormat::kLlama2c: return "llama2c";
  }
  return "?";
}

Result<Model> OpenModel(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return OpenHfFolder(path);
  if (!fs::exists(path, ec)) return Status::NotFound(path + ": no such file or directory");
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".gguf") return OpenGguf(path);
  if (ext == ".bin") return OpenLlama2cModel(path);
  if (ext == ".safetensors" || fs::path(path).filename() == "model.safetensors.index.json")
    return OpenHfFolder(fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string());
  return Status::InvalidArgument(path + ": not a model folder, .gguf or llama2.c .bin file");
}

std::vector<std::string> Model::InputFiles() const {
  std::vector<std::string> all = files;
  if (source)
    for (const TensorInfo& t : source->tensors())
      if (std::find(all.begin(), all.end(), t.file) == all.end()) all.push_back(t.file);
  return all;
}

}  // namespace shardq
