#include "coordinator/service/spec_convert.h"

#include <nlohmann/json.hpp>

namespace shardq {

using nlohmann::json;

namespace {
// The spec accepts gptq settings only with an algorithm that runs GPTQ.
bool UsesGptq(const std::string& algorithm) { return algorithm == "gptq" || algorithm == "awq+gptq"; }
}  // namespace

std::string ThriftSpecToJson(const rpc::JobSpec& s) {
  json root = json::object();
  if (s.__isset.job_id) root["job_id"] = s.job_id;
  root["model"] = s.model;
  json out = {{"path", s.output.path}};
  if (s.output.__isset.format) out["format"] = s.output.format;
  root["output"] = out;
  if (s.__isset.recipe && s.recipe.__isset.quantize) {
    const rpc::QuantizeRecipe& q = s.recipe.quantize;
    json jq = json::object();
    if (q.__isset.preset) jq["preset"] = q.preset;
    if (q.__isset.algorithm) jq["algorithm"] = q.algorithm;
    if (q.__isset.pure) jq["pure"] = q.pure;
    if (q.__isset.tensor_types) jq["tensor_types"] = q.tensor_types;
    if (q.__isset.output_tensor_type) jq["output_tensor_type"] = q.output_tensor_type;
    if (q.__isset.token_embedding_type) jq["token_embedding_type"] = q.token_embedding_type;
    if (q.__isset.target_bpw) jq["target_bpw"] = q.target_bpw;
    if (q.__isset.target_size) jq["target_size"] = q.target_size;
    if (q.__isset.gptq) {
      json g = json::object();
      if (q.gptq.__isset.damp) g["damp"] = q.gptq.damp;
      if (q.gptq.__isset.act_order) g["act_order"] = q.gptq.act_order;
      if (q.gptq.__isset.block_columns) g["block_columns"] = q.gptq.block_columns;
      if (q.gptq.__isset.importance) g["importance"] = q.gptq.importance;
      jq["gptq"] = g;
    }
    root["recipe"] = {{"quantize", jq}};
  }
  if (s.__isset.calibration) {
    json c = {{"text", s.calibration.text}};
    if (s.calibration.__isset.samples) c["samples"] = s.calibration.samples;
    if (s.calibration.__isset.seq_len) c["seq_len"] = s.calibration.seq_len;
    if (s.calibration.__isset.hessian) c["hessian"] = s.calibration.hessian;
    root["calibration"] = c;
  }
  if (s.__isset.eval) {
    json e = {{"text", s.eval.text}};
    if (s.eval.__isset.ctx) e["ctx"] = s.eval.ctx;
    root["eval"] = e;
  }
  return root.dump();
}

std::string JobSpecToJson(const JobSpec& s) {
  const QuantizeRecipe& q = s.quantize;
  json jq = {{"preset", q.preset}, {"algorithm", q.algorithm}, {"pure", q.pure}, {"tensor_types", q.tensor_types}};
  if (UsesGptq(q.algorithm))
    jq["gptq"] = {{"damp", q.gptq.damp},
                  {"act_order", q.gptq.act_order},
                  {"block_columns", q.gptq.block_columns},
                  {"importance", q.gptq.importance}};
  if (!q.output_tensor_type.empty()) jq["output_tensor_type"] = q.output_tensor_type;
  if (!q.token_embedding_type.empty()) jq["token_embedding_type"] = q.token_embedding_type;
  if (q.target_bpw > 0) jq["target_bpw"] = q.target_bpw;
  if (q.target_size > 0) jq["target_size"] = q.target_size;
  json root = {{"model", s.model},
               {"output", {{"path", s.output_path}, {"format", s.output_format}}},
               {"state_dir", s.state_dir},
               {"recipe", {{"quantize", jq}}}};
  if (!s.job_id.empty()) root["job_id"] = s.job_id;
  if (s.calibration)
    root["calibration"] = {{"text", s.calibration->text},
                           {"samples", s.calibration->samples},
                           {"seq_len", s.calibration->seq_len},
                           {"hessian", s.calibration->hessian}};
  if (s.eval) root["eval"] = {{"text", s.eval->text}, {"ctx", s.eval->ctx}};
  return root.dump(2);
}

rpc::JobSpec JobSpecToThrift(const JobSpec& s) {
  rpc::JobSpec t;
  t.__set_model(s.model);
  rpc::OutputSpec out;
  out.__set_path(s.output_path);
  out.__set_format(s.output_format);
  t.__set_output(out);
  rpc::QuantizeRecipe q;
  q.__set_preset(s.quantize.preset);
  q.__set_algorithm(s.quantize.algorithm);
  q.__set_pure(s.quantize.pure);
  q.__set_tensor_types(s.quantize.tensor_types);
  if (!s.quantize.output_tensor_type.empty()) q.__set_output_tensor_type(s.quantize.output_tensor_type);
  if (!s.quantize.token_embedding_type.empty()) q.__set_token_embedding_type(s.quantize.token_embedding_type);
  if (s.quantize.target_bpw > 0) q.__set_target_bpw(s.quantize.target_bpw);
  if (s.quantize.target_size > 0) q.__set_target_size(s.quantize.target_size);
  rpc::GptqOptions g;
  g.__set_damp(s.quantize.gptq.damp);
  g.__set_act_order(s.quantize.gptq.act_order);
  g.__set_block_columns(s.quantize.gptq.block_columns);
  g.__set_importance(s.quantize.gptq.importance);
  if (UsesGptq(s.quantize.algorithm)) q.__set_gptq(g);
  rpc::Recipe r;
  r.__set_quantize(q);
  t.__set_recipe(r);
  if (s.calibration) {
    rpc::CalibrationSpec c;
    c.__set_text(s.calibration->text);
    c.__set_samples(s.calibration->samples);
    c.__set_seq_len(s.calibration->seq_len);
    c.__set_hessian(s.calibration->hessian);
    t.__set_calibration(c);
  }
  if (s.eval) {
    rpc::EvalSpec e;
    e.__set_text(s.eval->text);
    e.__set_ctx(s.eval->ctx);
    t.__set_eval(e);
  }
  return t;
}

SpecError SplitSpecError(const std::string& message, const std::string& label) {
  std::string rest = message;
  if (rest.compare(0, label.size() + 2, label + ": ") == 0) rest = rest.substr(label.size() + 2);
  const size_t colon = rest.find(": ");
  if (colon == std::string::npos) return {"", rest};
  return {rest.substr(0, colon), rest.substr(colon + 2)};
}

}  // namespace shardq
