#include "common/job_text.h"

#include <fstream>
#include <iterator>

namespace shardq {

Result<std::string> ReadJobText(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(field + ": " + path + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError(field + ": " + path + ": read failed");
  if (text.empty()) return Status::InvalidArgument(field + ": " + path + ": the file is empty");
  return text;
}

}  // namespace shardq
