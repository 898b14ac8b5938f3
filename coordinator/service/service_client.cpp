#include "coordinator/service/service_client.h"

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "coordinator/service/serve.h"

namespace shardq {

using apache::thrift::TApplicationException;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSocket;
using apache::thrift::transport::TTransportException;

struct ServiceClient::Impl {
  std::shared_ptr<TSocket> socket;
  std::shared_ptr<TFramedTransport> transport;
  std::unique_ptr<rpc::ShardQClient> client;
  std::string token;
};

ServiceClient::~ServiceClient() {
  if (impl_ && impl_->transport) {
    try {
      impl_->transport->close();
    } catch (...) {
    }
  }
}

Result<std::unique_ptr<ServiceClient>> ServiceClient::Connect(const std::string& server, const std::string& token,
                                                              int timeout_ms) {
  HostPort at;
  if (!ParseHostPort(server, &at)) return Status::InvalidArgument("--server " + server + ": expected HOST:PORT");
  std::unique_ptr<ServiceClient> c(new ServiceClient());
  c->server_ = server;
  c->impl_ = std::make_unique<Impl>();
  c->impl_->token = token;
  c->impl_->socket = std::make_shared<TSocket>(at.host, at.port);
  c->impl_->socket->setConnTimeout(timeout_ms);
  c->impl_->socket->setSendTimeout(timeout_ms);
  c->impl_->socket->setRecvTimeout(timeout_ms);
  c->impl_->transport = std::make_shared<TFramedTransport>(c->impl_->socket);
  auto protocol = std::make_shared<TBinaryProtocol>(c->impl_->transport);
  c->impl_->client = std::make_unique<rpc::ShardQClient>(protocol);
  try {
    c->impl_->transport->open();
  } catch (const std::exception& e) {
    return Status::IOError("cannot reach the service at " + server + ": " + e.what());
  }
  return c;
}

Status ServiceClient::Call(const std::function<void(rpc::ShardQClient&, const std::string&)>& fn) {
  try {
    fn(*impl_->client, impl_->token);
    return Status::OK();
  } catch (const rpc::InvalidSpec& e) {
    return Status::InvalidArgument(e.field.empty() ? e.reason : e.field + ": " + e.reason);
  } catch (const rpc::NotFound& e) {
    return Status::NotFound("no job " + e.id + " on " + server_);
  } catch (const rpc::Unauthorized& e) {
    return Status::InvalidArgument("unauthorized: " + e.reason + " (set SHARDQ_TOKEN or --token-file)");
  } catch (const rpc::Busy& e) {
    return Status::Busy("the service is busy: " + e.reason);
  } catch (const rpc::Conflict& e) {
    return Status::Conflict(e.reason);
  } catch (const TApplicationException& e) {
    return Status::Internal(std::string("the service failed the call: ") + e.what());
  } catch (const TTransportException& e) {
    return Status::IOError("connection to " + server_ + ": " + e.what());
  } catch (const std::exception& e) {
    return Status::IOError("call to " + server_ + ": " + e.what());
  }
}

}  // namespace shardq
