#include "coordinator/store/state_records.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "common/crc32c.h"
#include "common/json_integer.h"

namespace shardq {
namespace {

using nlohmann::json;

constexpr JobState kAllStates[] = {JobState::kQueued,      JobState::kPlanning,   JobState::kCalibrating,
                                   JobState::kCompressing, JobState::kAssembling, JobState::kDone,
                                   JobState::kFailed,      JobState::kCancelled};

std::optional<JobState> ParseJobState(const std::string& s) {
  for (JobState st : kAllStates)
    if (s == JobStateName(st)) return st;
  return std::nullopt;
}

// JSON records carry their own CRC-32C (of the compact, key-sorted JSON text
// without the "crc32c" field), so a damaged value is detected even where
// RocksDB's block checksums do not look (memtable, a bug on our side).
// dump() throws on invalid UTF-8 (a tensor name from a broken model): an error, not a crash.
Result<std::string> SealJson(json j, const std::string& what) {
  try {
    j.erase("crc32c");
    const std::string body = j.dump();
    j["crc32c"] = Crc32c(body.data(), body.size());
    return j.dump();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(what + ": cannot store record: " + e.what());
  }
}

Result<json> OpenJson(const std::string& value, const std::string& what) {
  json j = json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption(what + ": record is not a JSON object");
  auto it = j.find("crc32c");
  if (it == j.end() || !it->is_number_unsigned()) return Status::Corruption(what + ": record has no crc32c");
  const auto stored = it->get<uint64_t>();
  j.erase(it);
  const std::string body = j.dump();
  if (Crc32c(body.data(), body.size()) != stored) return Status::Corruption(what + ": record checksum mismatch");
  return j;
}

json JobToJson(const JobRecord& r) {
  return json{{"id", r.id},
              {"spec_json", r.spec_json},
              {"fingerprint", r.fingerprint},
              {"state", JobStateName(r.state)},
              {"error", r.error},
              {"inputs_fingerprint", r.inputs_fingerprint},
              {"n_units", r.n_units},
              {"created_unix", r.created_unix},
              {"updated_unix", r.updated_unix}};
}

json UnitToJson(const UnitRecord& u) {
  return json{{"index", u.index},
              {"name", u.name},
              {"tensors", u.tensors},
              {"worker_rank", u.worker_rank},
              {"seconds", u.seconds},
              {"source_fingerprints", u.source_fingerprints}};
}

// nlohmann throws on a missing field or a wrong type; a record that reaches
// here passed its CRC, so that would be a bug or a foreign writer: Corruption.
Result<JobRecord> JobFromJson(const json& j, const std::string& what) {
  try {
    JobRecord r;
    r.id = j.at("id").get<std::string>();
    r.spec_json = j.at("spec_json").get<std::string>();
    r.fingerprint = j.at("fingerprint").get<std::string>();
    const auto state = ParseJobState(j.at("state").get<std::string>());
    if (!state) return Status::Corruption(what + ": unknown state '" + j.at("state").get<std::string>() + "'");
    r.state = *state;
    r.error = j.at("error").get<std::string>();
    // Absent in stores written before fingerprints existed.
    if (j.contains("inputs_fingerprint")) r.inputs_fingerprint = j.at("inputs_fingerprint").get<std::string>();
    r.n_units = JsonInteger<int64_t>(j.at("n_units"), "n_units");
    r.created_unix = JsonInteger<int64_t>(j.at("created_unix"), "created_unix");
    r.updated_unix = JsonInteger<int64_t>(j.at("updated_unix"), "updated_unix");
    return r;
  } catch (const std::exception& e) {  // from json or from JsonInteger
    return Status::Corruption(what + ": " + e.what());
  }
}

Result<UnitRecord> UnitFromJson(const json& j, const std::string& what) {
  try {
    UnitRecord u;
    u.index = JsonInteger<int64_t>(j.at("index"), "index");
    u.name = j.at("name").get<std::string>();
    u.tensors = j.at("tensors").get<std::vector<std::string>>();
    u.worker_rank = JsonInteger<int>(j.at("worker_rank"), "worker_rank");
    u.seconds = j.at("seconds").get<double>();
    // Absent in stores written before fingerprints existed: such a unit is recomputed.
    if (j.contains("source_fingerprints")) {
      for (const json& f : j.at("source_fingerprints")) {
        const int64_t v = JsonInteger<int64_t>(f, "source_fingerprints");
        if (v < 0 || v > 0xffffffffLL) throw std::out_of_range("source_fingerprints: not a 32-bit value");
        u.source_fingerprints.push_back(static_cast<uint32_t>(v));
      }
    }
    return u;
  } catch (const std::exception& e) {  // from json or from JsonInteger
    return Status::Corruption(what + ": " + e.what());
  }
}

}  // namespace

Result<std::string> EncodeJobRecord(const JobRecord& record, const std::string& what) {
  return SealJson(JobToJson(record), what);
}

Result<JobRecord> DecodeJobRecord(const std::string& value, const std::string& what) {
  SHARDQ_ASSIGN_OR_RETURN(json j, OpenJson(value, what));
  return JobFromJson(j, what);
}

Result<std::string> EncodeUnitRecord(const UnitRecord& record, const std::string& what) {
  return SealJson(UnitToJson(record), what);
}

Result<UnitRecord> DecodeUnitRecord(const std::string& value, const std::string& what) {
  SHARDQ_ASSIGN_OR_RETURN(json j, OpenJson(value, what));
  return UnitFromJson(j, what);
}

}  // namespace shardq
