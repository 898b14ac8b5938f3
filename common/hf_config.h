// HF config.json for the Llama family -> LlamaConfig.
#pragma once

#include <string>

#include "common/model.h"
#include "common/status.h"

namespace shardq {

// `label` names the file in errors ("models/x/config.json").
Result<LlamaConfig> ParseHfConfig(const std::string& json_text, const std::string& label);
// Reads and parses `path` (a config.json).
Result<LlamaConfig> LoadHfConfig(const std::string& path);

}  // namespace shardq
