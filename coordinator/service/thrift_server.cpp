#include "coordinator/service/thrift_server.h"

#include <cstdio>

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>

#include "common/sha256.h"
#include "coordinator/service/spec_convert.h"
#include "idl_gen/ShardQ.h"

namespace shardq {

namespace {

using apache::thrift::TApplicationException;
using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::server::TThreadedServer;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TServerSocket;
using apache::thrift::transport::TTransport;
using apache::thrift::transport::TTransportFactory;

constexpr int kMaxFrameBytes = 1 << 20;
constexpr int kMaxStringBytes = 1 << 20;
constexpr int kMaxListElements = 10000;
constexpr int kIdleTimeoutMs = 30000;
constexpr int kMaxConnections = 64;

// Framed, with our frame limit instead of the library's 16 MB default.
class BoundedFramedFactory : public TTransportFactory {
 public:
  std::shared_ptr<TTransport> getTransport(std::shared_ptr<TTransport> trans) override {
    auto framed = std::make_shared<TFramedTransport>(trans);
    framed->setMaxFrameSize(kMaxFrameBytes);
    return framed;
  }
};

// Listens once: Start binds (to report errors and the port), serve() would bind again.
class ListenOnceSocket : public TServerSocket {
 public:
  using TServerSocket::TServerSocket;
  void listen() override {
    if (listening_) return;
    TServerSocket::listen();
    listening_ = true;
  }

 private:
  bool listening_ = false;
};

[[noreturn]] void ThrowInternal(const Status& st) {
  throw TApplicationException(TApplicationException::INTERNAL_ERROR, st.ToString());
}

class Handler : public rpc::ShardQIf {
 public:
  Handler(JobService& service, std::string token) : service_(service), token_(std::move(token)) {}

  void submit(rpc::JobId& out, const std::string& token, const rpc::JobSpec& spec, const std::string& key,
              int32_t priority) override {
    Authorize(token);
    Result<std::string> r = service_.Submit(spec, key, priority);
    if (!r.ok()) {
      const Status& st = r.status();
      if (st.code() == Status::Code::kInvalidArgument) ThrowInvalid(st);
      if (st.code() == Status::Code::kConflict) {
        rpc::Conflict e;
        e.reason = st.message();
        throw e;
      }
      if (st.code() == Status::Code::kBusy) {
        rpc::Busy e;
        e.reason = st.message();
        throw e;
      }
      // A model that cannot be read or planned is the spec's fault too.
      if (st.code() == Status::Code::kNotFound || st.code() == Status::Code::kCorruption ||
          st.code() == Status::Code::kUnsupported || st.code() == Status::Code::kIOError) {
        rpc::InvalidSpec e;
        e.field = "model";
        e.reason = st.message();
        throw e;
      }
      ThrowInternal(st);
    }
    out = *r;
  }

  void estimate(rpc::Estimate& out, const std::string& token, const rpc::JobSpec& spec) override {
    Authorize(token);
    Result<rpc::Estimate> r = service_.EstimateJob(spec);
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kInvalidArgument) ThrowInvalid(r.status());
      rpc::InvalidSpec e;
      e.field = "model";
      e.reason = r.status().message();
      throw e;
    }
    out = *r;
  }

  void status(rpc::JobStatus& out, const std::string& token, const rpc::JobId& id) override {
    Authorize(token);
    out = Unwrap(service_.GetStatus(id), id);
  }
  void listJobs(rpc::JobList& out, const std::string& token, const rpc::ListFilter& filter,
                const rpc::Page& page) override {
    Authorize(token);
    out = Unwrap(service_.List(filter, page), "");
  }
  void cancel(rpc::JobStatus& out, const std::string& token, const rpc::JobId& id) override {
    Authorize(token);
    out = Unwrap(service_.Cancel(id), id);
  }
  void resume(rpc::JobStatus& out, const std::string& token, const rpc::JobId& id) override {
    Authorize(token);
    out = Unwrap(service_.Resume(id), id);
  }
  void wait(rpc::JobStatus& out, const std::string& token, const rpc::JobId& id, int64_t timeout_ms) override {
    Authorize(token);
    out = Unwrap(service_.Wait(id, timeout_ms), id);
  }
  void events(std::vector<rpc::Event>& out, const std::string& token, const rpc::JobId& id,
              int64_t since_seq) override {
    Authorize(token);
    out = Unwrap(service_.Events(id, since_seq), id);
  }
  void report(std::string& out, const std::string& token, const rpc::JobId& id) override {
    Authorize(token);
    out = Unwrap(service_.Report(id), id);
  }
  void serverInfo(rpc::ServerInfo& out) override { out = service_.Info(); }

 private:
  void Authorize(const std::string& token) const {
    if (!TokensMatch(token, token_)) {
      rpc::Unauthorized e;
      e.reason = "wrong or missing token";
      throw e;
    }
  }

  [[noreturn]] static void ThrowInvalid(const Status& st) {
    const SpecError split = SplitSpecError(st.message(), "spec");
    rpc::InvalidSpec e;
    e.field = split.field;
    e.reason = split.reason;
    throw e;
  }

  template <typename T>
  static T Unwrap(Result<T> r, const std::string& id) {
    if (r.ok()) return std::move(*r);
    if (r.status().code() == Status::Code::kNotFound) {
      rpc::NotFound e;
      e.id = id;
      throw e;
    }
    if (r.status().code() == Status::Code::kConflict) {
      rpc::Conflict e;
      e.reason = r.status().message();
      throw e;
    }
    ThrowInternal(r.status());
  }

  JobService& service_;
  const std::string token_;
};

}  // namespace

bool TokensMatch(const std::string& given, const std::string& expected) {
  const std::string a = Sha256Hex(given.data(), given.size());
  const std::string b = Sha256Hex(expected.data(), expected.size());
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0 && a.size() == b.size();
}

Result<std::unique_ptr<ThriftServer>> ThriftServer::Start(JobService& service, const std::string& host, int port,
                                                          const std::string& token) {
  auto socket = std::make_shared<ListenOnceSocket>(host, port);
  socket->setRecvTimeout(kIdleTimeoutMs);
  socket->setSendTimeout(kIdleTimeoutMs);
  try {
    socket->listen();
  } catch (const std::exception& e) {
    return Status::IOError("--listen " + host + ":" + std::to_string(port) + ": " + e.what());
  }
  std::unique_ptr<ThriftServer> s(new ThriftServer());
  s->port_ = socket->getPort();
  auto processor = std::make_shared<rpc::ShardQProcessor>(std::make_shared<Handler>(service, token));
  auto protocol = std::make_shared<TBinaryProtocolFactory>(kMaxStringBytes, kMaxListElements, /*strict_read=*/false,
                                                           /*strict_write=*/true);
  s->server_ = std::make_shared<TThreadedServer>(processor, socket, std::make_shared<BoundedFramedFactory>(), protocol);
  s->server_->setConcurrentClientLimit(kMaxConnections);
  s->thread_ = std::thread([srv = s->server_] {
    try {
      srv->serve();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shardq serve: thrift server: %s\n", e.what());
    }
  });
  return s;
}

void ThriftServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

ThriftServer::~ThriftServer() { Stop(); }

}  // namespace shardq
