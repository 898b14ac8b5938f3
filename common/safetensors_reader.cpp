#include "common/safetensors_reader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

namespace shardq {
namespace {

using json = nlohmann::json;

struct Dtype {
  const char* name;
  GgmlType type;
  uint64_t bytes;
};
constexpr Dtype kDtypes[] = {
    {"F32", GgmlType::F32, 4}, {"F16", GgmlType::F16, 2}, {"BF16", GgmlType::BF16, 2}};

// Parses JSON, reporting a key that appears twice in the top-level object
// (nlohmann would silently keep the last one, hiding a corrupt header).
Result<json> ParseJsonNoDuplicates(const std::string& label, const char* begin, const char* end) {
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  json j = json::parse(begin, end, cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption(label + ": header is not valid JSON");
  if (!duplicate.empty())
    return Status::Corruption(label + ": duplicate tensor name '" + duplicate + "'");
  if (!j.is_object()) return Status::Corruption(label + ": header JSON is not an object");
  return j;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Result<TensorInfo> ParseEntry(const std::string& file, const std::string& name, const json& v,
                              uint64_t data_start, uint64_t data_size) {
  const std::string where = file + ": tensor '" + name + "': ";
  if (!v.is_object()) return Status::Corruption(where + "entry is not an object");
  auto dt = v.find("dtype");
  auto sh = v.find("shape");
  auto off = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string()) return Status::Corruption(where + "missing dtype");
  if (sh == v.end() || !sh->is_array()) return Status::Corruption(where + "missing shape");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    return Status::Corruption(where + "data_offsets must be two non-negative integers");

  const std::string dtype = dt->get<std::string>();
  const Dtype* d = nullptr;
  for (const auto& k : kDtypes)
    if (dtype == k.name) d = &k;
  if (!d) return Status::Unsupported(where + "unknown or unsupported dtype '" + dtype + "'");

  TensorInfo t;
  t.name = t.source_name = name;
  t.type = d->type;
  t.file = file;
  uint64_t n = 1;
  bool overflow = false;
  for (const auto& e : *sh) {
    if (!e.is_number_unsigned()) return Status::Corruption(where + "shape entries must be non-negative integers");
    const uint64_t dim = e.get<uint64_t>();
    if (dim > (1ull << 40) || (dim && n > (~0ull >> 4) / dim)) overflow = true;
    n *= dim;
    t.shape.push_back(static_cast<int64_t>(dim));
  }
  if (overflow) return Status::Corruption(where + "shape " + ShapeString(t.shape) + " is too large");
  const uint64_t begin = (*off)[0].get<uint64_t>();
  const uint64_t end = (*off)[1].get<uint64_t>();
  if (end < begin)
    return Status::Corruption(where + "data_offsets [" + std::to_string(begin) + ", " +
                              std::to_string(end) + "] end before they begin");
  if (n * d->bytes != end - begin)
    return Status::Corruption(where + "shape " + ShapeString(t.shape) + " of " + dtype + " needs " +
                              std::to_string(n * d->bytes) + " bytes, data_offsets give " +
                              std::to_string(end - begin));
  if (end > data_size)
    return Status::Corruption(where + "data_offsets [" + std::to_string(begin) + ", " +
                              std::to_string(end) + "] run past the end of the data (" +
                              std::to_string(data_size) + " bytes)");
  t.offset = data_start + begin;
  t.nbytes = end - begin;
  return t;
}

}  // namespace

Result<std::vector<TensorInfo>> ParseSafetensorsHeader(const MappedFile& file) {
  const std::string& label = file.path();
  if (file.size() < 8)
    return Status::Corruption(label + ": file is " + std::to_string(file.size()) +
                              " bytes, too short for the 8-byte header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);  // little-endian host (x86-64)
  if (header_len > file.size() - 8)
    return Status::Corruption(label + ": header length " + std::to_string(header_len) +
                              " runs past the end of the file (" + std::to_string(file.size()) +
                              " bytes)");
  // The format's own reader refuses headers over 100 MB; the JSON parser
  // would turn such a header into many times its size in nodes.
  constexpr uint64_t kMaxHeaderLen = 100'000'000;
  if (header_len > kMaxHeaderLen)
    return Status::Corruption(label + ": header length " + std::to_string(header_len) + " is more than " +
                              std::to_string(kMaxHeaderLen) + " bytes");
  const char* h = reinterpret_cast<const char*>(file.data()) + 8;
  SHARDQ_ASSIGN_OR_RETURN(json header, ParseJsonNoDuplicates(label, h, h + header_len));

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file.size() - data_start;
  std::vector<TensorInfo> out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    SHARDQ_ASSIGN_OR_RETURN(TensorInfo t, ParseEntry(label, it.key(), it.value(), data_start, data_size));
    out.push_back(std::move(t));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TensorInfo& a, const TensorInfo& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < out.size(); ++i) {
    const TensorInfo& a = out[i - 1];
    const TensorInfo& b = out[i];
    if (a.offset + a.nbytes > b.offset && a.nbytes > 0 && b.nbytes > 0)
      return Status::Corruption(label + ": tensor '" + b.name + "' overlaps tensor '" + a.name +
                                "' (bytes " + std::to_string(b.offset) + " < " +
                                std::to_string(a.offset + a.nbytes) + ")");
  }
  return out;
}

Result<std::unique_ptr<SafetensorsSource>> SafetensorsSource::Open(const std::string& path) {
  auto src = std::unique_ptr<SafetensorsSource>(new SafetensorsSource());
  const bool is_index = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (!is_index) {
    SHARDQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
    SHARDQ_ASSIGN_OR_RETURN(src->tensors_, ParseSafetensorsHeader(*file));
    src->files_[path] = std::move(file);
    return src;
  }

  SHARDQ_ASSIGN_OR_RETURN(auto index_file, MappedFile::Open(path));
  const char* b = reinterpret_cast<const char*>(index_file->data());
  json index = json::parse(b, b + index_file->size(), nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object())
    return Status::Corruption(path + ": not a valid JSON object");
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object())
    return Status::Corruption(path + ": missing object field 'weight_map'");

  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::map<std::string, std::string> shard_of;  // tensor -> shard path
  std::vector<std::string> shards;              // first-seen order
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string())
      return Status::Corruption(path + ": weight_map entry for tensor '" + it.key() + "' is not a file name");
    const std::string rel = it.value().get<std::string>();
    if (rel.empty() || rel.find('/') != std::string::npos || rel.find("..") != std::string::npos)
      return Status::InvalidArgument(path + ": tensor '" + it.key() + "': shard name '" + rel +
                                     "' must be a plain file name beside the index");
    const std::string shard = (dir / rel).string();
    shard_of[it.key()] = shard;
    if (std::find(shards.begin(), shards.end(), shard) == shards.end()) shards.push_back(shard);
  }
  std::set<std::string> seen;
  for (const std::string& shard : shards) {
    SHARDQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(shard));
    SHARDQ_ASSIGN_OR_RETURN(std::vector<TensorInfo> ts, ParseSafetensorsHeader(*file));
    for (TensorInfo& t : ts) {
      auto it = shard_of.find(t.name);
      if (it == shard_of.end())
        return Status::Corruption(shard + ": tensor '" + t.name + "' is not listed in " + path);
      if (it->second != shard)
        return Status::Corruption(shard + ": tensor '" + t.name + "' is listed in " + path +
                                  " as stored in " + it->second);
      if (!seen.insert(t.name).second)
        return Status::Corruption(shard + ": duplicate tensor name '" + t.name + "'");
      src->tensors_.push_back(std::move(t));
    }
    src->files_[shard] = std::move(file);
  }
  for (const auto& [name, shard] : shard_of)
    if (!seen.count(name))
      return Status::Corruption(path + ": tensor '" + name + "' is not in its shard " + shard);
  return src;
}

Result<ByteSpan> SafetensorsSource::RawBytes(const TensorInfo& t) {
  auto it = files_.find(t.file);
  if (it == files_.end())
    return Status::NotFound(t.file + ": tensor '" + t.name + "': file is not part of this model");
  const MappedFile& f = *it->second;
  if (!f.Contains(t.offset, t.nbytes))
    return Status::Corruption(t.file + ": tensor '" + t.name + "': bytes past the end of the file");
  return ByteSpan{f.data() + t.offset, t.nbytes};
}

void SafetensorsSource::Release(const TensorInfo& t) {
  auto it = files_.find(t.file);
  if (it != files_.end()) it->second->Release(t.offset, t.nbytes);
}

}  // namespace shardq
