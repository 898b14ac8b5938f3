// `shardq serve`: the job service's process. Rank 0 (or the only process, with
// an embedded worker thread) serves Thrift and HTTP and runs queued jobs one at
// a time on its main thread, the only thread that talks to the workers; ranks
// 1..N-1 under mpirun are persistent workers that wait for the next job.
#pragma once

#include <string>
#include <vector>

namespace shardq {

struct ServeOptions {
  std::string listen = "127.0.0.1:9190";  // Thrift
  std::string http = "127.0.0.1:9191";    // health, readiness, metrics, reports
  std::string state_dir = ".shardq-service";
  std::vector<std::string> roots;         // empty: the working directory
  std::string token_file;                 // else SHARDQ_TOKEN
  int threads = 0;                        // per worker
};

// Returns the exit code: 0 after a clean stop (SIGTERM/SIGINT).
int RunServeCommand(const ServeOptions& options);

// "HOST:PORT" -> host, port. InvalidArgument naming `flag` when malformed.
struct HostPort {
  std::string host;
  int port = 0;
};
bool ParseHostPort(const std::string& text, HostPort* out);

// The service token: the file's first line (trailing newline and spaces
// dropped) or SHARDQ_TOKEN. Empty when neither is set.
std::string ReadServiceToken(const std::string& token_file, std::string* error);

}  // namespace shardq
