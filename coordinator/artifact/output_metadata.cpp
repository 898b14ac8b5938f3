#include "coordinator/artifact/output_metadata.h"

#include <cstdio>

#include "common/gguf_config.h"
#include "common/gguf_vocab.h"

namespace shardq {

Result<GgufMetadata> BuildOutputMetadata(const Model& model, int32_t file_type) {
  GgufMetadata md;
  if (model.format == ModelFormat::kGguf) {
    md = model.gguf_metadata;
    // The data layout is ours now: alignment is the writer's default unless the source asked.
  } else {
    ConfigToGgufMetadata(model.config, &md);
    if (model.vocab) {
      VocabToGgufMetadata(*model.vocab, &md);
    } else {
      std::fprintf(stderr, "shardq: warning: %s has no tokenizer; the GGUF will carry none\n",
                   model.path.c_str());
    }
  }
  md.Set("general.quantization_version", GgufValue::U32(kGgmlQuantizationVersion));
  md.Set("general.file_type", GgufValue::U32(static_cast<uint32_t>(file_type)));
  return md;
}

}  // namespace shardq
