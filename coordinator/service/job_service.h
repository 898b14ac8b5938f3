// The job service's state and rules, owned by one Boost.Asio io_context on
// rank 0 (DESIGN.md: only rank 0's main thread calls MPI; the Thrift handlers
// and the HTTP endpoints reach the service through the io_context).
//
// Three kinds of caller:
//  - Thrift handler threads call the API methods (Submit, Status, ...): each is
//    posted to the io_context and its result handed back, so the queue is only
//    ever touched by the io_context's thread.
//  - The main thread, which owns the transport to the workers, takes the next
//    job with NextJob() (blocking), runs it with the runner, and reports with
//    JobFinished(). Runner progress arrives through OnPhase/OnUnit.
//  - The HTTP server, on the io_context's own thread, reads Metrics().
//
// The queue is durable (QueueStore, RocksDB): a job acknowledged by Submit
// survives kill -9, and a job that was running is resumed first on restart.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/job_spec.h"
#include "common/status.h"
#include "coordinator/job/job_runner.h"
#include "coordinator/service/path_policy.h"
#include "coordinator/service/service_metrics.h"
#include "coordinator/store/queue_store.h"
#include "idl_gen/shardq_types.h"

namespace shardq {

struct ServiceOptions {
  std::string state_dir;       // <state>/queue (the queue), <state>/jobs (the jobs' state store)
  std::vector<std::string> roots;
  int ranks = 2;               // MPI ranks including rank 0; 2 when embedded
  int threads_per_worker = 0;  // 0: the runner's default
  size_t max_queued = 1000;    // Submit answers Busy beyond this many queued jobs
};

// What the main thread runs next.
struct JobDispatch {
  std::string id;
  std::string spec_path;       // the validated spec, written by Submit
  std::shared_ptr<std::atomic<bool>> cancel;
};

class JobService {
 public:
  static Result<std::unique_ptr<JobService>> Open(boost::asio::io_context& io, const ServiceOptions& options);
  ~JobService();

  // --- the API (any thread but the io_context's). InvalidArgument carries
  // "FIELD: REASON" (InvalidSpec); NotFound, Busy and Conflict map to the IDL's
  // exceptions of those names.
  Result<std::string> Submit(const rpc::JobSpec& spec, const std::string& idempotency_key, int32_t priority);
  Result<rpc::Estimate> EstimateJob(const rpc::JobSpec& spec);
  Result<rpc::JobStatus> GetStatus(const std::string& id);
  Result<rpc::JobList> List(const rpc::ListFilter& filter, const rpc::Page& page);
  Result<rpc::JobStatus> Cancel(const std::string& id);
  Result<rpc::JobStatus> Resume(const std::string& id);
  Result<rpc::JobStatus> Wait(const std::string& id, int64_t timeout_ms);
  Result<std::vector<rpc::Event>> Events(const std::string& id, int64_t since_seq);
  Result<std::string> Report(const std::string& id);
  rpc::ServerInfo Info() const;

  // --- the main thread.
  // Blocks until a job is to run (it is then RUNNING) or the service stops (nullopt).
  std::optional<JobDispatch> NextJob();
  void OnPhase(const std::string& id, const std::string& phase);
  void OnUnit(const std::string& id, const UnitProgress& unit);
  void JobFinished(const std::string& id, const Result<RunSummary>& result);

  // --- lifecycle. Stop (from any thread): no more dispatches, the running job
  // is stopped at a unit boundary and stays RUNNING in the queue, so the next
  // start resumes it.
  void Stop();
  bool stopping() const { return stopping_.load(); }

  // --- the io_context's thread only (HTTP).
  const ServiceMetrics& metrics() const { return metrics_; }
  size_t queued_count() const;
  std::map<std::string, int64_t> jobs_by_state() const;
  // The artifact's report.html of a finished job, or NotFound.
  Result<std::string> ReportHtmlPath(const std::string& id) const;
  bool ready() const { return !stopping_.load(); }

 private:
  struct Job {
    QueuedJob rec;
    bool resume_first = false;      // was running when the service last stopped
    std::deque<rpc::Event> events;
    int64_t next_event_seq = 1;
    std::shared_ptr<std::atomic<bool>> cancel;  // read by the runner: stop at a unit boundary
    bool cancel_requested = false;               // by cancel(), not by the service stopping
  };
  struct Waiter {
    std::string id;
    std::shared_ptr<std::promise<rpc::JobStatus>> promise;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };

  JobService(boost::asio::io_context& io, const ServiceOptions& options, PathPolicy policy,
             std::unique_ptr<QueueStore> store);

  // Runs `fn` on the io_context and returns its result to the calling thread.
  template <typename T>
  Result<T> OnLoop(std::function<Result<T>()> fn);

  // Validates a submitted spec (fields, then paths against the roots) into the
  // spec the runner will read; `job_id` names the job in it.
  Result<JobSpec> ValidateSpec(const rpc::JobSpec& spec) const;
  rpc::JobStatus ToStatus(const Job& job) const;
  void AddEvent(Job& job, const std::string& kind, const std::string& message);
  Status Persist(Job& job, bool sync);
  void MaybeDispatch();
  void Settle(Job& job);  // wakes waiters of a job that reached a final state
  std::vector<const Job*> QueuedInOrder() const;
  Job* Find(const std::string& id);
  const Job* Find(const std::string& id) const;

  boost::asio::io_context& io_;
  ServiceOptions options_;
  PathPolicy policy_;
  std::unique_ptr<QueueStore> store_;
  std::string specs_dir_, jobs_state_dir_;

  // io_context thread only.
  std::map<std::string, Job> jobs_;
  std::vector<std::string> order_;             // ids in submission order
  std::map<std::string, std::string> by_key_;  // idempotency key -> id
  std::vector<Waiter> waiters_;
  std::string running_;                        // id of the dispatched job, if any
  int64_t next_seq_ = 1;
  ServiceMetrics metrics_;
  double bytes_per_second_ = 0;                // measured on finished jobs, for estimates

  // The hand-off to the main thread.
  std::mutex handoff_mu_;
  std::condition_variable handoff_cv_;
  std::optional<JobDispatch> handoff_;
  std::atomic<bool> stopping_{false};
};

}  // namespace shardq
