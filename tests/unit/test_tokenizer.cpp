// Tokenizer against the reference implementations' ids (../shared/golden/tokens):
// llama.cpp's for the eval texts, the SentencePiece library's for the eval texts and the
// awkward cases; plus an HF tokenizer.json built here, checked by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/gguf_reader.h"
#include "common/gguf_vocab.h"
#include "common/hf_tokenizer_json.h"
#include "common/llama2c_reader.h"
#include "common/model.h"
#include "common/sentencepiece_vocab.h"
#include "common/tokenizer.h"
#include "tests/unit/test_util.h"

namespace shardq {
namespace {

using testing::ReadFileBytes;
using testing::SharedPath;

std::string ReadText(const std::string& path) {
  std::vector<uint8_t> b = ReadFileBytes(path);
  return std::string(b.begin(), b.end());
}

std::vector<int32_t> ReadIds(const std::string& path) {
  std::istringstream in(ReadText(path));
  std::vector<int32_t> ids;
  int32_t id;
  while (in >> id) ids.push_back(id);
  return ids;
}

Vocab MustVocab(Result<Vocab> v) {
  INFO((v.ok() ? std::string() : v.status().ToString()));
  REQUIRE(v.ok());
  return std::move(v).value();
}

Vocab ShakespeareVocab() {
  return MustVocab(LoadSentencePieceVocab(SharedPath("models/shakespeare-5m/tokenizer.model")));
}

Vocab StoriesVocabFromGguf() {
  auto g = GgufFile::Open(SharedPath("models/stories260K/stories260K.gguf"));
  REQUIRE(g.ok());
  return MustVocab(VocabFromGgufMetadata((*g)->metadata(), "stories260K.gguf"));
}

// Index of the first difference, for a readable failure.
size_t FirstMismatch(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

void CheckEncodes(const Tokenizer& tok, const std::string& text, const std::string& ids_path) {
  const std::vector<int32_t> want = ReadIds(ids_path);
  REQUIRE(want.size() > 1000);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> got = tok.Encode(text, /*add_bos=*/false);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  INFO(ids_path << ": " << got.size() << " ids (want " << want.size() << "), first mismatch at "
                << FirstMismatch(got, want) << ", " << ms << " ms");
  CHECK(got == want);
  CHECK(ms < 2000);  // generous for a loaded shared machine: 228 KB take ~50-80 ms there
}

}  // namespace

TEST_CASE("shakespeare-5m eval text: llama.cpp's and SentencePiece's ids", "[tokenizer]") {
  const std::string text = ReadText(SharedPath("corpus/shakespeare-eval.txt"));
  Tokenizer cpp(ShakespeareVocab());
  Tokenizer sp(ShakespeareVocab(), TokenizerOptions{.sentencepiece_whitespace = true});
  CheckEncodes(cpp, text, SharedPath("golden/tokens/shakespeare-5m-shakespeare-eval.llama-cpp.ids"));
  CheckEncodes(sp, text, SharedPath("golden/tokens/shakespeare-5m-shakespeare-eval.ids"));
  CHECK(cpp.Decode(cpp.Encode(text, false)) == text);
  CHECK(cpp.Decode(cpp.Encode(text, true)) == text);
}

TEST_CASE("stories260K eval text from the GGUF, tok512.model and tok512.bin", "[tokenizer]") {
  const std::string text = ReadText(SharedPath("corpus/tinystories-eval.txt"));
  const std::string cpp_ids = SharedPath("golden/tokens/stories260K-tinystories-eval.llama-cpp.ids");
  const std::string sp_ids = SharedPath("golden/tokens/stories260K-tinystories-eval.ids");
  // The two goldens differ (double spaces), so each mode is really tested.
  REQUIRE(ReadIds(cpp_ids) != ReadIds(sp_ids));

  std::vector<std::pair<std::string, Vocab>> vocabs;
  vocabs.emplace_back("gguf", StoriesVocabFromGguf());
  vocabs.emplace_back("tok512.model", MustVocab(LoadSentencePieceVocab(SharedPath("models/stories260K/tok512.model"))));
  vocabs.emplace_back("tok512.bin", MustVocab(LoadLlama2cTokenizer(SharedPath("models/stories260K/tok512.bin"), 512)));
  for (const auto& [name, vocab] : vocabs) {
    SECTION(name) {
      Tokenizer cpp(vocab);
      Tokenizer sp(vocab, TokenizerOptions{.sentencepiece_whitespace = true});
      CheckEncodes(cpp, text, cpp_ids);
      CheckEncodes(sp, text, sp_ids);
      CHECK(cpp.Decode(cpp.Encode(text, false)) == text);
    }
  }
}

TEST_CASE("every awkward case gives SentencePiece's ids, pieces and decoded text", "[tokenizer]") {
  struct Source {
    std::string cases;
    Vocab vocab;
  };
  std::vector<Source> sources;
  sources.push_back({"golden/tokens/shakespeare-5m-cases.json", ShakespeareVocab()});
  sources.push_back({"golden/tokens/stories260K-cases.json", StoriesVocabFromGguf()});
  for (const Source& src : sources) {
    const nlohmann::json doc = nlohmann::json::parse(ReadText(SharedPath(src.cases)));
    Tokenizer sp(src.vocab, TokenizerOptions{.sentencepiece_whitespace = true});
    Tokenizer cpp(src.vocab);
    REQUIRE(doc["cases"].size() >= 15);
    for (const auto& c : doc["cases"]) {
      const std::string text = c["text"];
      INFO(src.cases << ": case '" << text << "'");
      const std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
      const std::vector<int32_t> got = sp.Encode(text, false);
      CHECK(got == want);
      std::vector<std::string> pieces;
      for (int32_t id : got) pieces.push_back(sp.vocab().tokens[id]);
      CHECK(pieces == c["pieces"].get<std::vector<std::string>>());
      CHECK(sp.Decode(got) == c["decoded"].get<std::string>());
      CHECK(sp.Decode(sp.Encode(text, true)) == c["decoded"].get<std::string>());
      // llama.cpp mode keeps every byte of the text (no whitespace normalization).
      CHECK(cpp.Decode(cpp.Encode(text, false)) == text);
    }
  }
}


TEST_CASE("BOS, byte tokens, pieces and decoding rules", "[tokenizer]") {
  Tokenizer tok(ShakespeareVocab());
  // The README's prompt: BOS + SentencePiece ids.
  CHECK(tok.Encode("ROMEO:", true) == std::vector<int32_t>{1, 826, 974});
  CHECK(tok.Encode("ROMEO:", false) == std::vector<int32_t>{826, 974});
  CHECK(tok.Encode("", true) == std::vector<int32_t>{1});
  CHECK(tok.Encode("", false).empty());
  // llama.cpp mode keeps a leading space: the dummy prefix plus the text's own "▁".
  const std::vector<int32_t> spaced = tok.Encode(" ROMEO:", false);
  CHECK(spaced != tok.Encode("ROMEO:", false));
  CHECK(tok.Decode(spaced) == " ROMEO:");
  // Leading space dropped for the first token after BOS only, not for later ones.
  CHECK(tok.Decode({1, 826, 974}) == "ROMEO:");
  CHECK(tok.Decode({826, 974}) == "ROMEO:");
  CHECK(tok.Decode({974, 826}) == ": ROMEO");
  CHECK(tok.Decode({1, 826, 1, 826}) == "ROMEO ROMEO");  // a later BOS is a control token: nothing
  CHECK(tok.Decode({1}).empty());
  CHECK(tok.Decode({2}).empty());
  CHECK(tok.Decode({826, 0}) == "ROMEO \xE2\x81\x87 ");  // <unk>
  // Pieces.
  CHECK(tok.TokenToPiece(1) == "<s>");
  CHECK(tok.TokenToPiece(2) == "</s>");
  CHECK(tok.TokenToPiece(13) == "\n");  // <0x0A>
  CHECK(tok.TokenToPiece(826) == " ROMEO");
  CHECK(tok.TokenToPiece(-1).empty());
  CHECK(tok.TokenToPiece(1024).empty());
  // Ids outside the vocab decode to nothing rather than crash.
  CHECK(!tok.IsValidId(1024));
  CHECK(tok.Decode({826, 5000, -7, 974}) == "ROMEO:");
  // Control pieces typed as text stay text: "<s>" is spelled from characters, never id 1.
  for (int32_t id : tok.Encode("<s></s><unk><0x0A>", false)) {
    CHECK(id != 0);
    CHECK(id != 1);
    CHECK(id != 2);
    CHECK(id != 13);
  }
  // Invalid UTF-8 (a stray continuation byte, a truncated sequence) falls back to bytes
  // and round-trips exactly.
  const std::string broken = "a\x80z\xFF\xE6\x97";
  const std::vector<int32_t> ids = tok.Encode(broken, false);
  CHECK(tok.Decode(ids) == broken);
  CHECK(std::count(ids.begin(), ids.end(), 3 + 0x80) == 1);  // <0x80> is id 3 + 0x80
  CHECK(std::count(ids.begin(), ids.end(), 3 + 0xFF) == 1);
  CHECK(std::count(ids.begin(), ids.end(), 3 + 0xE6) == 1);
  // llama.cpp sizes a character by its lead byte's high nibble: 0xF8 claims 4 bytes, so
  // "ab" after it is swallowed into one unknown character and spelled as bytes too.
  CHECK(tok.Encode("\xF8" "ab", false) == std::vector<int32_t>{951, 3 + 0xF8, 3 + 'a', 3 + 'b'});
}

TEST_CASE("a vocab without the dummy prefix and without byte tokens", "[tokenizer]") {
  Vocab v = ShakespeareVocab();
  v.add_space_prefix = false;
  Tokenizer tok(v);
  // No "▁" before the first word: "ROMEO" is spelled without the word-start piece.
  const std::vector<int32_t> ids = tok.Encode("ROMEO:", false);
  CHECK(ids != std::vector<int32_t>{826, 974});
  CHECK(ids.front() != 826);
  CHECK(tok.Decode(ids) == "ROMEO:");
  CHECK(tok.Decode(tok.Encode(" x", false)) == " x");  // nothing to drop without the prefix

  // With the byte tokens retyped as normal, a character with no piece becomes <unk>.
  Vocab nb = ShakespeareVocab();
  for (int32_t& t : nb.types) {
    if (t == Vocab::kByte) t = Vocab::kUnused;
  }
  Tokenizer nbt(nb);
  CHECK(nbt.Encode("\xE6\x97\xA5", false) == std::vector<int32_t>{951, 0});  // "▁", <unk>
}

namespace {

// A Llama-style tokenizer.json, written by hand: 8 base pieces, 3 byte tokens, 8 merges.
// Merge ranks deliberately disagree with piece length so rank order is observable.
std::string SmallTokenizerJson(bool merges_as_pairs, const std::string& prefix_style) {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"<0x0A>", 3}, {"<0xC3>", 4}, {"<0xA9>", 5},
                          {"\xE2\x96\x81", 6}, {"h", 7}, {"e", 8}, {"l", 9}, {"o", 10}, {"w", 11}, {"r", 12},
                          {"d", 13}, {"lo", 14}, {"el", 15}, {"\xE2\x96\x81h", 16}, {"\xE2\x96\x81hel", 17},
                          {"\xE2\x96\x81hello", 18}, {"or", 19}, {"\xE2\x96\x81w", 20}, {"\xE2\x96\x81wor", 21}};
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"l", "o"}, {"e", "l"}, {"\xE2\x96\x81", "h"}, {"\xE2\x96\x81h", "el"},
      {"\xE2\x96\x81hel", "lo"}, {"o", "r"}, {"\xE2\x96\x81", "w"}, {"\xE2\x96\x81w", "or"}};
  nlohmann::json m = nlohmann::json::array();
  for (const auto& [a, b] : merges) {
    if (merges_as_pairs) {
      m.push_back({a, b});
    } else {
      m.push_back(a + " " + b);
    }
  }
  nlohmann::json doc;
  doc["version"] = "1.0";
  doc["added_tokens"] = {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                         {{"id", 1}, {"content", "<s>"}, {"special", true}},
                         {{"id", 2}, {"content", "</s>"}, {"special", true}}};
  if (prefix_style == "normalizer") {
    doc["normalizer"] = {{"type", "Sequence"},
                         {"normalizers", {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
                                          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}};
    doc["pre_tokenizer"] = nullptr;
  } else {
    doc["normalizer"] = nullptr;
    doc["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}, {"split", false}};
  }
  doc["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                       {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}};
  doc["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"},
                  {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                  {"fuse_unk", true}, {"byte_fallback", true}, {"vocab", vocab}, {"merges", m}};
  return doc.dump();
}

}  // namespace

TEST_CASE("an HF tokenizer.json BPE encodes by merge rank with byte fallback", "[tokenizer]") {
  for (const auto& [pairs, style] : std::vector<std::pair<bool, std::string>>{
           {false, "normalizer"}, {true, "normalizer"}, {false, "metaspace"}}) {
    INFO("pairs " << pairs << ", " << style);
    auto hf = ParseHfTokenizerJson(SmallTokenizerJson(pairs, style), "small.json");
    INFO((hf.ok() ? std::string() : hf.status().ToString()));
    REQUIRE(hf.ok());
    const Vocab& v = hf->vocab;
    REQUIRE(v.tokens.size() == 22);
    CHECK(v.tokens[18] == "\xE2\x96\x81hello");
    CHECK(v.types[0] == Vocab::kUnknown);
    CHECK(v.types[1] == Vocab::kControl);
    CHECK(v.types[3] == Vocab::kByte);
    CHECK(v.types[7] == Vocab::kNormal);
    CHECK(v.unk_id == 0);
    CHECK(v.bos_id == 1);
    CHECK(v.eos_id == 2);
    CHECK(v.add_bos);
    CHECK(v.add_space_prefix);
    CHECK(hf->merges.size() == 8);
    CHECK(hf->merges.at(MergeKey(9, 10)) == 0);   // l o
    CHECK(hf->merges.at(MergeKey(20, 19)) == 7);  // ▁w or
    CHECK(v.scores[14] == -1.0f);                 // "lo": first merge

    const Tokenizer tok = hf->MakeTokenizer();
    // "▁hello": l+o (rank 0), e+l (1), ▁+h (2), ▁h+el (3), ▁hel+lo (4).
    CHECK(tok.Encode("hello", false) == std::vector<int32_t>{18});
    // "▁world": o+r (5), ▁+w (6), ▁w+or (7); "l" and "d" stay; "\n" is a byte token.
    CHECK(tok.Encode("hello world\n", true) == std::vector<int32_t>{1, 18, 21, 9, 13, 3});
    // Rank, not length: in "elo", l+o (rank 0) wins over e+l (rank 1).
    CHECK(tok.Encode("elo", false) == std::vector<int32_t>{6, 8, 14});
    // "é" has no piece: its two UTF-8 bytes; "z" has neither piece nor byte token: <unk>.
    CHECK(tok.Encode("\xC3\xA9z", false) == std::vector<int32_t>{6, 4, 5, 0});
    CHECK(tok.Decode({1, 18, 21, 9, 13, 3}) == "hello world\n");
    CHECK(tok.Decode(tok.Encode("hello \xC3\xA9", true)) == "hello \xC3\xA9");
  }
}

TEST_CASE("user-defined pieces (HF added tokens) are matched whole", "[tokenizer]") {
  nlohmann::json doc = nlohmann::json::parse(SmallTokenizerJson(false, "normalizer"));
  doc["added_tokens"].push_back({{"id", 22}, {"content", "<tool>"}, {"special", false}});
  doc["added_tokens"].push_back({{"id", 23}, {"content", "<tool>x"}, {"special", false}});
  auto hf = ParseHfTokenizerJson(doc.dump(), "added.json");
  REQUIRE(hf.ok());
  CHECK(hf->vocab.types[22] == Vocab::kUserDefined);
  const Tokenizer tok = hf->MakeTokenizer();
  // The text after the piece gets its own dummy prefix ("▁wor", not "w" "or").
  CHECK(tok.Encode("hello<tool>world", false) == std::vector<int32_t>{18, 22, 21, 9, 13});
  // The longer piece wins.
  CHECK(tok.Encode("<tool>xhello", false) == std::vector<int32_t>{23, 18});
  CHECK(tok.Encode("<tool>", true) == std::vector<int32_t>{1, 22});
  CHECK(tok.Decode({18, 22, 21, 9, 13}) == "hello<tool> world");
  // SentencePiece mode: one prefix for the whole text, pieces matched inside it.
  const Tokenizer sp = hf->MakeTokenizer(TokenizerOptions{.sentencepiece_whitespace = true});
  CHECK(sp.Encode("hello<tool>world", false) == std::vector<int32_t>{18, 22, 11, 19, 9, 13});
}

TEST_CASE("bad tokenizer.json files are errors naming the file and the reason", "[tokenizer]") {
  auto parse = [](const std::string& text) { return ParseHfTokenizerJson(text, "bad.json"); };
  auto expect = [](const Result<HfTokenizerJson>& r, Status::Code code, const std::string& part) {
    REQUIRE(!r.ok());
    INFO(r.status().ToString());
    CHECK(r.status().code() == code);
    CHECK(r.status().message().find("bad.json") != std::string::npos);
    CHECK(r.status().message().find(part) != std::string::npos);
  };
  expect(parse("{\"model\": "), Status::Code::kCorruption, "not valid JSON");
  expect(parse("[]"), Status::Code::kCorruption, "not a JSON object");
  expect(parse("{}"), Status::Code::kCorruption, "'model'");

  nlohmann::json doc = nlohmann::json::parse(SmallTokenizerJson(false, "normalizer"));
  auto with = [&](auto edit) {
    nlohmann::json d = doc;
    edit(d);
    return parse(d.dump());
  };
  expect(with([](nlohmann::json& d) { d["model"]["type"] = "WordPiece"; }), Status::Code::kUnsupported, "WordPiece");
  expect(with([](nlohmann::json& d) { d["pre_tokenizer"] = {{"type", "ByteLevel"}}; }), Status::Code::kUnsupported,
         "ByteLevel");
  expect(with([](nlohmann::json& d) { d["normalizer"] = nullptr; }), Status::Code::kUnsupported, "Metaspace");
  expect(with([](nlohmann::json& d) { d["model"]["merges"].push_back("l q"); }), Status::Code::kCorruption,
         "merges[8] 'l q': 'q' is not in the vocab");
  expect(with([](nlohmann::json& d) { d["model"]["merges"].push_back("h w"); }), Status::Code::kCorruption,
         "'hw' is not in the vocab");
  expect(with([](nlohmann::json& d) { d["model"]["merges"].push_back("nospace"); }), Status::Code::kCorruption,
         "merges[8] 'nospace'");
  expect(with([](nlohmann::json& d) { d["model"]["merges"].push_back(7); }), Status::Code::kCorruption, "merges[8]");
  // 25: below the 26 entries naming an id (ids past that fail as out of range), leaving 22 unnamed.
  expect(with([](nlohmann::json& d) { d["model"]["vocab"]["x"] = 25; }), Status::Code::kCorruption,
         "no token has id 22");
  expect(with([](nlohmann::json& d) { d["model"]["vocab"]["x"] = "7"; }), Status::Code::kCorruption,
         "'x': id is not an integer");
  expect(with([](nlohmann::json& d) { d["model"]["vocab"]["x"] = 7; }), Status::Code::kCorruption,
         "id 7 already names 'h'");
  expect(with([](nlohmann::json& d) { d["model"]["vocab"]["x"] = -1; }), Status::Code::kCorruption, "out of range");
  expect(with([](nlohmann::json& d) { d["model"]["unk_token"] = "<nope>"; }), Status::Code::kCorruption,
         "unk_token '<nope>'");
  expect(with([](nlohmann::json& d) { d["model"]["vocab"] = nlohmann::json::array(); }), Status::Code::kCorruption,
         "model.vocab is not an object");

  auto missing = LoadHfTokenizerJson("/nonexistent/tokenizer.json");
  REQUIRE(!missing.ok());
  CHECK(missing.status().message().find("/nonexistent/tokenizer.json") != std::string::npos);
}

TEST_CASE("TokenizerForModel: the model's vocab, else tokenizer.json beside it", "[tokenizer]") {
  auto gguf = OpenModel(SharedPath("models/stories260K/stories260K.gguf"));
  REQUIRE(gguf.ok());
  auto t1 = TokenizerForModel(*gguf);
  REQUIRE(t1.ok());
  CHECK(t1->Encode("Once upon a time", true) == std::vector<int32_t>{1, 403, 407, 261, 378});

  const std::string dir = testing::MakeTempDir("tokenizer_json");
  Model bare;
  bare.path = dir;
  auto none = TokenizerForModel(bare);
  REQUIRE(!none.ok());
  CHECK(none.status().code() == Status::Code::kNotFound);
  {
    std::ofstream out(dir + "/tokenizer.json", std::ios::binary);
    out << SmallTokenizerJson(true, "metaspace");
  }
  auto t2 = TokenizerForModel(bare);
  INFO((t2.ok() ? std::string() : t2.status().ToString()));
  REQUIRE(t2.ok());
  CHECK(t2->Encode("hello", true) == std::vector<int32_t>{1, 18});
  std::filesystem::remove_all(dir);
}

}  // namespace shardq
