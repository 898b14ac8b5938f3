// A job spec as the user writes it (YAML, or JSON which YAML reads too).
#include "common/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)shardq::ParseJobSpec(std::string(reinterpret_cast<const char*>(data), size), "job.yaml");
  return 0;
}
