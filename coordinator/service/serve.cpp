#include "coordinator/service/serve.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "coordinator/http/http_server.h"
#include "coordinator/job/job_runner.h"
#include "coordinator/job/rank_layout.h"
#include "coordinator/service/job_service.h"
#include "coordinator/service/thrift_server.h"
#include "runtime/transport.h"

namespace shardq {

bool ParseHostPort(const std::string& text, HostPort* out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  const int p = std::stoi(port);
  if (p > 65535) return false;
  out->host = host;
  out->port = p;
  return true;
}

std::string ReadServiceToken(const std::string& token_file, std::string* error) {
  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) {
      *error = "--token-file " + token_file + ": cannot read it";
      return "";
    }
    std::getline(in, token);
  } else if (const char* env = std::getenv("SHARDQ_TOKEN")) {
    token = env;
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  return token;
}

namespace {

// Rank 0's whole life as a server, with `t` reaching the workers.
int ServeOnRankZero(Transport& t, const ServeOptions& o, const std::string& token) {
  HostPort thrift_at, http_at;
  if (!ParseHostPort(o.listen, &thrift_at)) {
    std::fprintf(stderr, "shardq serve: --listen %s: expected HOST:PORT\n", o.listen.c_str());
    return 1;
  }
  if (!ParseHostPort(o.http, &http_at)) {
    std::fprintf(stderr, "shardq serve: --http %s: expected HOST:PORT\n", o.http.c_str());
    return 1;
  }
  boost::asio::io_context io(1);
  ServiceOptions so;
  so.state_dir = o.state_dir;
  so.roots = o.roots;
  if (so.roots.empty()) so.roots.push_back(std::filesystem::current_path().string());
  so.ranks = t.size();
  so.threads_per_worker = o.threads;
  Result<std::unique_ptr<JobService>> service = JobService::Open(io, so);
  if (!service.ok()) {
    std::fprintf(stderr, "shardq serve: %s\n", service.status().message().c_str());
    return 1;
  }
  Result<std::unique_ptr<HttpServer>> http = HttpServer::Start(io, **service, http_at.host, http_at.port);
  if (!http.ok()) {
    std::fprintf(stderr, "shardq serve: %s\n", http.status().message().c_str());
    return 1;
  }
  Result<std::unique_ptr<ThriftServer>> thrift = ThriftServer::Start(**service, thrift_at.host, thrift_at.port, token);
  if (!thrift.ok()) {
    std::fprintf(stderr, "shardq serve: %s\n", thrift.status().message().c_str());
    return 1;
  }
  JobService& svc = **service;
  // SIGTERM/SIGINT end the service cleanly: the running job stops at a unit
  // boundary and is resumed first by the next start.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    std::fprintf(stderr, "shardq serve: %s: stopping after the units in hand\n", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    svc.Stop();
  });
  auto work = boost::asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  std::printf("shardq serve: thrift %s:%d, http %s:%d, %d worker rank(s), state %s\n", thrift_at.host.c_str(),
              (*thrift)->port(), http_at.host.c_str(), (*http)->port(), t.size() - 1, o.state_dir.c_str());
  std::fflush(stdout);

  while (std::optional<JobDispatch> job = svc.NextJob()) {
    RunOptions ro;
    ro.spec_path = job->spec_path;
    ro.threads = o.threads;
    ro.quiet = true;
    ro.cancel = job->cancel.get();
    const std::string id = job->id;
    ro.on_phase = [&svc, id](const std::string& phase) { svc.OnPhase(id, phase); };
    ro.on_unit = [&svc, id](const UnitProgress& u) { svc.OnUnit(id, u); };
    std::fprintf(stderr, "shardq serve: job %s: starting\n", id.c_str());
    Result<RunSummary> r = [&]() -> Result<RunSummary> {
      try {
        return RunCoordinator(t, ro);
      } catch (const std::exception& e) {  // the service must outlive one job's bug
        return Status::Internal(std::string("coordinator: ") + e.what());
      }
    }();
    std::fprintf(stderr, "shardq serve: job %s: %s\n", id.c_str(), r.ok() ? "done" : r.status().message().c_str());
    svc.JobFinished(id, r);
  }

  (*thrift)->Stop();
  // Every handler posted so far (the last job's state) runs before the loop ends.
  std::promise<void> drained;
  boost::asio::post(io, [&] {
    (*http)->Stop();
    signals.cancel();
    drained.set_value();
  });
  drained.get_future().wait();
  work.reset();
  io.stop();
  loop.join();
  return 0;
}

}  // namespace

int RunServeCommand(const ServeOptions& o) {
  std::string error;
  const std::string token = ReadServiceToken(o.token_file, &error);
  if (!error.empty()) {
    std::fprintf(stderr, "shardq serve: %s\n", error.c_str());
    return 1;
  }
  if (token.empty()) {
    std::fprintf(stderr, "shardq serve: no token: set SHARDQ_TOKEN or give --token-file (every call but serverInfo needs it)\n");
    return 1;
  }
  // The runner and the workers write through short-lived pipes and sockets; a
  // client gone mid-reply must not kill the service.
  std::signal(SIGPIPE, SIG_IGN);
  // Under mpirun ranks 1.. are persistent workers: one job after another
  // until rank 0 dismisses them when the service stops.
  return RunOnRanks("shardq serve", [&](Transport& t) {
    CoordinatorExit exit;
    exit.code = ServeOnRankZero(t, o, token);
    return exit;
  });
}

}  // namespace shardq
