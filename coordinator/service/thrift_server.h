// The Thrift side of `shardq serve`: idl/shardq.thrift's ShardQ service over a
// framed transport and the binary protocol, one thread per connection (Thrift's
// TThreadedServer), every call handed to the JobService (which runs it on the
// io_context). Limits keep a bad client from hurting the others: frames over
// 1 MiB, strings over 1 MiB and lists over 10,000 elements are refused, a
// connection silent for 30 s is closed, and at most 64 connections are served
// at once (the 65th waits for a slot instead of starving the others).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "coordinator/service/job_service.h"

namespace apache::thrift::server {
class TThreadedServer;
}

namespace shardq {

class ThriftServer {
 public:
  // Binds HOST:PORT (port 0: any free port) before returning, so a bad address
  // is an error here, and serves on a thread of its own.
  static Result<std::unique_ptr<ThriftServer>> Start(JobService& service, const std::string& host, int port,
                                                      const std::string& token);
  ~ThriftServer();
  int port() const { return port_; }
  // Stops accepting, closes client connections, and returns when serving has ended.
  void Stop();

 private:
  ThriftServer() = default;
  std::shared_ptr<apache::thrift::server::TThreadedServer> server_;
  std::thread thread_;
  int port_ = 0;
};

// Whether `given` equals `expected`, in time independent of where they differ
// (both are hashed first, so not even their lengths leak).
bool TokensMatch(const std::string& given, const std::string& expected);

}  // namespace shardq
