// The streaming core of `shardq quantize` (an rtn or imatrix recipe): every
// tensor's rows are read from the mapping, encoded and measured in one pass
// (worker/row_quantizer.h), and written, with the three overlapping across
// tensors so every core stays busy for the whole run:
//
//   compute threads (--threads of them) take work items in file order, each a
//   run of one tensor's rows of about kItemBytes of output, and encode them
//   into buffers of their own; they run at most a few items ahead of the writer.
//   the calling thread writes finished items in file order through a 4 MiB
//   staging buffer, so the file gets large writes at 4 MiB-aligned offsets,
//   which go around the page cache where the file system allows (O_DIRECT: in
//   a VM the copy into the page cache cost more than encoding Q8_0), and it
//   releases each tensor's source pages once every row of it is written.
//   The final fsync is timed on its own.
//
// The bytes are the GgufWriter's (the same layout, padding and tensor order)
// and the metrics QuantizeTensor's (per-row errors merged in row order), so the
// output does not depend on the thread count or on this path being taken.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/atomic_file.h"
#include "common/gguf_layout.h"
#include "common/status.h"
#include "common/tensor_source.h"
#include "kernels/block_format.h"
#include "worker/quant_error.h"

namespace shardq {

struct StreamTensor {
  const TensorInfo* info = nullptr;
  const BlockFormat* format = nullptr;   // the type it is written as
  const float* importance = nullptr;     // row_length weights, or null
};

struct StreamOptions {
  int threads = 1;  // compute threads (the writer is the calling thread besides them)
  // Called on the writing thread before a tensor's first byte is written: (index, total).
  std::function<void(size_t, size_t)> before_tensor;
  // Checked before each tensor, on the writing thread: a non-OK status stops the
  // stream with that status (a stop signal).
  std::function<Status(size_t)> may_continue;
};

struct StreamResult {
  std::vector<QuantError> errors;  // per tensor
  double stream_seconds = 0;       // read + encode + write, up to the fsync
  double sync_seconds = 0;         // fsync, rename and the directory's fsync
  // Where the pipeline stalled (summed over threads): compute threads waiting
  // for the writer to free a slot, and the writer waiting for the next item.
  // Compute threads that never wait keep their cores busy; what a loaded
  // machine takes from them shows in neither.
  double compute_wait_seconds = 0;
  double writer_wait_seconds = 0;
};

// Writes layout.header then every tensor (tensors[i] is declaration i of the
// layout) to `file` and commits it. On any error nothing is committed; the
// error names the file and the tensor (the first in file order that failed).
Result<StreamResult> StreamQuantize(TensorSource& source, const std::vector<StreamTensor>& tensors,
                                    const GgufLayout& layout, AtomicFile& file, const StreamOptions& options);

}  // namespace shardq
