#include "tests/unit/test_util.h"

#include <filesystem>
#include <random>

namespace shardq::testing {

std::string MakeTempDir(const std::string& tag) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             ("shardq-test-" + tag + "-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace shardq::testing
