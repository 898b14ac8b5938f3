#include "common/quant_plan.h"

#include <cctype>

#include "kernels/block_format.h"

namespace shardq {
namespace {

// llama_ftype numbers (llama.h), stored as general.file_type.
constexpr Preset kPresets[] = {
    {"F32", GgmlType::F32, 0},      {"F16", GgmlType::F16, 1},       {"BF16", GgmlType::BF16, 32},
    {"Q8_0", GgmlType::Q8_0, 7},    {"Q6_K", GgmlType::Q6_K, 18},    {"Q5_K_M", GgmlType::Q5_K, 17},
    {"Q5_K_S", GgmlType::Q5_K, 16}, {"Q5_1", GgmlType::Q5_1, 9},     {"Q5_0", GgmlType::Q5_0, 8},
    {"Q4_K_M", GgmlType::Q4_K, 15}, {"Q4_K_S", GgmlType::Q4_K, 14},  {"Q4_1", GgmlType::Q4_1, 3},
    {"Q4_0", GgmlType::Q4_0, 2},    {"IQ4_NL", GgmlType::IQ4_NL, 25}, {"Q3_K_L", GgmlType::Q3_K, 13},
    {"Q3_K_M", GgmlType::Q3_K, 12}, {"Q3_K_S", GgmlType::Q3_K, 11},  {"Q2_K", GgmlType::Q2_K, 10},
    {"TQ2_0", GgmlType::TQ2_0, 37}, {"TQ1_0", GgmlType::TQ1_0, 36},
};

bool SameIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool Is(const Preset& p, const char* name) { return std::string_view(p.name) == name; }

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool Contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// llama.cpp's rule for which layers of a stack deserve more bits: the first
// and last eighth, and every third layer in between.
bool UseMoreBits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// Block index from "blk.N....", or -1.
int64_t BlockIndex(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  int64_t v = 0;
  size_t i = 4;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) v = v * 10 + (name[i++] - '0');
  return v;
}

// What llama.cpp substitutes when a row does not divide the block size. The
// legacy types have no fallback there (llama-quantize stops); shardq uses F16.
GgmlType FallbackFor(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::TQ1_0:
    case GgmlType::TQ2_0:
      return GgmlType::Q4_0;
    case GgmlType::Q4_K: return GgmlType::Q5_0;
    case GgmlType::Q5_K: return GgmlType::Q5_1;
    case GgmlType::Q6_K: return GgmlType::Q8_0;
    default: return GgmlType::F16;
  }
}

struct Counts {
  int64_t attn_v = 0;
  int64_t ffn_down = 0;
};

// llama.cpp's per-tensor mix (llama_tensor_get_type) for the presets shardq offers.
GgmlType MixedType(const std::string& name, const QuantPlanOptions& o, bool has_output,
                   const Counts& n, std::string* reason) {
  const Preset& p = o.preset;
  GgmlType t = p.default_type;
  const bool is_output = name == "output.weight" || (!has_output && name == "token_embd.weight");
  if (is_output) {
    if (o.output_tensor_type) {
      *reason = "--output-tensor-type";
      return *o.output_tensor_type;
    }
    if (t != GgmlType::Q8_0) {
      *reason = "more bits (output)";
      return GgmlType::Q6_K;
    }
    return t;
  }
  if (name == "token_embd.weight") {
    if (o.token_embedding_type) {
      *reason = "--token-embedding-type";
      return *o.token_embedding_type;
    }
    if (Is(p, "TQ1_0") || Is(p, "TQ2_0")) {
      *reason = "more bits (token_embd)";
      return GgmlType::Q4_K;
    }
    return t;
  }
  const int64_t layer = BlockIndex(name);
  if (Contains(name, "attn_v.weight")) {
    const int64_t i = layer, nl = n.attn_v;
    GgmlType r = t;
    if (Is(p, "Q2_K")) r = GgmlType::Q3_K;  // Q4_K when n_gqa >= 4
    else if (Is(p, "Q3_K_M")) r = i < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
    else if (Is(p, "Q3_K_L")) r = GgmlType::Q5_K;
    else if ((Is(p, "Q4_K_M") || Is(p, "Q5_K_M")) && UseMoreBits(i, nl)) r = GgmlType::Q6_K;
    else if (Is(p, "Q4_K_S") && i < 4) r = GgmlType::Q5_K;
    if (r != t) *reason = "more bits (attn_v)";
    return r;
  }
  if (Contains(name, "ffn_down")) {
    const int64_t i = layer, nl = n.ffn_down;
    GgmlType r = t;
    if (Is(p, "Q2_K")) r = GgmlType::Q3_K;
    else if (Is(p, "Q3_K_M")) r = i < nl / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
    else if (Is(p, "Q3_K_L")) r = GgmlType::Q5_K;
    else if (Is(p, "Q4_K_M") && UseMoreBits(i, nl)) r = GgmlType::Q6_K;
    else if (Is(p, "Q5_K_M") && UseMoreBits(i, nl)) r = GgmlType::Q6_K;
    else if (Is(p, "Q4_K_S") && i < nl / 8) r = GgmlType::Q5_K;
    else if (Is(p, "Q4_0") && o.has_imatrix && i < nl / 8) r = GgmlType::Q4_1;
    else if (Is(p, "Q5_0") && o.has_imatrix && i < nl / 8) r = GgmlType::Q5_1;
    if (r != t) *reason = "more bits (ffn_down)";
    return r;
  }
  if (Contains(name, "attn_output.weight")) {
    GgmlType r = t;
    if (Is(p, "Q2_K")) r = GgmlType::Q3_K;
    else if (Is(p, "Q3_K_M")) r = GgmlType::Q4_K;
    else if (Is(p, "Q3_K_L")) r = GgmlType::Q5_K;
    if (r != t) *reason = "more bits (attn_output)";
    return r;
  }
  return t;
}

}  // namespace

std::optional<Preset> FindPreset(std::string_view name) {
  for (const auto& p : kPresets)
    if (SameIgnoringCase(p.name, name)) return p;
  return std::nullopt;
}

std::string PresetNames() {
  std::string s;
  for (const auto& p : kPresets) {
    if (!s.empty()) s += ", ";
    s += p.name;
  }
  return s;
}

Result<GgmlType> ParseEncodableType(std::string_view name, const std::string& context) {
  auto type = ParseGgmlType(name);
  const BlockFormat* f = type ? FindBlockFormat(*type) : nullptr;
  if (!f || !f->quantize_row)
    return Status::InvalidArgument(context + ": unknown or unsupported type '" + std::string(name) + "'");
  return *type;
}

Result<TensorTypeOverride> ParseTensorTypeOverride(const std::string& arg) {
  const size_t eq = arg.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    return Status::InvalidArgument("--tensor-type '" + arg + "': expected REGEX=TYPE");
  TensorTypeOverride o;
  o.pattern = arg.substr(0, eq);
  SHARDQ_ASSIGN_OR_RETURN(o.type, ParseEncodableType(arg.substr(eq + 1), "--tensor-type '" + arg + "'"));
  try {
    o.regex = std::regex(o.pattern);
  } catch (const std::regex_error& e) {
    return Status::InvalidArgument("--tensor-type '" + arg + "': bad regular expression: " + e.what());
  }
  return o;
}

Result<std::vector<TensorChoice>> PlanTensorTypes(const std::vector<TensorInfo>& tensors,
                                                  const QuantPlanOptions& options) {
  Counts counts;
  bool has_output = false;
  for (const auto& t : tensors) {
    if (Contains(t.name, "attn_v.weight")) ++counts.attn_v;
    if (Contains(t.name, "ffn_down")) ++counts.ffn_down;
    if (t.name == "output.weight") has_output = true;
  }
  std::vector<TensorChoice> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) {
    TensorChoice c;
    c.name = t.name;
    // Like llama-quantize: only 2-D (or more) weights are quantized; norms and
    // other vectors stay F32.
    const bool quantizable = EndsWith(t.name, "weight") && t.shape.size() >= 2;
    if (!quantizable) {
      c.type = GgmlType::F32;
      c.reason = "kept (1-D)";
      out.push_back(std::move(c));
      continue;
    }
    c.quantized = true;
    c.reason = "preset";
    const GgmlType base = options.preset.default_type;
    const bool quantized_preset = FindBlockFormat(base) && FindBlockFormat(base)->quantized;
    c.type = (options.pure || !quantized_preset) ? base : MixedType(t.name, options, has_output, counts, &c.reason);
    if (options.pure) c.reason = "--pure";
    for (const auto& o : options.overrides) {
      if (std::regex_search(t.name, o.regex)) {
        c.type = o.type;
        c.reason = o.origin.empty() ? "--tensor-type " + o.pattern : o.origin;
        break;
      }
    }
    const int64_t row = t.row_length();
    const BlockFormat* fmt = FindBlockFormat(c.type);
    if (!fmt || !fmt->quantize_row) {
      return Status::Unsupported("tensor '" + t.name + "': shardq cannot encode " +
                                 GgmlTypeName(c.type));
    }
    if (row % fmt->block_size != 0) {
      GgmlType fb = FallbackFor(c.type);
      const BlockFormat* ff = FindBlockFormat(fb);
      if (!ff || row % ff->block_size != 0) fb = GgmlType::F16;
      c.reason = "fallback: row " + std::to_string(row) + " % " + std::to_string(fmt->block_size) +
                 " (" + GgmlTypeName(c.type) + ")";
      c.type = fb;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace shardq
