// The shared models read in every format they come in, checked against each
// other and against llama.cpp's own GGUF conversion (tag [readers]).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <sentencepiece_processor.h>
#include <nlohmann/json.hpp>

#include "common/gguf_reader.h"
#include "common/gguf_vocab.h"
#include "common/model.h"
#include "common/safetensors_reader.h"
#include "common/sentencepiece_vocab.h"
#include "tests/unit/test_util.h"

using namespace shardq;
using shardq::testing::SharedPath;

namespace {

Model MustOpen(const std::string& path) {
  auto m = OpenModel(path);
  INFO(m.status().ToString());
  REQUIRE(m.ok());
  return std::move(m).value();
}

std::vector<float> F32Of(Model& m, const std::string& name) {
  const TensorInfo* t = m.source->Find(name);
  INFO(name);
  REQUIRE(t != nullptr);
  std::vector<float> v;
  Status st = m.source->ReadF32(*t, &v);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return v;
}

// Bit-exact comparison of every tensor `a` has against `b`.
void RequireSameTensors(Model& a, Model& b) {
  for (const TensorInfo& t : a.source->tensors()) {
    INFO("tensor " << t.name);
    const TensorInfo* u = b.source->Find(t.name);
    REQUIRE(u != nullptr);
    REQUIRE(t.shape == u->shape);
    std::vector<float> x = F32Of(a, t.name), y = F32Of(b, t.name);
    REQUIRE(x.size() == y.size());
    REQUIRE(std::memcmp(x.data(), y.data(), x.size() * 4) == 0);
  }
}

std::vector<std::string> Names(const Model& m) {
  std::vector<std::string> n;
  for (const auto& t : m.source->tensors()) n.push_back(t.name);
  return n;
}

}  // namespace

TEST_CASE("shakespeare-5m safetensors read via ReadF32 equals llama.cpp's F32 GGUF", "[readers]") {
  Model hf = MustOpen(SharedPath("models/shakespeare-5m"));
  Model gg = MustOpen(SharedPath("golden/gguf/shakespeare-5m-F32.gguf"));
  CHECK(hf.format == ModelFormat::kSafetensors);
  CHECK(gg.format == ModelFormat::kGguf);
  // Same names in the same (canonical) order as llama.cpp's converter wrote them.
  REQUIRE(Names(hf) == Names(gg));
  REQUIRE(hf.source->tensors().size() == 57);
  const TensorInfo* q = hf.source->Find("blk.2.attn_q.weight");
  REQUIRE(q);
  CHECK(q->source_name == "model.layers.2.self_attn.q_proj.weight");
  CHECK(q->fix == LayoutFix::kRopeHalfToInterleaved);
  CHECK(q->fix_heads == 8);
  CHECK(hf.source->Find("blk.2.attn_k.weight")->fix_heads == 4);
  CHECK(hf.source->Find("blk.2.attn_v.weight")->fix == LayoutFix::kNone);
  RequireSameTensors(hf, gg);

  // Hyper-parameters agree between config.json and the GGUF's llama.* keys.
  const LlamaConfig& a = hf.config;
  const LlamaConfig& b = gg.config;
  CHECK(a.dim == 256);
  CHECK(a.n_kv_heads == 4);
  CHECK(!a.tied_embeddings);
  CHECK(a.dim == b.dim);
  CHECK(a.hidden_dim == b.hidden_dim);
  CHECK(a.n_layers == b.n_layers);
  CHECK(a.n_heads == b.n_heads);
  CHECK(a.n_kv_heads == b.n_kv_heads);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.context_length == b.context_length);
  CHECK(static_cast<float>(a.rms_norm_eps) == static_cast<float>(b.rms_norm_eps));
  CHECK(a.rope_theta == b.rope_theta);
  CHECK(a.tied_embeddings == b.tied_embeddings);
  CHECK(a.bos_token_id == b.bos_token_id);
  CHECK(a.eos_token_id == b.eos_token_id);
}

TEST_CASE("tokenizer.model gives the golden GGUF's tokens, scores and types", "[readers]") {
  auto sp = LoadSentencePieceVocab(SharedPath("models/shakespeare-5m/tokenizer.model"));
  REQUIRE(sp.ok());
  auto g = GgufFile::Open(SharedPath("golden/gguf/shakespeare-5m-F32.gguf"));
  REQUIRE(g.ok());
  auto gv = VocabFromGgufMetadata((*g)->metadata(), "golden");
  REQUIRE(gv.ok());
  REQUIRE(sp->tokens.size() == 1024);
  CHECK(sp->tokens == gv->tokens);
  CHECK(sp->scores == gv->scores);
  CHECK(sp->types == gv->types);
  CHECK(sp->unk_id == gv->unk_id);
  CHECK(sp->bos_id == gv->bos_id);
  CHECK(sp->eos_id == gv->eos_id);
  CHECK(sp->add_bos == gv->add_bos);
  CHECK(sp->add_space_prefix);  // the README: a dummy prefix space is added
  CHECK(sp->types[0] == Vocab::kUnknown);
  CHECK(sp->types[1] == Vocab::kControl);
  CHECK(sp->types[3] == Vocab::kByte);

  // Our wire-format decoder against the SentencePiece library itself.
  sentencepiece::SentencePieceProcessor proc;
  REQUIRE(proc.Load(SharedPath("models/shakespeare-5m/tokenizer.model")).ok());
  REQUIRE(proc.GetPieceSize() == 1024);
  for (int i = 0; i < proc.GetPieceSize(); ++i) {
    INFO("piece " << i);
    REQUIRE(sp->tokens[i] == proc.IdToPiece(i));
    REQUIRE(sp->scores[i] == proc.GetScore(i));
    const int32_t want = proc.IsUnknown(i) ? 2 : proc.IsControl(i) ? 3 : proc.IsUnused(i) ? 5
                         : proc.IsByte(i) ? 6 : 1;
    REQUIRE(sp->types[i] == want);
  }
  CHECK(sp->bos_id == proc.bos_id());
  CHECK(sp->eos_id == proc.eos_id());
  CHECK(sp->unk_id == proc.unk_id());
  CHECK(sp->pad_id == proc.pad_id());
}

TEST_CASE("the forms of stories260K give the same tensors and vocab", "[readers]") {
  Model hf = MustOpen(SharedPath("models/stories260K"));
  Model gg = MustOpen(SharedPath("models/stories260K/stories260K.gguf"));
  Model l2 = MustOpen(SharedPath("models/stories260K/stories260K.bin"));
  CHECK(l2.format == ModelFormat::kLlama2c);

  CHECK(hf.config.tied_embeddings);
  CHECK(l2.config.tied_embeddings);  // vocab_size in the header is +512: shared classifier
  CHECK(!gg.config.tied_embeddings);  // llama.cpp's file carries its own copy of output.weight
  CHECK(hf.source->Find("output.weight") == nullptr);
  CHECK(l2.source->tensors().size() == 47);
  CHECK(hf.source->tensors().size() == 47);
  CHECK(gg.source->tensors().size() == 48);
  for (Model* m : {&hf, &gg, &l2}) {
    CHECK(m->config.dim == 64);
    CHECK(m->config.hidden_dim == 172);
    CHECK(m->config.n_layers == 5);
    CHECK(m->config.n_heads == 8);
    CHECK(m->config.n_kv_heads == 4);
    CHECK(m->config.vocab_size == 512);
  }
  CHECK(hf.config.context_length == 512);
  CHECK(l2.config.context_length == 512);  // seq_len
  CHECK(gg.config.context_length == 2048);  // what llama.cpp's published file says
  // llama2.c rows are already interleaved: no fix, yet the same floats.
  CHECK(l2.source->Find("blk.0.attn_q.weight")->fix == LayoutFix::kNone);
  RequireSameTensors(hf, gg);
  RequireSameTensors(l2, gg);
  RequireSameTensors(hf, l2);
  // The GGUF's separate output.weight is the shared embedding.
  CHECK(F32Of(gg, "output.weight") == F32Of(hf, "token_embd.weight"));

  // Vocab: tok512.model, tok512.bin and the GGUF's tokenizer.ggml.* agree.
  REQUIRE(hf.vocab.has_value());
  REQUIRE(gg.vocab.has_value());
  REQUIRE(l2.vocab.has_value());
  CHECK(hf.vocab->tokens.size() == 512);
  CHECK(hf.vocab->tokens == gg.vocab->tokens);
  CHECK(hf.vocab->scores == gg.vocab->scores);
  CHECK(hf.vocab->types == gg.vocab->types);
  CHECK(l2.vocab->tokens == gg.vocab->tokens);
  CHECK(l2.vocab->scores == gg.vocab->scores);
  CHECK(l2.vocab->types == gg.vocab->types);
}

TEST_CASE("golden quantized GGUF: tensor types and shapes as llama-quantize reported", "[readers]") {
  auto g = GgufFile::Open(SharedPath("golden/gguf/stories260K-Q4_K_M.gguf"));
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  std::ifstream in(SharedPath("golden/gguf/stories260K-Q4_K_M-types.txt"));
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    // "[   1/  48] output.weight 64x512 -> q8_0"
    std::istringstream ss(line.substr(line.find(']') + 1));
    std::string name, dims, arrow, type;
    ss >> name >> dims >> arrow >> type;
    INFO(line);
    const TensorInfo* t = (*g)->Find(name);
    REQUIRE(t != nullptr);
    auto want = ParseGgmlType(type);
    REQUIRE(want.has_value());
    CHECK(t->type == *want);
    // The listing is ne[] fastest first, "x1" for 1-D; shape is outermost first.
    const std::string ne0 = dims.substr(0, dims.find('x'));
    const std::string ne1 = dims.substr(dims.find('x') + 1);
    CHECK(t->row_length() == std::stoll(ne0));
    CHECK(t->n_rows() == std::stoll(ne1));
    ++checked;
  }
  CHECK(checked == 48);
  CHECK((*g)->tensors().size() == 48);

  auto s = GgufFile::Open(SharedPath("golden/gguf/shakespeare-5m-Q4_K_M.gguf"));
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  CHECK((*s)->Find("output_norm.weight")->type == GgmlType::F32);
  CHECK((*s)->Find("blk.0.attn_q.weight")->type == GgmlType::Q4_K);
  CHECK((*s)->Find("blk.0.attn_q.weight")->nbytes == 256ull * 256 / 256 * 144);
  CHECK((*s)->Find("output.weight")->type == GgmlType::Q6_K);
  // The last tensor ends within alignment of the end of the file.
  uint64_t end = 0;
  for (const auto& t : (*s)->tensors()) end = std::max(end, t.offset + t.nbytes);
  CHECK(end <= (*s)->file_size());
  CHECK((*s)->file_size() - end < (*s)->alignment());
}
