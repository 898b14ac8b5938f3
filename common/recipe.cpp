#include "common/recipe.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/json_integer.h"

namespace shardq {
namespace {

using json = nlohmann::json;

constexpr struct {
  Algorithm algorithm;
  const char* name;
} kAlgorithms[] = {{Algorithm::kRtn, "rtn"}, {Algorithm::kImatrix, "imatrix"}, {Algorithm::kGptq, "gptq"},
                   {Algorithm::kAwq, "awq"}, {Algorithm::kAwqGptq, "awq+gptq"}};

}  // namespace

const char* AlgorithmName(Algorithm a) {
  for (const auto& e : kAlgorithms)
    if (e.algorithm == a) return e.name;
  return "?";
}

std::optional<Algorithm> ParseAlgorithm(std::string_view name) {
  for (const auto& e : kAlgorithms)
    if (name == e.name) return e.algorithm;
  return std::nullopt;
}

std::string AlgorithmNames() {
  std::string s;
  for (const auto& e : kAlgorithms) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

const char* StageKindName(StageKind k) {
  switch (k) {
    case StageKind::kCalibrate: return "calibrate";
    case StageKind::kQuantize: return "quantize";
  }
  return "?";
}

std::vector<StageKind> Recipe::Stages() const {
  std::vector<StageKind> stages;
  if (Calibrates()) stages.push_back(StageKind::kCalibrate);
  stages.push_back(StageKind::kQuantize);
  return stages;
}

Result<Recipe> RecipeFromSpec(const JobSpec& spec, const std::string& label) {
  const QuantizeRecipe& q = spec.quantize;
  Recipe r;
  const std::optional<Algorithm> algorithm = ParseAlgorithm(q.algorithm);
  if (!algorithm) {
    return Status::InvalidArgument(label + ": recipe.quantize.algorithm: unknown algorithm '" + q.algorithm +
                                   "' (choose " + AlgorithmNames() + ")");
  }
  r.algorithm = *algorithm;
  if (!(q.gptq.damp >= 0 && q.gptq.damp <= 1) || q.gptq.block_columns < 1 || q.gptq.block_columns > 65536)
    return Status::InvalidArgument(label + ": recipe.quantize.gptq: damp must be in [0, 1] and block_columns in 1..65536");
  QuantPlanOptions& o = r.quant;
  auto preset = FindPreset(q.preset);
  if (!preset) {
    return Status::InvalidArgument(label + ": recipe.quantize.preset: unknown preset '" + q.preset +
                                   "' (choose one of " + PresetNames() + ")");
  }
  o.preset = *preset;
  o.pure = q.pure;
  for (size_t i = 0; i < q.tensor_types.size(); ++i) {
    auto ov = ParseTensorTypeOverride(q.tensor_types[i]);
    if (!ov.ok()) {
      return ov.status().WithContext(label + ": recipe.quantize.tensor_types[" + std::to_string(i) + "]: ");
    }
    o.overrides.push_back(std::move(ov).value());
  }
  if (!q.output_tensor_type.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(o.output_tensor_type,
                            ParseEncodableType(q.output_tensor_type, label + ": recipe.quantize.output_tensor_type"));
  }
  if (!q.token_embedding_type.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(o.token_embedding_type,
                            ParseEncodableType(q.token_embedding_type, label + ": recipe.quantize.token_embedding_type"));
  }
  if (r.algorithm != Algorithm::kRtn) {
    if (!spec.calibration) {
      return Status::InvalidArgument(label + ": recipe.quantize.algorithm: " + q.algorithm +
                                     " needs a calibration section");
    }
    const CalibrationSpec& c = *spec.calibration;
    if (c.samples < 1 || c.seq_len < 2) {
      return Status::InvalidArgument(label + ": calibration: samples must be at least 1 and seq_len at least 2, got " +
                                     std::to_string(c.samples) + " and " + std::to_string(c.seq_len));
    }
    r.calibration = CalibrationOptions{c.text, c.samples, c.seq_len, c.hessian};
  }
  r.gptq = q.gptq;
  if (q.target_bpw > 0 || q.target_size > 0) {
    if (r.algorithm == Algorithm::kRtn)
      return Status::InvalidArgument(label + ": recipe.quantize.target_bpw/target_size: needs a calibrating algorithm");
    r.size_target = SizeTarget{q.target_bpw, static_cast<uint64_t>(std::max<int64_t>(0, q.target_size))};
  }
  // llama.cpp's mixing rules give some tensors other types when importance is known.
  o.has_imatrix = r.UsesImportance();
  return r;
}

std::string EncodeRecipe(const Recipe& r) {
  json j;
  j["algorithm"] = AlgorithmName(r.algorithm);
  const QuantPlanOptions& q = r.quant;
  j["preset"] = q.preset.name;
  j["pure"] = q.pure;
  j["overrides"] = json::array();
  for (const auto& ov : q.overrides) j["overrides"].push_back({ov.pattern, GgmlTypeName(ov.type), ov.origin});
  j["output_tensor_type"] = q.output_tensor_type ? GgmlTypeName(*q.output_tensor_type) : "";
  j["token_embedding_type"] = q.token_embedding_type ? GgmlTypeName(*q.token_embedding_type) : "";
  if (r.UsesGptq()) {
    j["gptq"] = {{"damp", r.gptq.damp},
                 {"act_order", r.gptq.act_order},
                 {"block_columns", r.gptq.block_columns},
                 {"importance", r.gptq.importance}};
  }
  if (r.calibration) {
    const CalibrationOptions& c = *r.calibration;
    j["calibration"] = {{"text", c.text}, {"samples", c.samples}, {"seq_len", c.seq_len}, {"hessian", c.hessian}};
  }
  return j.dump();
}

Result<Recipe> DecodeRecipe(std::string_view json_text, const std::string& label) {
  // The encoded recipe is read back through the same validation as a spec, so a
  // worker holds exactly the typed values rank 0 planned with.
  JobSpec spec;
  std::vector<std::string> spec_origins;
  try {
    const json j = json::parse(json_text.begin(), json_text.end());
    QuantizeRecipe& q = spec.quantize;
    q.algorithm = j.at("algorithm").get<std::string>();
    q.preset = j.at("preset").get<std::string>();
    q.pure = j.at("pure").get<bool>();
    if (!j.at("overrides").is_array()) throw std::invalid_argument("overrides: expected an array");
    std::vector<std::string> origins;
    for (const auto& ov : j.at("overrides")) {
      q.tensor_types.push_back(ov.at(0).get<std::string>() + "=" + ov.at(1).get<std::string>());
      origins.push_back(ov.size() > 2 ? ov.at(2).get<std::string>() : "");
    }
    spec_origins = std::move(origins);
    q.output_tensor_type = j.at("output_tensor_type").get<std::string>();
    q.token_embedding_type = j.at("token_embedding_type").get<std::string>();
    if (j.contains("gptq")) {
      const json& g = j.at("gptq");
      q.gptq.damp = g.at("damp").get<double>();
      q.gptq.act_order = g.at("act_order").get<bool>();
      q.gptq.block_columns = JsonInteger<int64_t>(g.at("block_columns"), "gptq block_columns");
      q.gptq.importance = g.at("importance").get<bool>();
    }
    if (j.contains("calibration")) {
      const json& c = j.at("calibration");
      spec.calibration = CalibrationSpec{c.at("text").get<std::string>(),
                                         JsonInteger<int64_t>(c.at("samples"), "calibration samples"),
                                         JsonInteger<int64_t>(c.at("seq_len"), "calibration seq_len"),
                                         c.at("hessian").get<bool>()};
    }
  } catch (const std::exception& e) {
    return Status::Corruption(label + ": recipe: " + e.what());
  }
  Result<Recipe> r = RecipeFromSpec(spec, label);
  if (!r.ok()) return Status::Corruption(r.status().message());
  for (size_t i = 0; i < spec_origins.size() && i < r->quant.overrides.size(); ++i)
    r->quant.overrides[i].origin = spec_origins[i];
  return r;
}

}  // namespace shardq
