#include "runtime/job_messages.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/byte_io.h"
#include "common/json_integer.h"
#include "common/sha256.h"

namespace shardq {
namespace {

using json = nlohmann::json;

uint64_t JsonSize(const json& v, const std::string& field) {
  const int64_t n = JsonInteger<int64_t>(v, field);
  if (n < 0) throw std::out_of_range(field + ": negative");
  return static_cast<uint64_t>(n);
}

}  // namespace

std::vector<uint8_t> EncodeAssignment(const JobAssignment& a) {
  json j;
  j["job_id"] = a.job_id;
  j["model"] = a.model_path;
  j["recipe"] = json::parse(EncodeRecipe(a.recipe));
  j["todo"] = a.todo;
  j["threads"] = a.threads;
  for (const auto& r : a.ranges) j["ranges"].push_back({r.rank, r.begin, r.end});
  j["inputs_fingerprint"] = a.inputs_fingerprint;
  j["calib_joins"] = a.calib_joins;
  j["calib_seed_layer"] = a.calib_seed_layer;
  j["stats_stored"] = a.stats_stored;
  json place;
  place["path"] = a.placement.path;
  place["tag"] = HexOfBytes(a.placement.tag);
  place["file_bytes"] = a.placement.file_bytes;
  place["regions"] = json::array();
  for (const auto& r : a.placement.regions) place["regions"].push_back({r.name, r.offset, r.size});
  j["placement"] = place;
  const std::string text = j.dump();
  return std::vector<uint8_t>(text.begin(), text.end());
}

Result<JobAssignment> DecodeAssignment(const std::vector<uint8_t>& bytes) {
  JobAssignment a;
  try {
    json j = json::parse(bytes.begin(), bytes.end());
    a.job_id = j.at("job_id");
    a.model_path = j.at("model");
    SHARDQ_ASSIGN_OR_RETURN(a.recipe, DecodeRecipe(j.at("recipe").dump(), "job assignment"));
    if (!j.at("todo").is_array()) throw std::invalid_argument("todo: expected an array");
    for (const auto& u : j.at("todo")) a.todo.push_back(JsonInteger<int64_t>(u, "todo"));
    a.threads = JsonInteger<int>(j.at("threads"), "threads");
    // at(), not []: const operator[] does not check the index, and a range
    // with fewer than three entries would be read out of bounds.
    for (const auto& r : j.at("ranges"))
      a.ranges.push_back({JsonInteger<int>(r.at(0), "range rank"), JsonInteger<int64_t>(r.at(1), "range begin"),
                          JsonInteger<int64_t>(r.at(2), "range end")});
    a.inputs_fingerprint = j.at("inputs_fingerprint");
    for (const auto& v : j.at("calib_joins")) a.calib_joins.push_back(JsonInteger<int>(v, "calib_joins") != 0);
    for (const auto& v : j.at("calib_seed_layer"))
      a.calib_seed_layer.push_back(JsonInteger<int64_t>(v, "calib_seed_layer"));
    for (const auto& v : j.at("stats_stored")) a.stats_stored.push_back(JsonInteger<int64_t>(v, "stats_stored"));
    const json& place = j.at("placement");
    a.placement.path = place.at("path");
    const std::string tag = place.at("tag");
    if (tag.size() % 2 != 0 || tag.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw std::invalid_argument("placement.tag: expected lower-case hex");
    for (size_t i = 0; i < tag.size(); i += 2)
      a.placement.tag.push_back(static_cast<uint8_t>(std::stoi(tag.substr(i, 2), nullptr, 16)));
    a.placement.file_bytes = JsonSize(place.at("file_bytes"), "placement.file_bytes");
    for (const auto& r : place.at("regions"))
      a.placement.regions.push_back({r.at(0).get<std::string>(), JsonSize(r.at(1), "region offset"),
                                     JsonSize(r.at(2), "region size")});
    if ((!a.calib_joins.empty() && a.calib_joins.size() != a.ranges.size()) ||
        a.calib_seed_layer.size() != a.calib_joins.size())
      throw std::invalid_argument("calib_joins/calib_seed_layer: expected one entry per range");
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("job assignment: ") + e.what());
  }
  return a;
}

std::vector<uint8_t> EncodeWorkerMessage(const WorkerMessage& m) {
  std::vector<uint8_t> out;
  AppendPod<uint8_t>(&out, m.kind);
  if (m.kind == WorkerMessage::kDone) {
    out.insert(out.end(), m.error.begin(), m.error.end());
    return out;
  }
  AppendPod<int64_t>(&out, m.unit);
  if (m.kind == WorkerMessage::kProducts) {
    out.insert(out.end(), m.products.begin(), m.products.end());
    return out;
  }
  AppendPod<double>(&out, m.seconds);
  AppendPod<uint32_t>(&out, static_cast<uint32_t>(m.blobs.size()));
  for (const auto& b : m.blobs) {
    std::vector<uint8_t> rec = EncodeTensorBlob(b);
    AppendPod<uint64_t>(&out, rec.size());
    out.insert(out.end(), rec.begin(), rec.end());
  }
  AppendPod<uint32_t>(&out, static_cast<uint32_t>(m.source_fingerprints.size()));
  for (uint32_t f : m.source_fingerprints) AppendPod<uint32_t>(&out, f);
  return out;
}

Result<WorkerMessage> DecodeWorkerMessage(const std::vector<uint8_t>& bytes, int from_rank) {
  const std::string label = "message from rank " + std::to_string(from_rank);
  ByteReader r(bytes.data(), bytes.size(), label);
  uint8_t kind = 0;
  SHARDQ_RETURN_IF_ERROR(r.Read(&kind, "kind"));
  WorkerMessage m;
  if (kind == WorkerMessage::kDone) {
    m.kind = WorkerMessage::kDone;
    m.error.assign(bytes.begin() + 1, bytes.end());
    return m;
  }
  if (kind != WorkerMessage::kUnit && kind != WorkerMessage::kProducts)
    return Status::Corruption(label + ": unknown kind");
  uint32_t n = 0;
  SHARDQ_RETURN_IF_ERROR(r.Read(&m.unit, "unit index"));
  if (kind == WorkerMessage::kProducts) {
    // The product carries its own CRC-32C, checked by rank 0 before it is stored.
    m.kind = WorkerMessage::kProducts;
    m.products.assign(bytes.begin() + static_cast<std::ptrdiff_t>(r.pos()), bytes.end());
    return m;
  }
  SHARDQ_RETURN_IF_ERROR(r.Read(&m.seconds, "seconds"));
  SHARDQ_RETURN_IF_ERROR(r.Read(&n, "blob count"));
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    SHARDQ_RETURN_IF_ERROR(r.Read(&len, "blob length"));
    if (len > r.remaining()) return Status::Corruption(label + ": truncated blob of " + std::to_string(len) + " bytes");
    SHARDQ_ASSIGN_OR_RETURN(TensorBlob b, DecodeTensorBlob(bytes.data() + r.pos(), len, label));
    m.blobs.push_back(std::move(b));
    SHARDQ_RETURN_IF_ERROR(r.Skip(len, "blob"));
  }
  uint32_t n_fp = 0;
  SHARDQ_RETURN_IF_ERROR(r.Read(&n_fp, "fingerprint count"));
  if (n_fp != n) return Status::Corruption(label + ": " + std::to_string(n_fp) + " source fingerprints for " +
                                           std::to_string(n) + " blobs");
  m.source_fingerprints.resize(n_fp);
  for (uint32_t& f : m.source_fingerprints) SHARDQ_RETURN_IF_ERROR(r.Read(&f, "source fingerprint"));
  if (r.remaining() != 0) return Status::Corruption(label + ": " + std::to_string(r.remaining()) + " trailing bytes");
  return m;
}

Result<WorkerMessage> DecodeWorkerMessage(std::vector<uint8_t>&& bytes, int from_rank) {
  constexpr size_t kProductsHeader = 1 + sizeof(int64_t);  // kind, unit index
  if (bytes.size() < kProductsHeader || bytes[0] != WorkerMessage::kProducts) return DecodeWorkerMessage(bytes, from_rank);
  WorkerMessage m;
  m.kind = WorkerMessage::kProducts;
  std::memcpy(&m.unit, bytes.data() + 1, sizeof(m.unit));
  m.products = std::move(bytes);
  m.products.erase(m.products.begin(), m.products.begin() + kProductsHeader);
  return m;
}

}  // namespace shardq
