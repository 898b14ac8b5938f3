// The service's HTTP side (Boost.Beast), on the same io_context as the job
// service: /healthz (the loop answers), /readyz (workers attached, store open,
// not shutting down), /metrics (Prometheus text) and /jobs/ID/report.html (a
// finished job's report). Read-only and unauthenticated, for probes and
// scrapers: bind it to loopback or a cluster-internal address. Each connection
// gets 10 s to send one request of at most 8 KiB of headers and no body, so
// a slow or garbage client costs one socket, never the loop.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/status.h"
#include "coordinator/service/job_service.h"

namespace shardq {

class HttpServer {
 public:
  // Binds HOST:PORT (0: any free port) now; serves once the io_context runs.
  static Result<std::unique_ptr<HttpServer>> Start(boost::asio::io_context& io, JobService& service,
                                                    const std::string& host, int port);
  int port() const { return port_; }
  // On the io_context's thread: stop accepting.
  void Stop();

 private:
  HttpServer(boost::asio::io_context& io, JobService& service);
  void Accept();

  boost::asio::io_context& io_;
  JobService& service_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
};

}  // namespace shardq
