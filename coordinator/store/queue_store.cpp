#include "coordinator/store/queue_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace shardq {

const char* QueuedStateName(QueuedState s) {
  switch (s) {
    case QueuedState::kQueued: return "queued";
    case QueuedState::kRunning: return "running";
    case QueuedState::kDone: return "done";
    case QueuedState::kFailed: return "failed";
    case QueuedState::kCancelled: return "cancelled";
  }
  return "?";
}

namespace {

constexpr char kJobPrefix[] = "job/";

bool ParseQueuedState(const std::string& name, QueuedState* out) {
  for (QueuedState s : {QueuedState::kQueued, QueuedState::kRunning, QueuedState::kDone, QueuedState::kFailed,
                        QueuedState::kCancelled}) {
    if (name == QueuedStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string EncodeQueuedJob(const QueuedJob& j) {
  nlohmann::json ranks = nlohmann::json::object();
  for (const auto& [rank, t] : j.ranks) ranks[std::to_string(rank)] = {{"units", t.units}, {"busy_seconds", t.busy_seconds}};
  nlohmann::json v = {{"id", j.id},
                      {"seq", j.seq},
                      {"priority", j.priority},
                      {"state", QueuedStateName(j.state)},
                      {"phase", j.phase},
                      {"spec", j.spec_json},
                      {"idempotency_key", j.idempotency_key},
                      {"output_path", j.output_path},
                      {"created_ms", j.created_ms},
                      {"started_ms", j.started_ms},
                      {"finished_ms", j.finished_ms},
                      {"error", j.error},
                      {"units_done", j.units_done},
                      {"units_total", j.units_total},
                      {"units_reused", j.units_reused},
                      {"bytes_in", j.bytes_in},
                      {"bytes_out", j.bytes_out},
                      {"sha256", j.sha256},
                      {"ranks", ranks}};
  return v.dump();
}

Result<QueuedJob> DecodeQueuedJob(const std::string& value, const std::string& what) {
  try {
    const nlohmann::json v = nlohmann::json::parse(value);
    QueuedJob j;
    j.id = v.at("id").get<std::string>();
    j.seq = v.at("seq").get<int64_t>();
    j.priority = v.at("priority").get<int32_t>();
    if (!ParseQueuedState(v.at("state").get<std::string>(), &j.state))
      return Status::Corruption(what + ": unknown state '" + v.at("state").get<std::string>() + "'");
    j.phase = v.at("phase").get<std::string>();
    j.spec_json = v.at("spec").get<std::string>();
    j.idempotency_key = v.at("idempotency_key").get<std::string>();
    j.output_path = v.at("output_path").get<std::string>();
    j.created_ms = v.at("created_ms").get<int64_t>();
    j.started_ms = v.at("started_ms").get<int64_t>();
    j.finished_ms = v.at("finished_ms").get<int64_t>();
    j.error = v.at("error").get<std::string>();
    j.units_done = v.at("units_done").get<int64_t>();
    j.units_total = v.at("units_total").get<int64_t>();
    j.units_reused = v.at("units_reused").get<int64_t>();
    j.bytes_in = v.at("bytes_in").get<int64_t>();
    j.bytes_out = v.at("bytes_out").get<int64_t>();
    j.sha256 = v.at("sha256").get<std::string>();
    for (const auto& [rank, t] : v.at("ranks").items())
      j.ranks[std::stoi(rank)] = RankTally{t.at("units").get<int64_t>(), t.at("busy_seconds").get<double>()};
    if (j.id.empty() || j.seq <= 0) return Status::Corruption(what + ": empty id or non-positive seq");
    return j;
  } catch (const std::exception& e) {  // nlohmann's parse/type errors, std::stoi's
    return Status::Corruption(what + ": " + e.what());
  }
}

struct QueueStore::Impl {
  std::string dir;
  std::unique_ptr<rocksdb::DB> db;
};

QueueStore::QueueStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QueueStore::~QueueStore() = default;

Result<std::unique_ptr<QueueStore>> QueueStore::Open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  // A queue is a few KB per job: no background threads worth having.
  options.max_background_jobs = 1;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) return Status::IOError("queue store " + dir + ": " + s.ToString());
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->db.reset(db);
  return std::unique_ptr<QueueStore>(new QueueStore(std::move(impl)));
}

Result<std::vector<QueuedJob>> QueueStore::LoadAll() {
  std::vector<QueuedJob> jobs;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kJobPrefix); it->Valid() && it->key().starts_with(kJobPrefix); it->Next()) {
    const std::string key = it->key().ToString();
    SHARDQ_ASSIGN_OR_RETURN(QueuedJob j, DecodeQueuedJob(it->value().ToString(), "queue store " + impl_->dir + ": " + key));
    if (key != kJobPrefix + j.id)
      return Status::Corruption("queue store " + impl_->dir + ": " + key + " holds job '" + j.id + "'");
    jobs.push_back(std::move(j));
  }
  if (!it->status().ok()) return Status::IOError("queue store " + impl_->dir + ": " + it->status().ToString());
  std::sort(jobs.begin(), jobs.end(), [](const QueuedJob& a, const QueuedJob& b) { return a.seq < b.seq; });
  return jobs;
}

Status QueueStore::Put(const QueuedJob& job, bool sync) {
  rocksdb::WriteOptions w;
  w.sync = sync;
  const rocksdb::Status s = impl_->db->Put(w, kJobPrefix + job.id, EncodeQueuedJob(job));
  if (!s.ok()) return Status::IOError("queue store " + impl_->dir + ": job " + job.id + ": " + s.ToString());
  return Status::OK();
}

}  // namespace shardq
