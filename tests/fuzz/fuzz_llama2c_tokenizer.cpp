// A llama2.c tokenizer (tok512.bin). The model's vocab_size comes from the
// checkpoint, not the tokenizer file: here it is the input's first two bytes.
#include "common/llama2c_reader.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int64_t vocab_size = data[0] | (data[1] << 8);
  (void)shardq::LoadLlama2cTokenizer(shardq::fuzz::InputAsFile(data + 2, size - 2), vocab_size);
  return 0;
}
