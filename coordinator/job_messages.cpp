#include "coordinator/job_messages.h"

#include <cstring>
#include <nlohmann/json.hpp>

namespace shardq {
namespace {

using json = nlohmann::json;

template <typename T>
void Put(std::vector<uint8_t>* out, const T& v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

template <typename T>
bool Get(const std::vector<uint8_t>& in, size_t* pos, T* v) {
  if (in.size() - *pos < sizeof(T)) return false;
  std::memcpy(v, in.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return true;
}

}  // namespace

std::vector<uint8_t> EncodeAssignment(const JobAssignment& a) {
  json j;
  j["job_id"] = a.job_id;
  j["model"] = a.model_path;
  j["preset"] = a.preset;
  j["pure"] = a.pure;
  j["tensor_types"] = a.tensor_types;
  j["output_tensor_type"] = a.output_tensor_type;
  j["token_embedding_type"] = a.token_embedding_type;
  j["use_importance"] = a.use_importance;
  j["calib"] = {a.calib_text, a.calib_samples, a.calib_seq_len, a.calib_hessian};
  j["todo"] = a.todo;
  j["threads"] = a.threads;
  for (const auto& r : a.ranges) j["ranges"].push_back({r.rank, r.begin, r.end});
  const std::string text = j.dump();
  // JSON header, then the (binary) statistics after it.
  std::vector<uint8_t> out;
  Put<uint64_t>(&out, text.size());
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), a.stats_blob.begin(), a.stats_blob.end());
  return out;
}

Result<JobAssignment> DecodeAssignment(const std::vector<uint8_t>& bytes) {
  size_t pos = 0;
  uint64_t n = 0;
  if (!Get(bytes, &pos, &n) || n > bytes.size() - pos) return Status::Corruption("job assignment: bad framing");
  JobAssignment a;
  try {
    json j = json::parse(bytes.begin() + pos, bytes.begin() + pos + n);
    a.job_id = j.at("job_id");
    a.model_path = j.at("model");
    a.preset = j.at("preset");
    a.pure = j.at("pure");
    a.tensor_types = j.at("tensor_types").get<std::vector<std::string>>();
    a.output_tensor_type = j.at("output_tensor_type");
    a.token_embedding_type = j.at("token_embedding_type");
    a.use_importance = j.at("use_importance");
    const auto& c = j.at("calib");
    a.calib_text = c.at(0);
    a.calib_samples = c.at(1);
    a.calib_seq_len = c.at(2);
    a.calib_hessian = c.at(3);
    a.todo = j.at("todo").get<std::vector<int64_t>>();
    a.threads = j.at("threads");
    for (const auto& r : j.at("ranges")) a.ranges.push_back({r[0].get<int>(), r[1].get<int64_t>(), r[2].get<int64_t>()});
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("job assignment: ") + e.what());
  }
  a.stats_blob.assign(bytes.begin() + pos + n, bytes.end());
  return a;
}

Result<QuantPlanOptions> PlanOptionsOf(const JobAssignment& a) {
  QuantPlanOptions o;
  auto preset = FindPreset(a.preset);
  if (!preset) return Status::InvalidArgument("unknown preset '" + a.preset + "'");
  o.preset = *preset;
  o.pure = a.pure;
  for (const auto& t : a.tensor_types) {
    SHARDQ_ASSIGN_OR_RETURN(TensorTypeOverride ov, ParseTensorTypeOverride(t));
    o.overrides.push_back(std::move(ov));
  }
  auto type_of = [](const std::string& name, const char* field) -> Result<std::optional<GgmlType>> {
    if (name.empty()) return std::optional<GgmlType>();
    auto t = ParseGgmlType(name);
    if (!t) return Status::InvalidArgument(std::string(field) + ": unknown type '" + name + "'");
    return std::optional<GgmlType>(*t);
  };
  SHARDQ_ASSIGN_OR_RETURN(o.output_tensor_type, type_of(a.output_tensor_type, "output_tensor_type"));
  SHARDQ_ASSIGN_OR_RETURN(o.token_embedding_type, type_of(a.token_embedding_type, "token_embedding_type"));
  o.has_imatrix = a.use_importance;
  return o;
}

std::vector<uint8_t> EncodeWorkerMessage(const WorkerMessage& m) {
  std::vector<uint8_t> out;
  Put<uint8_t>(&out, m.kind);
  if (m.kind == WorkerMessage::kDone) {
    out.insert(out.end(), m.error.begin(), m.error.end());
    return out;
  }
  Put<int64_t>(&out, m.unit);
  Put<double>(&out, m.seconds);
  Put<uint32_t>(&out, static_cast<uint32_t>(m.blobs.size()));
  for (const auto& b : m.blobs) {
    std::vector<uint8_t> rec = EncodeTensorBlob(b);
    Put<uint64_t>(&out, rec.size());
    out.insert(out.end(), rec.begin(), rec.end());
  }
  return out;
}

Result<WorkerMessage> DecodeWorkerMessage(const std::vector<uint8_t>& bytes, int from_rank) {
  const std::string label = "message from rank " + std::to_string(from_rank);
  size_t pos = 0;
  uint8_t kind = 0;
  if (!Get(bytes, &pos, &kind)) return Status::Corruption(label + ": empty");
  WorkerMessage m;
  if (kind == WorkerMessage::kDone) {
    m.kind = WorkerMessage::kDone;
    m.error.assign(bytes.begin() + 1, bytes.end());
    return m;
  }
  if (kind != WorkerMessage::kUnit) return Status::Corruption(label + ": unknown kind");
  uint32_t n = 0;
  if (!Get(bytes, &pos, &m.unit) || !Get(bytes, &pos, &m.seconds) || !Get(bytes, &pos, &n))
    return Status::Corruption(label + ": truncated header");
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    if (!Get(bytes, &pos, &len) || len > bytes.size() - pos) return Status::Corruption(label + ": truncated blob");
    SHARDQ_ASSIGN_OR_RETURN(TensorBlob b, DecodeTensorBlob(bytes.data() + pos, len, label));
    m.blobs.push_back(std::move(b));
    pos += len;
  }
  return m;
}

}  // namespace shardq
