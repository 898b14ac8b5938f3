// The C++ client of the job service (`shardq submit`, `status`, ...): a framed
// binary-protocol connection to `shardq serve`, and Thrift's exceptions turned
// into one readable line each.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "idl_gen/ShardQ.h"

namespace shardq {

class ServiceClient {
 public:
  // server: HOST:PORT. timeout_ms bounds connect, send and receive.
  static Result<std::unique_ptr<ServiceClient>> Connect(const std::string& server, const std::string& token,
                                                        int timeout_ms);
  ~ServiceClient();

  // Runs one call (`fn` gets the generated client and the token). Every Thrift
  // exception becomes a Status: InvalidSpec -> InvalidArgument "FIELD: REASON",
  // NotFound, Unauthorized, Busy, Conflict, transport errors -> IOError.
  Status Call(const std::function<void(rpc::ShardQClient&, const std::string& token)>& fn);

 private:
  ServiceClient() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string server_;
};

}  // namespace shardq
