// A llama2.c checkpoint (.bin): the 7-field header against the file's size.
#include "common/llama2c_reader.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto ck = shardq::OpenLlama2c(shardq::fuzz::InputAsFile(data, size));
  if (!ck.ok()) return 0;
  for (const auto& t : ck->source->tensors()) (void)ck->source->RawBytes(t);
  return 0;
}
