// The shardq job service. Served by `shardq serve` (rank 0 of an mpirun job, or
// alone with embedded workers) over a FRAMED transport with the BINARY protocol,
// which every Thrift language speaks. A client in any language is generated from
// this file alone: `thrift --gen py idl/shardq.thrift`.
//
// Authentication: every call except serverInfo takes the service's bearer token
// as its first argument (Thrift has no portable call headers); a wrong or
// missing token raises Unauthorized. serverInfo needs none, so probes and
// clients can check the version before they hold a token.
//
// The JobSpec struct has the fields of the YAML job spec (README, "Job spec");
// paths must be absolute and inside the server's --roots (the `shardq submit`
// client resolves relative paths against its working directory). The state
// directory is the server's own (--state), so it is not a field here.

namespace cpp shardq.rpc
namespace py shardq_rpc

typedef string JobId

struct GptqOptions {
  1: optional double damp,
  2: optional bool act_order,
  3: optional i64 block_columns,
  4: optional bool importance,
}

struct QuantizeRecipe {
  1: optional string preset,              // Q4_K_M, Q8_0, ... (default Q4_K_M)
  2: optional string algorithm,           // rtn | imatrix | gptq | awq | awq+gptq
  3: optional bool pure,
  4: optional list<string> tensor_types,  // "REGEX=TYPE"
  5: optional string output_tensor_type,
  6: optional string token_embedding_type,
  7: optional GptqOptions gptq,
  8: optional double target_bpw,          // mixed precision: at most one of these two
  9: optional i64 target_size,
}

struct Recipe {
  1: optional QuantizeRecipe quantize,
}

struct CalibrationSpec {
  1: required string text,
  2: optional i64 samples,
  3: optional i64 seq_len,
  4: optional bool hessian,
}

struct EvalSpec {
  1: required string text,
  2: optional i64 ctx,
}

struct OutputSpec {
  1: required string path,
  2: optional string format,   // gguf
}

struct JobSpec {
  1: optional string job_id,   // ignored by submit: the server names its jobs
  2: required string model,
  3: required OutputSpec output,
  4: optional Recipe recipe,
  5: optional CalibrationSpec calibration,
  6: optional EvalSpec eval,
}

enum JobState {
  QUEUED = 1,
  RUNNING = 2,
  DONE = 3,
  FAILED = 4,
  CANCELLED = 5,   // by cancel(); resumable with resume()
}

struct RankProgress {
  1: i32 rank,
  2: i64 units_done,
  3: double busy_seconds,
}

struct JobStatus {
  1: JobId id,
  2: JobState state,
  3: string phase,             // queued, planning, calibrating, compressing, assembling, evaluating, done, ...
  4: i64 units_done,
  5: i64 units_total,
  6: list<RankProgress> ranks,
  7: i64 bytes_in,             // the model's tensor bytes
  8: i64 bytes_out,            // the artifact's bytes (when done)
  9: i64 created_unix_ms,
  10: i64 started_unix_ms,     // 0: not started
  11: i64 finished_unix_ms,    // 0: not finished
  12: string error,
  13: string output_path,
  14: string sha256,           // the artifact's (when done)
  15: i32 priority,
  16: i64 units_reused,        // read back from the state store by this run
  17: i64 queue_position,      // 0-based among queued jobs; -1 when not queued
}

struct Estimate {
  1: i64 units,
  2: i64 bytes_in,
  3: i64 predicted_bytes_out,
  4: double predicted_seconds,
}

struct ListFilter {
  1: optional JobState state,
}

struct Page {
  1: optional i32 offset,      // default 0
  2: optional i32 limit,       // default 100, at most 1000
}

struct JobList {
  1: list<JobStatus> jobs,     // submission order
  2: i32 total,                // matching the filter, before paging
}

struct Event {
  1: i64 seq,                  // increasing per job, from 1
  2: i64 unix_ms,
  3: string kind,              // state | unit | log
  4: string message,
  5: i64 units_done,
  6: i64 units_total,
}

struct ServerInfo {
  1: string version,
  2: list<string> capabilities,
  3: i32 ranks,                // MPI ranks including rank 0 (2 when embedded)
  4: i32 workers,
}

exception InvalidSpec { 1: string field, 2: string reason }
exception NotFound { 1: JobId id }
exception Unauthorized { 1: string reason }
exception Busy { 1: string reason }
exception Conflict { 1: string reason }

service ShardQ {
  // Queues a job; the same idempotency key (non-empty) returns the same id.
  JobId submit(1: string token, 2: JobSpec spec, 3: string idempotency_key, 4: i32 priority)
      throws (1: InvalidSpec invalid, 2: Unauthorized unauthorized, 3: Busy busy, 4: Conflict conflict),
  Estimate estimate(1: string token, 2: JobSpec spec)
      throws (1: InvalidSpec invalid, 2: Unauthorized unauthorized),
  JobStatus status(1: string token, 2: JobId id)
      throws (1: NotFound not_found, 2: Unauthorized unauthorized),
  // "list" is a Thrift keyword, hence listJobs.
  JobList listJobs(1: string token, 2: ListFilter filter, 3: Page page)
      throws (1: Unauthorized unauthorized),
  // Stops a queued job, or a running one after the unit each rank has in hand; resumable.
  JobStatus cancel(1: string token, 2: JobId id)
      throws (1: NotFound not_found, 2: Unauthorized unauthorized, 3: Conflict conflict),
  // Queues a cancelled or failed job again; its committed units are reused.
  JobStatus resume(1: string token, 2: JobId id)
      throws (1: NotFound not_found, 2: Unauthorized unauthorized, 3: Conflict conflict),
  // Returns when the job is done, failed or cancelled, or after timeout_ms (at most 60000).
  JobStatus wait(1: string token, 2: JobId id, 3: i64 timeout_ms)
      throws (1: NotFound not_found, 2: Unauthorized unauthorized),
  // Events with seq > since_seq (at most 1000).
  list<Event> events(1: string token, 2: JobId id, 3: i64 since_seq)
      throws (1: NotFound not_found, 2: Unauthorized unauthorized),
  // The job's report as JSON (status, and the artifact's report when done).
  string report(1: string token, 2: JobId id)
      throws (1: NotFound not_found, 2: Unauthorized unauthorized),
  ServerInfo serverInfo(),
}
