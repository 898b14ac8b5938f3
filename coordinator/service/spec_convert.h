// The job spec between its three forms: the Thrift struct (idl/shardq.thrift),
// the YAML/JSON text users write and the runner reads, and JobSpec. The server
// validates a submitted struct by turning it into spec text and parsing that
// with ParseJobSpec, so a field means the same and fails with the same message
// whether it came from a YAML file or over the wire.
#pragma once

#include <string>

#include "common/job_spec.h"
#include "common/status.h"
#include "idl_gen/shardq_types.h"

namespace shardq {

// The struct's fields as spec JSON (no validation: ParseJobSpec does that).
std::string ThriftSpecToJson(const rpc::JobSpec& spec);
// Every field of `spec` as spec JSON, paths included, readable by ParseJobSpec.
std::string JobSpecToJson(const JobSpec& spec);
// For clients: a parsed spec as the struct (state_dir is the server's, so dropped).
rpc::JobSpec JobSpecToThrift(const JobSpec& spec);

// ParseJobSpec's "LABEL: FIELD: REASON" split into FIELD and REASON.
struct SpecError {
  std::string field, reason;
};
SpecError SplitSpecError(const std::string& message, const std::string& label);

}  // namespace shardq
