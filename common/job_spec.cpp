#include "common/job_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/recipe.h"
#include "common/sha256.h"

namespace shardq {
namespace {

// Structure only: the names of presets and types are checked by
// coordinator/job_validation (they live in worker/, which links common).
// Every error is "<label>: <field path>: <reason>".
class SpecParser {
 public:
  explicit SpecParser(std::string label) : label_(std::move(label)) {}

  Status Err(const std::string& path, const std::string& why) const {
    return Status::InvalidArgument(label_ + ": " + path + ": " + why);
  }

  // A map whose keys must all be in `known`; duplicates are refused too
  // (YAML parsers keep one silently, which would hide a typo'd override).
  Status CheckMap(const YAML::Node& node, const std::string& path, const std::set<std::string>& known) const {
    if (!node.IsMap()) return Err(path.empty() ? "(top level)" : path, "expected a mapping of fields");
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) return Err(path.empty() ? "(top level)" : path, "field names must be strings");
      const std::string key = kv.first.Scalar();
      const std::string full = Join(path, key);
      if (!known.count(key)) return Err(full, "unknown field");
      if (!seen.insert(key).second) return Err(full, "duplicate field");
    }
    return Status::OK();
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  Result<std::string> String(const YAML::Node& node, const std::string& path, bool allow_empty = false) const {
    if (!node.IsScalar()) return Err(path, "expected a string");
    const std::string s = node.Scalar();
    if (s.empty() && !allow_empty) return Err(path, "must not be empty");
    return s;
  }

  // Quoted scalars ("32") carry yaml-cpp's non-specific tag "!": a number or a
  // boolean must be written plainly, so a JSON string is not silently converted.
  Result<int64_t> Int(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar() || node.Tag() == "!") return Err(path, "expected an integer");
    int64_t v = 0;
    if (!YAML::convert<int64_t>::decode(node, v)) return Err(path, "expected an integer, got '" + node.Scalar() + "'");
    return v;
  }

  Result<double> Number(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar() || node.Tag() == "!") return Err(path, "expected a number");
    double v = 0;
    if (!YAML::convert<double>::decode(node, v) || !std::isfinite(v))
      return Err(path, "expected a number, got '" + node.Scalar() + "'");
    return v;
  }

  Result<bool> Bool(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar() || node.Tag() == "!") return Err(path, "expected true or false");
    bool v = false;
    if (!YAML::convert<bool>::decode(node, v)) return Err(path, "expected true or false, got '" + node.Scalar() + "'");
    return v;
  }

  Status ParseOutput(const YAML::Node& node, JobSpec& spec) const {
    SHARDQ_RETURN_IF_ERROR(CheckMap(node, "output", {"path", "format"}));
    if (!node["path"]) return Err("output.path", "required field is missing");
    SHARDQ_ASSIGN_OR_RETURN(spec.output_path, String(node["path"], "output.path"));
    if (node["format"]) {
      SHARDQ_ASSIGN_OR_RETURN(spec.output_format, String(node["format"], "output.format"));
    }
    if (spec.output_format == "safetensors-gptq") {
      return Err("output.format", "safetensors-gptq is not implemented yet (use gguf)");
    }
    if (spec.output_format != "gguf") return Err("output.format", "unknown format '" + spec.output_format + "' (choose gguf)");
    return Status::OK();
  }

  Status ParseQuantize(const YAML::Node& node, QuantizeRecipe& q) const {
    const std::string p = "recipe.quantize";
    SHARDQ_RETURN_IF_ERROR(CheckMap(node, p, {"preset", "algorithm", "pure", "tensor_types", "output_tensor_type",
                                              "token_embedding_type", "gptq", "target_bpw", "target_size"}));
    if (node["preset"]) {
      SHARDQ_ASSIGN_OR_RETURN(q.preset, String(node["preset"], p + ".preset"));
    }
    if (node["algorithm"]) {
      SHARDQ_ASSIGN_OR_RETURN(q.algorithm, String(node["algorithm"], p + ".algorithm"));
      const std::optional<Algorithm> a = ParseAlgorithm(q.algorithm);
      if (!a) return Err(p + ".algorithm", "unknown algorithm '" + q.algorithm + "' (choose " + AlgorithmNames() + ")");
    }
    if (node["pure"]) {
      SHARDQ_ASSIGN_OR_RETURN(q.pure, Bool(node["pure"], p + ".pure"));
    }
    if (const YAML::Node tt = node["tensor_types"]) {
      if (!tt.IsSequence()) return Err(p + ".tensor_types", "expected a list of \"REGEX=TYPE\" strings");
      for (size_t i = 0; i < tt.size(); ++i) {
        const std::string item = p + ".tensor_types[" + std::to_string(i) + "]";
        SHARDQ_ASSIGN_OR_RETURN(std::string s, String(tt[i], item));
        if (s.find('=') == std::string::npos) return Err(item, "expected REGEX=TYPE, got '" + s + "'");
        q.tensor_types.push_back(std::move(s));
      }
    }
    if (node["output_tensor_type"]) {
      SHARDQ_ASSIGN_OR_RETURN(q.output_tensor_type, String(node["output_tensor_type"], p + ".output_tensor_type"));
    }
    if (node["token_embedding_type"]) {
      SHARDQ_ASSIGN_OR_RETURN(q.token_embedding_type, String(node["token_embedding_type"], p + ".token_embedding_type"));
    }
    if (node["target_bpw"]) {
      SHARDQ_ASSIGN_OR_RETURN(q.target_bpw, Number(node["target_bpw"], p + ".target_bpw"));
      if (!(q.target_bpw > 1 && q.target_bpw <= 32))
        return Err(p + ".target_bpw", "must be in (1, 32], got " + node["target_bpw"].Scalar());
    }
    if (node["target_size"]) {
      SHARDQ_ASSIGN_OR_RETURN(q.target_size, Int(node["target_size"], p + ".target_size"));
      if (q.target_size < 1) return Err(p + ".target_size", "must be a positive number of bytes");
    }
    if (node["target_bpw"] && node["target_size"])
      return Err(p + ".target_size", "target_bpw and target_size exclude each other");
    if ((node["target_bpw"] || node["target_size"]) && ParseAlgorithm(q.algorithm) == Algorithm::kRtn)
      return Err(p + ".algorithm", "a size target measures sensitivity on calibration text: choose a calibrating "
                                   "algorithm (imatrix, gptq, awq, awq+gptq)");
    if (const YAML::Node g = node["gptq"]) {
      const std::optional<Algorithm> a = ParseAlgorithm(q.algorithm);
      if (a != Algorithm::kGptq && a != Algorithm::kAwqGptq)
        return Err(p + ".gptq", "GPTQ settings need algorithm gptq or awq+gptq (the algorithm is " + q.algorithm + ")");
      SHARDQ_RETURN_IF_ERROR(ParseGptq(g, p + ".gptq", q.gptq));
    }
    return Status::OK();
  }

  Status ParseGptq(const YAML::Node& node, const std::string& p, GptqSpec& g) const {
    SHARDQ_RETURN_IF_ERROR(CheckMap(node, p, {"damp", "act_order", "block_columns", "importance"}));
    if (node["damp"]) {
      SHARDQ_ASSIGN_OR_RETURN(g.damp, Number(node["damp"], p + ".damp"));
      if (g.damp < 0 || g.damp > 1) return Err(p + ".damp", "must be in [0, 1], got " + node["damp"].Scalar());
    }
    if (node["act_order"]) {
      SHARDQ_ASSIGN_OR_RETURN(g.act_order, Bool(node["act_order"], p + ".act_order"));
    }
    if (node["block_columns"]) {
      SHARDQ_ASSIGN_OR_RETURN(g.block_columns, Int(node["block_columns"], p + ".block_columns"));
      if (g.block_columns < 1 || g.block_columns > 65536)
        return Err(p + ".block_columns", "must be in 1..65536, got " + std::to_string(g.block_columns));
    }
    if (node["importance"]) {
      SHARDQ_ASSIGN_OR_RETURN(g.importance, Bool(node["importance"], p + ".importance"));
    }
    return Status::OK();
  }

  Status ParseRecipe(const YAML::Node& node, JobSpec& spec) const {
    SHARDQ_RETURN_IF_ERROR(CheckMap(node, "recipe", {"quantize", "prune", "distill"}));
    // Recognised so that a job written for a later shardq fails clearly
    // instead of quietly skipping a stage.
    if (node["prune"]) return Err("recipe.prune", "not implemented yet");
    if (node["distill"]) return Err("recipe.distill", "not implemented yet");
    if (node["quantize"]) SHARDQ_RETURN_IF_ERROR(ParseQuantize(node["quantize"], spec.quantize));
    return Status::OK();
  }

  Status ParseCalibration(const YAML::Node& node, JobSpec& spec) const {
    SHARDQ_RETURN_IF_ERROR(CheckMap(node, "calibration", {"text", "samples", "seq_len", "hessian"}));
    CalibrationSpec c;
    if (!node["text"]) return Err("calibration.text", "required field is missing");
    SHARDQ_ASSIGN_OR_RETURN(c.text, String(node["text"], "calibration.text"));
    if (node["samples"]) {
      SHARDQ_ASSIGN_OR_RETURN(c.samples, Int(node["samples"], "calibration.samples"));
      if (c.samples < 1) return Err("calibration.samples", "must be at least 1, got " + std::to_string(c.samples));
    }
    if (node["seq_len"]) {
      SHARDQ_ASSIGN_OR_RETURN(c.seq_len, Int(node["seq_len"], "calibration.seq_len"));
      if (c.seq_len < 2) return Err("calibration.seq_len", "must be at least 2, got " + std::to_string(c.seq_len));
    }
    if (node["hessian"]) {
      SHARDQ_ASSIGN_OR_RETURN(c.hessian, Bool(node["hessian"], "calibration.hessian"));
    }
    spec.calibration = c;
    return Status::OK();
  }

  Status ParseEval(const YAML::Node& node, JobSpec& spec) const {
    SHARDQ_RETURN_IF_ERROR(CheckMap(node, "eval", {"text", "ctx"}));
    EvalSpec e;
    if (!node["text"]) return Err("eval.text", "required field is missing");
    SHARDQ_ASSIGN_OR_RETURN(e.text, String(node["text"], "eval.text"));
    if (node["ctx"]) {
      SHARDQ_ASSIGN_OR_RETURN(e.ctx, Int(node["ctx"], "eval.ctx"));
      // llama-perplexity scores the second half of each window: ctx must split evenly.
      if (e.ctx < 2 || e.ctx % 2 != 0) return Err("eval.ctx", "must be even and at least 2, got " + std::to_string(e.ctx));
    }
    spec.eval = e;
    return Status::OK();
  }

  Result<JobSpec> Parse(const YAML::Node& root) const {
    if (!root || root.IsNull()) return Err("(top level)", "the job spec is empty");
    SHARDQ_RETURN_IF_ERROR(
        CheckMap(root, "", {"job_id", "model", "output", "state_dir", "recipe", "calibration", "eval"}));
    JobSpec spec;
    if (root["job_id"]) {
      SHARDQ_ASSIGN_OR_RETURN(spec.job_id, String(root["job_id"], "job_id"));
      // Ids go into RocksDB keys (with a 0 byte as separator) and file names.
      const bool ok_chars = std::all_of(spec.job_id.begin(), spec.job_id.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
      });
      if (!ok_chars || spec.job_id.size() > 128) {
        return Err("job_id", "'" + spec.job_id + "': use at most 128 letters, digits, '-', '_' or '.'");
      }
    }
    if (!root["model"]) return Err("model", "required field is missing");
    SHARDQ_ASSIGN_OR_RETURN(spec.model, String(root["model"], "model"));
    if (!root["output"]) return Err("output.path", "required field is missing");
    SHARDQ_RETURN_IF_ERROR(ParseOutput(root["output"], spec));
    if (root["state_dir"]) {
      SHARDQ_ASSIGN_OR_RETURN(spec.state_dir, String(root["state_dir"], "state_dir"));
    }
    if (root["recipe"]) SHARDQ_RETURN_IF_ERROR(ParseRecipe(root["recipe"], spec));
    if (root["calibration"]) SHARDQ_RETURN_IF_ERROR(ParseCalibration(root["calibration"], spec));
    if (root["eval"]) SHARDQ_RETURN_IF_ERROR(ParseEval(root["eval"], spec));
    if (ParseAlgorithm(spec.quantize.algorithm) != Algorithm::kRtn && !spec.calibration) {
      return Err("recipe.quantize.algorithm", spec.quantize.algorithm + " needs a calibration section (calibration.text)");
    }
    return spec;
  }

 private:
  std::string label_;
};

}  // namespace

std::string JobSpec::CanonicalJson() const {
  // nlohmann's default object is a std::map: keys come out sorted, so the text
  // depends only on the values, never on the order the user wrote them in.
  nlohmann::json q = {
      {"preset", quantize.preset},
      {"algorithm", quantize.algorithm},
      {"pure", quantize.pure},
      {"tensor_types", quantize.tensor_types},
      {"output_tensor_type", quantize.output_tensor_type},
      {"token_embedding_type", quantize.token_embedding_type},
  };
  // Only where it applies, so the ids of specs without it stay what they were.
  if (quantize.target_bpw > 0) q["target_bpw"] = quantize.target_bpw;
  if (quantize.target_size > 0) q["target_size"] = quantize.target_size;
  const std::optional<Algorithm> algorithm = ParseAlgorithm(quantize.algorithm);
  if (algorithm == Algorithm::kGptq || algorithm == Algorithm::kAwqGptq) {
    q["gptq"] = {{"damp", quantize.gptq.damp},
                 {"act_order", quantize.gptq.act_order},
                 {"block_columns", quantize.gptq.block_columns},
                 {"importance", quantize.gptq.importance}};
  }
  nlohmann::json j = {
      {"model", model},
      {"output", {{"format", output_format}}},
      {"recipe", {{"quantize", q}}},
  };
  if (calibration) {
    j["calibration"] = {{"text", calibration->text},
                        {"samples", calibration->samples},
                        {"seq_len", calibration->seq_len},
                        {"hessian", calibration->hessian}};
  } else {
    j["calibration"] = nullptr;
  }
  if (eval) {
    j["eval"] = {{"text", eval->text}, {"ctx", eval->ctx}};
  } else {
    j["eval"] = nullptr;
  }
  return j.dump();
}

Result<JobSpec> ParseJobSpec(const std::string& text, const std::string& label) {
  // JSON is read by the YAML parser (JSON is YAML), which stops at the end of
  // the first value and ignores what follows: a spec starting with '{' must be
  // exactly one JSON value, so a half-pasted or concatenated file is refused.
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    try {
      (void)nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      return Status::InvalidArgument(label + ": not valid JSON (byte " + std::to_string(e.byte) + "): " + e.what());
    } catch (const nlohmann::json::exception& e) {  // e.g. a number out of range (fuzz_job_spec)
      return Status::InvalidArgument(label + ": not valid JSON: " + e.what());
    }
  }
  // YAML::Load reads the first document only and ignores the rest: a second
  // one ('---' at the start of a line after content) is refused. Not through
  // YAML::LoadAll: yaml-cpp 0.7's loop over documents never ends on some
  // malformed inputs (found by tests/fuzz/fuzz_job_spec).
  {
    bool content = false;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const bool marker = line.rfind("---", 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
      if (marker && content)
        return Status::InvalidArgument(label + ": more than one YAML document ('---'); a job spec is one document");
      const size_t first_char = line.find_first_not_of(" \t");
      if (!marker && first_char != std::string::npos && line[first_char] != '#') content = true;
    }
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's marks are 0-based.
    return Status::InvalidArgument(label + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  try {
    return SpecParser(label).Parse(root);
  } catch (const YAML::Exception& e) {
    // Accessors should not throw after the checks above; never let one escape.
    return Status::InvalidArgument(label + ": " + e.what());
  } catch (const std::exception& e) {  // a conversion the checks missed: still an error, not a crash
    return Status::InvalidArgument(label + ": " + e.what());
  }
}

Result<JobSpec> LoadJobSpec(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return Status::InvalidArgument(path + ": is a directory; give a job spec file (YAML or JSON), e.g. "
                                   "examples/shakespeare-5m.yaml");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open job spec");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError(path + ": read failed");
  return ParseJobSpec(ss.str(), path);
}

std::string SpecFingerprint(const JobSpec& spec, const std::vector<TensorInfo>& index) {
  Sha256 h;
  const std::string canon = spec.CanonicalJson();
  h.Update(canon.data(), canon.size());
  h.Update("\n", 1);
  for (const auto& t : index) {
    const std::string line = t.name + " " + GgmlTypeName(t.type) + " " + t.shape_string() + " " +
                             std::to_string(t.nbytes) + "\n";
    h.Update(line.data(), line.size());
  }
  return h.HexDigest();
}

std::string DeriveJobId(const JobSpec& spec, const std::vector<TensorInfo>& index) {
  if (!spec.job_id.empty()) return spec.job_id;
  return "job-" + SpecFingerprint(spec, index).substr(0, 16);
}

}  // namespace shardq
