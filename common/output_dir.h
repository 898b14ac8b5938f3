// Before any work: the directory an output goes to exists (created when
// missing, like `mkdir -p`) and this process may create files in it, so a job
// never computes for an hour and then fails at its first write.
#pragma once

#include <string>

#include "common/status.h"

namespace shardq {

// InvalidArgument / IOError naming `output_path` (and the directory) and the reason.
Status PrepareOutputDirectory(const std::string& output_path);

}  // namespace shardq
