#include "coordinator/service/job_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/job_text.h"
#include "coordinator/service/job_estimate.h"
#include "coordinator/service/spec_convert.h"

namespace shardq {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsFinal(QueuedState s) {
  return s == QueuedState::kDone || s == QueuedState::kFailed || s == QueuedState::kCancelled;
}

rpc::JobState::type ToRpcState(QueuedState s) {
  switch (s) {
    case QueuedState::kQueued: return rpc::JobState::QUEUED;
    case QueuedState::kRunning: return rpc::JobState::RUNNING;
    case QueuedState::kDone: return rpc::JobState::DONE;
    case QueuedState::kFailed: return rpc::JobState::FAILED;
    case QueuedState::kCancelled: return rpc::JobState::CANCELLED;
  }
  return rpc::JobState::FAILED;
}

// Ids sort by submission and are unlikely to repeat across state directories.
std::string NewJobId(int64_t seq) {
  std::random_device rd;
  char buf[64];
  std::snprintf(buf, sizeof buf, "job-%06lld-%08x", static_cast<long long>(seq), static_cast<unsigned>(rd()));
  return buf;
}

constexpr size_t kMaxEventsPerJob = 10000;
constexpr size_t kMaxIdempotencyKey = 256;

}  // namespace

JobService::JobService(boost::asio::io_context& io, const ServiceOptions& options, PathPolicy policy,
                       std::unique_ptr<QueueStore> store)
    : io_(io), options_(options), policy_(std::move(policy)), store_(std::move(store)) {
  specs_dir_ = options.state_dir + "/specs";
  jobs_state_dir_ = options.state_dir + "/jobs";
}

JobService::~JobService() = default;

Result<std::unique_ptr<JobService>> JobService::Open(boost::asio::io_context& io, const ServiceOptions& options) {
  SHARDQ_ASSIGN_OR_RETURN(PathPolicy policy, PathPolicy::Make(options.roots));
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir + "/specs", ec);
  if (ec) return Status::IOError("--state " + options.state_dir + ": " + ec.message());
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<QueueStore> store, QueueStore::Open(options.state_dir + "/queue"));
  SHARDQ_ASSIGN_OR_RETURN(std::vector<QueuedJob> saved, store->LoadAll());
  std::unique_ptr<JobService> s(new JobService(io, options, std::move(policy), std::move(store)));
  int64_t resumed = 0, queued = 0;
  for (QueuedJob& rec : saved) {
    Job job;
    job.rec = std::move(rec);
    job.cancel = std::make_shared<std::atomic<bool>>(false);
    if (job.rec.state == QueuedState::kRunning) {
      // Interrupted (kill -9, SIGTERM): first in line again; its committed units are reused.
      job.rec.state = QueuedState::kQueued;
      job.resume_first = true;
      ++resumed;
    }
    if (job.rec.state == QueuedState::kQueued) ++queued;
    s->next_seq_ = std::max(s->next_seq_, job.rec.seq + 1);
    if (!job.rec.idempotency_key.empty()) s->by_key_[job.rec.idempotency_key] = job.rec.id;
    s->order_.push_back(job.rec.id);
    const std::string id = job.rec.id;
    s->jobs_.emplace(id, std::move(job));
    if (s->jobs_[id].resume_first) s->AddEvent(s->jobs_[id], "state", "service restarted: the job is resumed first");
  }
  if (!saved.empty())
    std::fprintf(stderr, "shardq serve: %zu job(s) in %s/queue: %lld queued, %lld of them interrupted and resumed first\n",
                 saved.size(), options.state_dir.c_str(), (long long)queued, (long long)resumed);
  boost::asio::post(io, [raw = s.get()] { raw->MaybeDispatch(); });
  return s;
}

template <typename T>
Result<T> JobService::OnLoop(std::function<Result<T>()> fn) {
  if (stopping_) return Status::Busy("the service is shutting down");
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> done = promise->get_future();
  boost::asio::post(io_, [fn = std::move(fn), promise] { promise->set_value(fn()); });
  // The loop runs until after the Thrift server has stopped, so this returns.
  return done.get();
}

JobService::Job* JobService::Find(const std::string& id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}
const JobService::Job* JobService::Find(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

void JobService::AddEvent(Job& job, const std::string& kind, const std::string& message) {
  rpc::Event e;
  e.seq = job.next_event_seq++;
  e.unix_ms = NowMs();
  e.kind = kind;
  e.message = message;
  e.units_done = job.rec.units_done;
  e.units_total = job.rec.units_total;
  job.events.push_back(std::move(e));
  if (job.events.size() > kMaxEventsPerJob) job.events.pop_front();
}

Status JobService::Persist(Job& job, bool sync) {
  Status st = store_->Put(job.rec, sync);
  if (!st.ok()) std::fprintf(stderr, "shardq serve: %s\n", st.message().c_str());
  return st;
}

std::vector<const JobService::Job*> JobService::QueuedInOrder() const {
  std::vector<const Job*> q;
  for (const std::string& id : order_) {
    const Job& j = jobs_.at(id);
    if (j.rec.state == QueuedState::kQueued) q.push_back(&j);
  }
  // Interrupted jobs first, then higher priority, then first come first served.
  std::stable_sort(q.begin(), q.end(), [](const Job* a, const Job* b) {
    if (a->resume_first != b->resume_first) return a->resume_first;
    if (a->rec.priority != b->rec.priority) return a->rec.priority > b->rec.priority;
    return a->rec.seq < b->rec.seq;
  });
  return q;
}

size_t JobService::queued_count() const { return QueuedInOrder().size(); }

std::map<std::string, int64_t> JobService::jobs_by_state() const {
  std::map<std::string, int64_t> n;
  for (QueuedState s : {QueuedState::kQueued, QueuedState::kRunning, QueuedState::kDone, QueuedState::kFailed,
                        QueuedState::kCancelled})
    n[QueuedStateName(s)] = 0;
  for (const auto& [id, j] : jobs_) ++n[QueuedStateName(j.rec.state)];
  return n;
}

rpc::JobStatus JobService::ToStatus(const Job& job) const {
  const QueuedJob& r = job.rec;
  rpc::JobStatus s;
  s.id = r.id;
  s.state = ToRpcState(r.state);
  s.phase = r.phase;
  s.units_done = r.units_done;
  s.units_total = r.units_total;
  for (const auto& [rank, t] : r.ranks) {
    rpc::RankProgress p;
    p.rank = rank;
    p.units_done = t.units;
    p.busy_seconds = t.busy_seconds;
    s.ranks.push_back(p);
  }
  s.bytes_in = r.bytes_in;
  s.bytes_out = r.bytes_out;
  s.created_unix_ms = r.created_ms;
  s.started_unix_ms = r.started_ms;
  s.finished_unix_ms = r.finished_ms;
  s.error = r.error;
  s.output_path = r.output_path;
  s.sha256 = r.sha256;
  s.priority = r.priority;
  s.units_reused = r.units_reused;
  s.queue_position = -1;
  if (r.state == QueuedState::kQueued) {
    const std::vector<const Job*> q = QueuedInOrder();
    for (size_t i = 0; i < q.size(); ++i)
      if (q[i] == &job) s.queue_position = static_cast<int64_t>(i);
  }
  return s;
}

Result<JobSpec> JobService::ValidateSpec(const rpc::JobSpec& in) const {
  // The server's state directory is the only one; the struct has no field for it.
  Result<JobSpec> parsed = ParseJobSpec(ThriftSpecToJson(in), "spec");
  if (!parsed.ok()) return parsed.status();
  JobSpec spec = std::move(*parsed);
  SHARDQ_ASSIGN_OR_RETURN(spec.model, policy_.Input(spec.model, "model"));
  SHARDQ_ASSIGN_OR_RETURN(spec.output_path, policy_.Output(spec.output_path, "output.path"));
  if (spec.calibration) {
    SHARDQ_ASSIGN_OR_RETURN(spec.calibration->text, policy_.Input(spec.calibration->text, "calibration.text"));
  }
  if (spec.eval) {
    SHARDQ_ASSIGN_OR_RETURN(spec.eval->text, policy_.Input(spec.eval->text, "eval.text"));
  }
  spec.state_dir = jobs_state_dir_;
  return spec;
}

Result<std::string> JobService::Submit(const rpc::JobSpec& in, const std::string& key, int32_t priority) {
  if (key.size() > kMaxIdempotencyKey)
    return Status::InvalidArgument("idempotency_key: longer than " + std::to_string(kMaxIdempotencyKey) + " bytes");
  // Validation reads the file system (and the model's tensor index), not the
  // queue: done here, off the loop.
  Result<JobSpec> validated = ValidateSpec(in);
  int64_t bytes_in = 0;
  if (validated.ok()) {
    Result<JobEstimate> size = EstimateJobSize(*validated, std::max(1, options_.ranks - 1));
    if (!size.ok()) validated = size.status();
    else bytes_in = size->bytes_in;
  }
  return OnLoop<std::string>([&, validated]() mutable -> Result<std::string> {
    if (!key.empty()) {
      auto it = by_key_.find(key);
      if (it != by_key_.end()) return it->second;  // the same request again: the same job
    }
    if (!validated.ok()) return validated.status();
    JobSpec& spec = *validated;
    for (const auto& [id, j] : jobs_) {
      if ((j.rec.state == QueuedState::kQueued || j.rec.state == QueuedState::kRunning) &&
          j.rec.output_path == spec.output_path)
        return Status::Conflict("output.path: " + spec.output_path + " belongs to job " + id + " (" +
                                QueuedStateName(j.rec.state) + ")");
    }
    if (queued_count() >= options_.max_queued)
      return Status::Busy(std::to_string(options_.max_queued) + " jobs are queued already; try again later");
    Job job;
    job.rec.seq = next_seq_++;
    job.rec.id = NewJobId(job.rec.seq);
    spec.job_id = job.rec.id;
    job.rec.priority = priority;
    job.rec.state = QueuedState::kQueued;
    job.rec.phase = "queued";
    job.rec.spec_json = JobSpecToJson(spec);
    // The runner re-reads this text: it must parse back to the same job.
    Result<JobSpec> reread = ParseJobSpec(job.rec.spec_json, "spec");
    if (!reread.ok() || reread->CanonicalJson() != spec.CanonicalJson())
      return Status::Internal("the validated spec does not read back the same: " +
                              (reread.ok() ? std::string("canonical forms differ") : reread.status().message()));
    job.rec.idempotency_key = key;
    job.rec.output_path = spec.output_path;
    job.rec.created_ms = NowMs();
    job.rec.bytes_in = bytes_in;
    job.cancel = std::make_shared<std::atomic<bool>>(false);
    // The spec file first, then the queue record (synced): a record never names a missing spec.
    {
      SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> f, AtomicFile::Create(specs_dir_ + "/" + job.rec.id + ".json"));
      SHARDQ_RETURN_IF_ERROR(f->Append(job.rec.spec_json.data(), job.rec.spec_json.size()));
      SHARDQ_RETURN_IF_ERROR(f->Commit());
    }
    SHARDQ_RETURN_IF_ERROR(store_->Put(job.rec, /*sync=*/true));
    const std::string id = job.rec.id;
    if (!key.empty()) by_key_[key] = id;
    order_.push_back(id);
    Job& stored = jobs_.emplace(id, std::move(job)).first->second;
    AddEvent(stored, "state", "queued");
    ++metrics_.jobs_submitted;
    MaybeDispatch();
    return id;
  });
}

Result<rpc::Estimate> JobService::EstimateJob(const rpc::JobSpec& in) {
  SHARDQ_ASSIGN_OR_RETURN(JobSpec spec, ValidateSpec(in));
  const int workers = std::max(1, options_.ranks - 1);
  SHARDQ_ASSIGN_OR_RETURN(JobEstimate e, EstimateJobSize(spec, workers));
  Result<double> measured = OnLoop<double>([this]() -> Result<double> { return bytes_per_second_; });
  const double rate = measured.ok() ? *measured : 0.0;
  rpc::Estimate out;
  out.units = e.units;
  out.bytes_in = e.bytes_in;
  out.predicted_bytes_out = e.bytes_out;
  out.predicted_seconds = e.bytes_in / (rate > 0 ? rate : e.default_bytes_per_second);
  return out;
}

Result<rpc::JobStatus> JobService::GetStatus(const std::string& id) {
  return OnLoop<rpc::JobStatus>([&]() -> Result<rpc::JobStatus> {
    const Job* j = Find(id);
    if (!j) return Status::NotFound(id);
    return ToStatus(*j);
  });
}

Result<rpc::JobList> JobService::List(const rpc::ListFilter& filter, const rpc::Page& page) {
  const int32_t offset = page.__isset.offset ? std::max(0, page.offset) : 0;
  const int32_t limit = page.__isset.limit ? std::clamp(page.limit, 0, 1000) : 100;
  return OnLoop<rpc::JobList>([&]() -> Result<rpc::JobList> {
    rpc::JobList out;
    out.total = 0;
    for (const std::string& id : order_) {
      const Job& j = jobs_.at(id);
      if (filter.__isset.state && ToRpcState(j.rec.state) != filter.state) continue;
      if (out.total >= offset && static_cast<int32_t>(out.jobs.size()) < limit) out.jobs.push_back(ToStatus(j));
      ++out.total;
    }
    return out;
  });
}

Result<rpc::JobStatus> JobService::Cancel(const std::string& id) {
  return OnLoop<rpc::JobStatus>([&]() -> Result<rpc::JobStatus> {
    Job* j = Find(id);
    if (!j) return Status::NotFound(id);
    if (IsFinal(j->rec.state))
      return Status::Conflict("job " + id + " is " + QueuedStateName(j->rec.state) + " already");
    if (j->rec.state == QueuedState::kQueued) {
      j->rec.state = QueuedState::kCancelled;
      j->rec.phase = "cancelled";
      j->rec.finished_ms = NowMs();
      j->resume_first = false;
      AddEvent(*j, "state", "cancelled while queued");
      Persist(*j, true);
      Settle(*j);
    } else {
      // Running: the runner relays the stop; each rank finishes its unit in hand.
      j->cancel_requested = true;
      j->cancel->store(true);
      AddEvent(*j, "log", "cancel requested: stopping after the units in hand");
    }
    return ToStatus(*j);
  });
}

Result<rpc::JobStatus> JobService::Resume(const std::string& id) {
  return OnLoop<rpc::JobStatus>([&]() -> Result<rpc::JobStatus> {
    Job* j = Find(id);
    if (!j) return Status::NotFound(id);
    if (j->rec.state != QueuedState::kCancelled && j->rec.state != QueuedState::kFailed)
      return Status::Conflict("job " + id + " is " + QueuedStateName(j->rec.state) +
                              "; only a cancelled or failed job can be resumed");
    for (const auto& [other, o] : jobs_) {
      if (other != id && (o.rec.state == QueuedState::kQueued || o.rec.state == QueuedState::kRunning) &&
          o.rec.output_path == j->rec.output_path)
        return Status::Conflict("output.path: " + j->rec.output_path + " belongs to job " + other);
    }
    j->rec.state = QueuedState::kQueued;
    j->rec.phase = "queued";
    j->rec.error.clear();
    j->rec.finished_ms = 0;
    j->cancel = std::make_shared<std::atomic<bool>>(false);
    j->cancel_requested = false;
    AddEvent(*j, "state", "queued again (resume)");
    SHARDQ_RETURN_IF_ERROR(Persist(*j, true));
    MaybeDispatch();
    return ToStatus(*j);
  });
}

Result<rpc::JobStatus> JobService::Wait(const std::string& id, int64_t timeout_ms) {
  timeout_ms = std::clamp<int64_t>(timeout_ms, 0, 60000);
  using Pending = std::shared_ptr<std::promise<rpc::JobStatus>>;
  Result<Pending> pending = OnLoop<Pending>([&]() -> Result<Pending> {
    const Job* j = Find(id);
    if (!j) return Status::NotFound(id);
    auto promise = std::make_shared<std::promise<rpc::JobStatus>>();
    if (IsFinal(j->rec.state) || timeout_ms == 0) {
      promise->set_value(ToStatus(*j));
      return promise;
    }
    Waiter w{id, promise, std::make_shared<boost::asio::steady_timer>(io_)};
    w.timer->expires_after(std::chrono::milliseconds(timeout_ms));
    w.timer->async_wait([this, promise](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: Settle answered
      for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
        if (it->promise == promise) {
          const Job* job = Find(it->id);
          promise->set_value(job ? ToStatus(*job) : rpc::JobStatus());
          waiters_.erase(it);
          return;
        }
      }
    });
    waiters_.push_back(std::move(w));
    return promise;
  });
  if (!pending.ok()) return pending.status();
  return (*pending)->get_future().get();
}

void JobService::Settle(Job& job) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->id == job.rec.id) {
      it->timer->cancel();
      it->promise->set_value(ToStatus(job));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<std::vector<rpc::Event>> JobService::Events(const std::string& id, int64_t since_seq) {
  return OnLoop<std::vector<rpc::Event>>([&]() -> Result<std::vector<rpc::Event>> {
    const Job* j = Find(id);
    if (!j) return Status::NotFound(id);
    std::vector<rpc::Event> out;
    for (const rpc::Event& e : j->events) {
      if (e.seq <= since_seq) continue;
      out.push_back(e);
      if (out.size() >= 1000) break;
    }
    return out;
  });
}

Result<std::string> JobService::Report(const std::string& id) {
  Result<QueuedJob> rec = OnLoop<QueuedJob>([&]() -> Result<QueuedJob> {
    const Job* j = Find(id);
    if (!j) return Status::NotFound(id);
    return j->rec;
  });
  if (!rec.ok()) return rec.status();
  nlohmann::json report = {{"job", nlohmann::json::parse(EncodeQueuedJob(*rec))}};
  report["job"].erase("spec");
  report["spec"] = nlohmann::json::parse(rec->spec_json);
  if (rec->state == QueuedState::kDone) {
    // The artifact's own report, as `shardq run` wrote it beside the file.
    Result<std::string> text = ReadJobText(rec->output_path + ".report.json", "report");
    if (text.ok()) {
      nlohmann::json artifact = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (!artifact.is_discarded()) report["artifact"] = std::move(artifact);
    }
  }
  return report.dump(2);
}

Result<std::string> JobService::ReportHtmlPath(const std::string& id) const {
  const Job* j = Find(id);
  if (!j) return Status::NotFound("no job " + id);
  if (j->rec.state != QueuedState::kDone) return Status::NotFound("job " + id + " has no report yet");
  return j->rec.output_path + ".report.html";
}

rpc::ServerInfo JobService::Info() const {
  rpc::ServerInfo info;
  info.version = SHARDQ_VERSION;
  info.capabilities = {"submit", "estimate", "status", "list", "cancel", "resume", "wait", "events", "report",
                       "algorithms:rtn,imatrix,gptq,awq,awq+gptq", "formats:gguf"};
  info.ranks = options_.ranks;
  info.workers = std::max(1, options_.ranks - 1);
  return info;
}

void JobService::MaybeDispatch() {
  if (stopping_ || !running_.empty()) return;
  const std::vector<const Job*> q = QueuedInOrder();
  if (q.empty()) return;
  Job& job = jobs_.at(q.front()->rec.id);
  job.rec.state = QueuedState::kRunning;
  job.rec.phase = "starting";
  job.rec.started_ms = NowMs();
  job.rec.units_done = job.rec.units_reused = 0;
  job.rec.ranks.clear();
  if (!job.cancel) job.cancel = std::make_shared<std::atomic<bool>>(false);
  AddEvent(job, "state", "running");
  Persist(job, true);
  running_ = job.rec.id;
  {
    std::lock_guard<std::mutex> lock(handoff_mu_);
    handoff_ = JobDispatch{job.rec.id, specs_dir_ + "/" + job.rec.id + ".json", job.cancel};
  }
  handoff_cv_.notify_all();
}

std::optional<JobDispatch> JobService::NextJob() {
  std::unique_lock<std::mutex> lock(handoff_mu_);
  handoff_cv_.wait(lock, [&] { return handoff_.has_value() || stopping_.load(); });
  if (stopping_) return std::nullopt;
  std::optional<JobDispatch> d = std::move(handoff_);
  handoff_.reset();
  return d;
}

void JobService::OnPhase(const std::string& id, const std::string& phase) {
  boost::asio::post(io_, [this, id, phase] {
    Job* j = Find(id);
    if (!j) return;
    j->rec.phase = phase;
    AddEvent(*j, "state", phase);
    Persist(*j, false);
  });
}

void JobService::OnUnit(const std::string& id, const UnitProgress& u) {
  boost::asio::post(io_, [this, id, u] {
    Job* j = Find(id);
    if (!j) return;
    j->rec.units_done = u.done;
    j->rec.units_total = u.total;
    RankTally& t = j->rec.ranks[u.rank];
    ++t.units;
    t.busy_seconds += u.seconds;
    metrics_.ObserveUnit(u.rank, u.seconds);
    char msg[256];
    std::snprintf(msg, sizeof msg, "unit %s committed (rank %d, %.2f s)", u.unit.c_str(), u.rank, u.seconds);
    AddEvent(*j, "unit", msg);
    Persist(*j, false);
  });
}

void JobService::JobFinished(const std::string& id, const Result<RunSummary>& result) {
  boost::asio::post(io_, [this, id, result] {
    running_.clear();
    Job* j = Find(id);
    if (!j) return;
    const bool cancelled = !result.ok() && result.status().code() == Status::Code::kCancelled;
    if (cancelled && stopping_ && !j->cancel_requested) {
      // Stopped by the service's own shutdown: stays RUNNING in the store, so
      // the next start resumes it first.
      AddEvent(*j, "log", "service stopping: the job resumes when the service starts again");
      return;
    }
    j->rec.finished_ms = NowMs();
    if (result.ok()) {
      j->rec.state = QueuedState::kDone;
      j->rec.phase = "done";
      j->rec.units_done = result->units_total;
      j->rec.units_total = result->units_total;
      j->rec.units_reused = result->units_reused;
      j->rec.bytes_out = static_cast<int64_t>(result->file_bytes);
      j->rec.sha256 = result->file_sha256;
      metrics_.units_reused += result->units_reused;
      metrics_.bytes_out += j->rec.bytes_out;
      metrics_.bytes_in += j->rec.bytes_in;
      if (result->seconds > 0 && j->rec.bytes_in > 0) {
        const double rate = j->rec.bytes_in / result->seconds;
        bytes_per_second_ = bytes_per_second_ > 0 ? 0.5 * bytes_per_second_ + 0.5 * rate : rate;
      }
      AddEvent(*j, "state", "done: " + result->output_path + " sha256 " + result->file_sha256);
    } else {
      j->rec.state = cancelled ? QueuedState::kCancelled : QueuedState::kFailed;
      j->rec.phase = QueuedStateName(j->rec.state);
      j->rec.error = result.status().message();
      if (!cancelled) {
        metrics_.last_error = j->rec.error;
        metrics_.last_error_job = id;
        metrics_.last_error_unix = j->rec.finished_ms / 1000;
      }
      AddEvent(*j, "state", std::string(QueuedStateName(j->rec.state)) + ": " + j->rec.error);
    }
    Persist(*j, true);
    Settle(*j);
    MaybeDispatch();
  });
}

void JobService::Stop() {
  if (stopping_.exchange(true)) return;
  boost::asio::post(io_, [this] {
    if (!running_.empty()) {
      // Not a cancel: the flag stops the runner, JobFinished sees stopping_.
      if (Job* j = Find(running_)) j->cancel->store(true);
    }
    for (Waiter& w : waiters_) {
      w.timer->cancel();
      const Job* j = Find(w.id);
      w.promise->set_value(j ? ToStatus(*j) : rpc::JobStatus());
    }
    waiters_.clear();
  });
  handoff_cv_.notify_all();
}

}  // namespace shardq
