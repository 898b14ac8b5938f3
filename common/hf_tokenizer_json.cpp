#include "common/hf_tokenizer_json.h"

#include <filesystem>
#include <limits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mapped_file.h"

namespace shardq {
namespace {

using nlohmann::json;

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

bool IsByteToken(std::string_view s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return s.size() == 6 && s.substr(0, 3) == "<0x" && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

std::string StringOr(const json& obj, const char* key, std::string fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Walks a normalizer / pre-tokenizer (possibly a Sequence) and notes how whitespace is
// handled: is ' ' turned into "▁", and is a "▁" prepended.
struct Whitespace {
  bool replaces_space = false;
  bool prepends = false;
  bool byte_level = false;
};

void ScanStep(const json& step, Whitespace* ws) {
  if (!step.is_object()) return;
  const std::string type = StringOr(step, "type", "");
  if (type == "Sequence") {
    for (const char* key : {"normalizers", "pretokenizers"}) {
      auto it = step.find(key);
      if (it != step.end() && it->is_array()) {
        for (const json& s : *it) ScanStep(s, ws);
      }
    }
  } else if (type == "Replace") {
    const json* pattern = step.contains("pattern") ? &step["pattern"] : nullptr;
    if (pattern && StringOr(*pattern, "String", "") == " " && StringOr(step, "content", "") == kSpaceMark) {
      ws->replaces_space = true;
    }
  } else if (type == "Prepend") {
    if (StringOr(step, "prepend", "") == kSpaceMark) ws->prepends = true;
  } else if (type == "Metaspace") {
    if (StringOr(step, "replacement", std::string(kSpaceMark)) == kSpaceMark) ws->replaces_space = true;
    // Older files: add_prefix_space (bool); newer: prepend_scheme "first" | "always" | "never".
    auto add = step.find("add_prefix_space");
    if (add != step.end() && add->is_boolean() && add->get<bool>()) ws->prepends = true;
    const std::string scheme = StringOr(step, "prepend_scheme", "");
    if (scheme == "first" || scheme == "always") ws->prepends = true;
  } else if (type == "ByteLevel") {
    ws->byte_level = true;
  }
}

Result<HfTokenizerJson> Parse(const json& doc, const std::string& label) {
  auto bad = [&](const std::string& what) { return Status::Corruption(label + ": " + what); };
  if (!doc.is_object()) return bad("top level is not a JSON object");
  auto model_it = doc.find("model");
  if (model_it == doc.end() || !model_it->is_object()) return bad("no 'model' object");
  const json& model = *model_it;
  const std::string model_type = StringOr(model, "type", "");
  if (model_type != "BPE") {
    return Status::Unsupported(label + ": model.type '" + model_type + "': only BPE is supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && it->is_string() && !it->get<std::string>().empty()) {
      return Status::Unsupported(label + ": model." + key + " is not supported");
    }
  }
  Whitespace ws;
  if (doc.contains("normalizer")) ScanStep(doc["normalizer"], &ws);
  if (doc.contains("pre_tokenizer")) ScanStep(doc["pre_tokenizer"], &ws);
  if (ws.byte_level) return Status::Unsupported(label + ": ByteLevel (GPT-2 style) tokenizers are not supported");
  if (!ws.replaces_space) {
    return Status::Unsupported(label + ": no Replace ' '->'\xE2\x96\x81' normalizer or Metaspace pre-tokenizer");
  }
  auto fallback_it = model.find("byte_fallback");
  const bool byte_fallback = fallback_it != model.end() && fallback_it->is_boolean() && fallback_it->get<bool>();

  // Pieces by id: the vocab plus added tokens (which may also appear in the vocab).
  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object()) return bad("model.vocab is not an object");
  // Ids must be dense, so none can reach the number of entries that name one:
  // checked before the table is sized, else one entry {"x": 16777215} would
  // allocate 16M strings.
  auto added_it = doc.find("added_tokens");
  const size_t n_added = added_it != doc.end() && added_it->is_array() ? added_it->size() : 0;
  const int64_t kMaxTokens = static_cast<int64_t>(vocab_it->size() + n_added);
  std::vector<std::string> pieces;
  std::vector<bool> seen;
  auto put = [&](const std::string& piece, const json& id_json, const std::string& where) -> Status {
    if (!id_json.is_number_integer()) return bad(where + " '" + piece + "': id is not an integer");
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= kMaxTokens)
      return bad(where + " '" + piece + "': id " + std::to_string(id) + " out of range (" +
                 std::to_string(kMaxTokens) + " tokens named)");
    if (static_cast<size_t>(id) >= pieces.size()) {
      pieces.resize(id + 1);
      seen.resize(id + 1, false);
    }
    if (seen[id] && pieces[id] != piece) {
      return bad(where + " '" + piece + "': id " + std::to_string(id) + " already names '" + pieces[id] + "'");
    }
    pieces[id] = piece;
    seen[id] = true;
    return Status::OK();
  };
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    SHARDQ_RETURN_IF_ERROR(put(it.key(), it.value(), "model.vocab"));
  }
  std::vector<std::pair<int32_t, bool>> added;  // id, special
  if (doc.contains("added_tokens") && doc["added_tokens"].is_array()) {
    for (const json& t : doc["added_tokens"]) {
      if (!t.is_object() || !t.contains("id") || !t.contains("content") || !t["content"].is_string()) {
        return bad("added_tokens: an entry lacks id or content");
      }
      SHARDQ_RETURN_IF_ERROR(put(t["content"].get<std::string>(), t["id"], "added_tokens"));
      const bool special = t.contains("special") && t["special"].is_boolean() && t["special"].get<bool>();
      added.emplace_back(t["id"].get<int32_t>(), special);
    }
  }
  if (pieces.empty()) return bad("model.vocab is empty");
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (!seen[i]) return bad("no token has id " + std::to_string(i) + " (ids must be dense)");
  }

  HfTokenizerJson out;
  Vocab& v = out.vocab;
  v.model = "llama";
  v.tokens = pieces;
  v.types.assign(pieces.size(), Vocab::kNormal);
  v.scores.assign(pieces.size(), 0.0f);
  std::unordered_map<std::string, int32_t> id_of;
  for (size_t i = 0; i < pieces.size(); ++i) id_of.emplace(pieces[i], static_cast<int32_t>(i));
  auto find = [&](const std::string& piece) -> int64_t {
    auto it = id_of.find(piece);
    return it == id_of.end() ? -1 : it->second;
  };
  if (byte_fallback) {
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (IsByteToken(pieces[i])) v.types[i] = Vocab::kByte;
    }
  }
  const std::string unk = StringOr(model, "unk_token", "");
  v.unk_id = unk.empty() ? -1 : find(unk);
  if (!unk.empty() && v.unk_id < 0) return bad("model.unk_token '" + unk + "' is not in the vocab");
  for (const auto& [id, special] : added) v.types[id] = special ? Vocab::kControl : Vocab::kUserDefined;
  if (v.unk_id >= 0) v.types[v.unk_id] = Vocab::kUnknown;

  // Merges, ranked by position.
  if (model.contains("merges")) {
    const json& merges = model["merges"];
    if (!merges.is_array()) return bad("model.merges is not an array");
    out.merges.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const json& m = merges[rank];
      std::string left, right;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos) {
          return bad("model.merges[" + std::to_string(rank) + "] '" + s + "' is not 'left right'");
        }
        left = s.substr(0, sp);
        right = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        left = m[0].get<std::string>();
        right = m[1].get<std::string>();
      } else {
        return bad("model.merges[" + std::to_string(rank) + "] is neither 'a b' nor [a, b]");
      }
      const int64_t l = find(left), r = find(right), result = find(left + right);
      if (l < 0 || r < 0 || result < 0) {
        const std::string& missing = l < 0 ? left : r < 0 ? right : left + right;
        return bad("model.merges[" + std::to_string(rank) + "] '" + left + " " + right + "': '" + missing +
                   "' is not in the vocab");
      }
      // A repeated merge keeps its first (best) rank, as HF does.
      const bool first = out.merges.emplace(MergeKey(l, r), static_cast<int32_t>(rank)).second;
      if (first && v.scores[result] == 0.0f) v.scores[result] = -static_cast<float>(rank + 1);
    }
  }

  // Special tokens and BOS.
  v.add_space_prefix = ws.prepends;
  v.add_bos = false;
  v.add_eos = false;
  v.bos_id = find("<s>");
  v.eos_id = find("</s>");
  v.pad_id = -1;
  const json* post = doc.contains("post_processor") ? &doc["post_processor"] : nullptr;
  if (post && StringOr(*post, "type", "") == "TemplateProcessing" && post->contains("single") &&
      (*post)["single"].is_array() && !(*post)["single"].empty()) {
    const json& single = (*post)["single"];
    const json& head = single.front();
    if (head.is_object() && head.contains("SpecialToken")) {
      const std::string name = StringOr(head["SpecialToken"], "id", "");
      if (find(name) < 0) return bad("post_processor: special token '" + name + "' is not in the vocab");
      v.bos_id = find(name);
      v.add_bos = true;
    }
    const json& tail = single.back();
    if (single.size() > 1 && tail.is_object() && tail.contains("SpecialToken")) {
      const std::string name = StringOr(tail["SpecialToken"], "id", "");
      if (find(name) >= 0) {
        v.eos_id = find(name);
        v.add_eos = true;
      }
    }
  }
  return out;
}

}  // namespace

Result<HfTokenizerJson> ParseHfTokenizerJson(std::string_view text, const std::string& label) {
  const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Corruption(label + ": not valid JSON");
  // Typed accessors throw on surprises we did not check for; keep that inside this module.
  try {
    return Parse(doc, label);
  } catch (const json::exception& e) {
    return Status::Corruption(label + ": " + e.what());
  }
}

Result<HfTokenizerJson> LoadHfTokenizerJson(const std::string& path) {
  SHARDQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  const std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  return ParseHfTokenizerJson(text, path);
}

Result<Tokenizer> TokenizerForModel(const Model& model, TokenizerOptions options) {
  if (model.vocab.has_value()) return Tokenizer(*model.vocab, options);
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path base = fs::is_directory(model.path, ec) ? fs::path(model.path) : fs::path(model.path).parent_path();
  const fs::path json_path = base / "tokenizer.json";
  if (!fs::exists(json_path, ec)) {
    return Status::NotFound(model.path + ": no tokenizer (none in the model, no " + json_path.string() + ")");
  }
  SHARDQ_ASSIGN_OR_RETURN(HfTokenizerJson hf, LoadHfTokenizerJson(json_path.string()));
  return hf.MakeTokenizer(options);
}

}  // namespace shardq
