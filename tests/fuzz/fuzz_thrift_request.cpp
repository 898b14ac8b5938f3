// Bytes as they arrive on `shardq serve`'s Thrift port: framed transport with
// the server's frame limit, binary protocol with its string and list limits,
// the generated ShardQ processor. The handler checks a property on every
// struct that decodes: a submitted spec that ParseJobSpec accepts must read
// back as the same job after the server's rewrite (JobSpecToJson) and after the
// client's (JobSpecToThrift), or the fuzzer aborts.
#include <cstdlib>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include "common/job_spec.h"
#include "coordinator/service/spec_convert.h"
#include "idl_gen/ShardQ.h"

namespace {

using namespace shardq;

void CheckSpec(const rpc::JobSpec& in) {
  Result<JobSpec> spec = ParseJobSpec(ThriftSpecToJson(in), "spec");
  if (!spec.ok()) return;
  Result<JobSpec> server = ParseJobSpec(JobSpecToJson(*spec), "spec");
  Result<JobSpec> client = ParseJobSpec(ThriftSpecToJson(JobSpecToThrift(*spec)), "spec");
  if (!server.ok() || server->CanonicalJson() != spec->CanonicalJson()) std::abort();
  if (!client.ok() || client->CanonicalJson() != spec->CanonicalJson()) std::abort();
}

class Handler : public rpc::ShardQIf {
 public:
  void submit(rpc::JobId& out, const std::string&, const rpc::JobSpec& spec, const std::string&, int32_t) override {
    CheckSpec(spec);
    out = "job";
  }
  void estimate(rpc::Estimate&, const std::string&, const rpc::JobSpec& spec) override { CheckSpec(spec); }
  void status(rpc::JobStatus&, const std::string&, const rpc::JobId&) override {}
  void listJobs(rpc::JobList&, const std::string&, const rpc::ListFilter&, const rpc::Page&) override {}
  void cancel(rpc::JobStatus&, const std::string&, const rpc::JobId&) override {}
  void resume(rpc::JobStatus&, const std::string&, const rpc::JobId&) override {}
  void wait(rpc::JobStatus&, const std::string&, const rpc::JobId&, int64_t) override {}
  void events(std::vector<rpc::Event>&, const std::string&, const rpc::JobId&, int64_t) override {}
  void report(std::string&, const std::string&, const rpc::JobId&) override {}
  void serverInfo(rpc::ServerInfo&) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace apache::thrift;
  auto in_buf = std::make_shared<transport::TMemoryBuffer>(const_cast<uint8_t*>(data), static_cast<uint32_t>(size));
  auto framed = std::make_shared<transport::TFramedTransport>(in_buf);
  framed->setMaxFrameSize(1 << 20);  // as coordinator/service/thrift_server.cpp
  auto in = std::make_shared<protocol::TBinaryProtocol>(framed, 1 << 20, 10000, false, true);
  auto out_buf = std::make_shared<transport::TMemoryBuffer>();
  auto out = std::make_shared<protocol::TBinaryProtocol>(out_buf);
  rpc::ShardQProcessor processor(std::make_shared<Handler>());
  try {
    for (int calls = 0; calls < 16 && processor.process(in, out, nullptr); ++calls) out_buf->resetBuffer();
  } catch (const TException&) {
    // Malformed input ends the connection: what the server does too.
  }
  return 0;
}
