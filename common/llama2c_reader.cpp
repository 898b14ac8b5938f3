#include "common/llama2c_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "common/hf_tensor_names.h"
#include "common/mapped_file.h"

namespace shardq {
namespace {

// Bytes of one F32 array stacked over `layers` (0: a single tensor). Every
// dimension is at most 2^24, so 128 bits hold the product of any header's values.
unsigned __int128 ArrayBytes(const std::vector<int64_t>& shape, int64_t layers) {
  unsigned __int128 n = 4 * static_cast<unsigned __int128>(std::max<int64_t>(layers, 1));
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

class Llama2cSource : public TensorSource {
 public:
  Llama2cSource(std::unique_ptr<MappedFile> file, std::vector<TensorInfo> tensors)
      : file_(std::move(file)), tensors_(std::move(tensors)) {}
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  Result<ByteSpan> RawBytes(const TensorInfo& t) override {
    if (t.file != file_->path() || !file_->Contains(t.offset, t.nbytes))
      return Status::Corruption(t.file + ": tensor '" + t.name + "': bytes outside " + file_->path());
    return ByteSpan{file_->data() + t.offset, t.nbytes};
  }
  void Release(const TensorInfo& t) override { file_->Release(t.offset, t.nbytes); }

 private:
  std::unique_ptr<MappedFile> file_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace

Result<Llama2cCheckpoint> OpenLlama2c(const std::string& path) {
  SHARDQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  constexpr uint64_t kHeader = 7 * 4;
  if (file->size() < kHeader)
    return Status::Corruption(path + ": file is " + std::to_string(file->size()) +
                              " bytes, too short for the 28-byte llama2.c header");
  int32_t h[7];
  std::memcpy(h, file->data(), sizeof(h));
  const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) {
    if (h[i] == 0 || (i != 5 && h[i] < 0) || h[i] < -(1 << 24) || h[i] > (1 << 24))
      return Status::Corruption(path + ": header field " + names[i] + " = " + std::to_string(h[i]) +
                                " is not a plausible size");
  }
  // Each layer is nine TensorInfos of ~200 bytes however few floats it holds:
  // a tiny-dim file claiming millions of layers could still fit its size.
  // Llama models have at most a few hundred blocks.
  constexpr int32_t kMaxLayers = 1 << 16;
  if (h[2] > kMaxLayers)
    return Status::Corruption(path + ": header field n_layers = " + std::to_string(h[2]) + " is more than " +
                              std::to_string(kMaxLayers) + " layers");
  LlamaConfig c;
  c.name = std::filesystem::path(path).stem().string();
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.vocab_size = h[5] < 0 ? -static_cast<int64_t>(h[5]) : h[5];
  c.tied_embeddings = h[5] > 0;
  c.context_length = h[6];
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || (c.dim / c.n_heads) % 2 != 0)
    return Status::Corruption(path + ": dim " + std::to_string(c.dim) + ", n_heads " + std::to_string(c.n_heads) +
                              ", n_kv_heads " + std::to_string(c.n_kv_heads) + " are inconsistent");
  const int64_t head_dim = c.dim / c.n_heads;
  const int64_t kv_dim = head_dim * c.n_kv_heads;
  const int64_t L = c.n_layers;

  // The header's counts are checked against the file's size before any tensor
  // is listed: a corrupt n_layers (up to 2^24) would otherwise allocate
  // millions of TensorInfos first. Products are 128-bit: 2^24 layers of
  // 2^24 x 2^24 floats do not fit in 64 bits.
  struct Array {
    const char* name;
    std::vector<int64_t> shape;
    int64_t layers;  // 0: one tensor named `name`; else blk.N.<name> for N < layers
  };
  std::vector<Array> arrays = {
      {"token_embd.weight", {c.vocab_size, c.dim}, 0},      {"attn_norm.weight", {c.dim}, L},
      {"attn_q.weight", {c.dim, c.dim}, L},                 {"attn_k.weight", {kv_dim, c.dim}, L},
      {"attn_v.weight", {kv_dim, c.dim}, L},                {"attn_output.weight", {c.dim, c.dim}, L},
      {"ffn_norm.weight", {c.dim}, L},                      {"ffn_gate.weight", {c.hidden_dim, c.dim}, L},
      {"ffn_down.weight", {c.dim, c.hidden_dim}, L},        {"ffn_up.weight", {c.hidden_dim, c.dim}, L},
      {"output_norm.weight", {c.dim}, 0},
  };
  const Array classifier = {"output.weight", {c.vocab_size, c.dim}, 0};
  const uint64_t freq_cis_bytes = static_cast<uint64_t>(c.context_length) * head_dim * 4;  // < 2^50
  unsigned __int128 implied = kHeader + freq_cis_bytes;
  for (const Array& a : arrays) implied += ArrayBytes(a.shape, a.layers);
  if (!c.tied_embeddings) implied += ArrayBytes(classifier.shape, classifier.layers);
  if (implied != file->size()) {
    const std::string implied_str = implied > UINT64_MAX ? std::string("more than 2^64")
                                                         : std::to_string(static_cast<uint64_t>(implied));
    return Status::Corruption(path + ": header (dim " + std::to_string(c.dim) + ", " + std::to_string(L) +
                              " layers, vocab " + std::to_string(h[5]) + ") implies " + implied_str +
                              " bytes, the file has " + std::to_string(file->size()));
  }

  std::vector<TensorInfo> ts;
  uint64_t off = kHeader;
  auto add = [&](const Array& a) {
    int64_t n = 1;
    for (int64_t d : a.shape) n *= d;
    for (int64_t l = 0; l < std::max<int64_t>(a.layers, 1); ++l) {
      TensorInfo t;
      t.name = a.layers ? "blk." + std::to_string(l) + "." + a.name : a.name;
      t.source_name = t.name;
      t.shape = a.shape;
      t.type = GgmlType::F32;
      t.file = path;
      t.offset = off;
      t.nbytes = static_cast<uint64_t>(n) * 4;
      off += t.nbytes;
      ts.push_back(std::move(t));
    }
  };
  for (const Array& a : arrays) add(a);
  off += freq_cis_bytes;  // freq_cis_real + imag: skipped
  if (!c.tied_embeddings) add(classifier);
  SortTensorsCanonically(&ts);
  Llama2cCheckpoint ck;
  ck.config = c;
  ck.source = std::make_unique<Llama2cSource>(std::move(file), std::move(ts));
  return ck;
}

Result<Vocab> LoadLlama2cTokenizer(const std::string& path, int64_t vocab_size) {
  SHARDQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  const uint8_t* d = file->data();
  const uint64_t size = file->size();
  uint64_t pos = 4;
  if (size < 4) return Status::Corruption(path + ": too short for the max_token_length field");
  // Each token takes at least 8 bytes (score, length): a larger count is a mismatch, not a reason to loop.
  if (vocab_size < 0 || static_cast<uint64_t>(vocab_size) > (size - 4) / 8)
    return Status::Corruption(path + ": truncated: " + std::to_string(size) + " bytes cannot hold " +
                              std::to_string(vocab_size) + " tokens (does the tokenizer match the model?)");
  Vocab v;
  for (int64_t i = 0; i < vocab_size; ++i) {
    float score;
    int32_t len;
    if (size - pos < 8)
      return Status::Corruption(path + ": truncated at token " + std::to_string(i) + " of " +
                                std::to_string(vocab_size));
    std::memcpy(&score, d + pos, 4);
    std::memcpy(&len, d + pos + 4, 4);
    pos += 8;
    if (len < 0 || static_cast<uint64_t>(len) > size - pos)
      return Status::Corruption(path + ": token " + std::to_string(i) + " length " + std::to_string(len) +
                                " runs past the end of the file");
    std::string raw(reinterpret_cast<const char*>(d + pos), static_cast<size_t>(len));
    pos += static_cast<uint64_t>(len);
    if (raw == "\n<s>\n") raw = "<s>";
    if (raw == "\n</s>\n") raw = "</s>";
    std::string piece;
    for (char ch : raw) piece += ch == ' ' ? std::string("\xE2\x96\x81") : std::string(1, ch);
    int32_t type = Vocab::kNormal;
    if (i == 0) type = Vocab::kUnknown;
    else if (i == 1 || i == 2) type = Vocab::kControl;
    else if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>') type = Vocab::kByte;
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  }
  if (pos != size)
    return Status::Corruption(path + ": " + std::to_string(size - pos) + " bytes left after " +
                              std::to_string(vocab_size) + " tokens (does the tokenizer match the model?)");
  return v;
}

}  // namespace shardq
