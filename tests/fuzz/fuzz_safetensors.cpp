// One safetensors file's header: JSON, dtypes, shapes against offsets, overlaps.
#include "common/mapped_file.h"
#include "common/safetensors_reader.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = shardq::MappedFile::Open(shardq::fuzz::InputAsFile(data, size));
  if (!file.ok()) return 0;
  (void)shardq::ParseSafetensorsHeader(**file);
  return 0;
}
