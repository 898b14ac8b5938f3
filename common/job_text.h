// The texts a job reads besides the model (calibration, eval), read whole.
#pragma once

#include <string>

#include "common/status.h"

namespace shardq {

// Errors name `field` and the path: cannot open, read failed, empty.
Result<std::string> ReadJobText(const std::string& path, const std::string& field);

}  // namespace shardq
