// HF config.json -> LlamaConfig.
#include "common/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)shardq::ParseHfConfig(std::string(reinterpret_cast<const char*>(data), size), "config.json");
  return 0;
}
