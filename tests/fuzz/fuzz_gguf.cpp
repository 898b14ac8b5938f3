// GGUF header, metadata and tensor table (GgufFile::Open), then what the model
// opener reads from the metadata: the vocabulary and the llama hyper-parameters.
#include "common/gguf_config.h"
#include "common/gguf_reader.h"
#include "common/gguf_vocab.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = shardq::GgufFile::Open(shardq::fuzz::InputAsFile(data, size));
  if (!file.ok()) return 0;
  const shardq::GgufMetadata& md = (*file)->metadata();
  (void)shardq::VocabFromGgufMetadata(md, "fuzz.gguf");
  (void)shardq::ConfigFromGgufMetadata(md, "fuzz.gguf");
  for (const auto& t : (*file)->tensors()) (void)(*file)->RawBytes(t);
  return 0;
}
