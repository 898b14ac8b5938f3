#include "coordinator/job/quantize_stream.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "common/tensor_rows.h"
#include "worker/row_quantizer.h"

namespace shardq {
namespace {

// Output bytes per work item: small enough that two threads share even a small
// tensor and the last items of the run are short, large enough that taking an
// item costs nothing next to encoding it.
constexpr uint64_t kItemBytes = 512 << 10;
// The writer's staging buffer: every write but the last is this size, at an
// offset that is a multiple of it (a multiple of FileSystem's direct-I/O alignment).
constexpr size_t kStageBytes = 4 << 20;

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Item {
  size_t tensor = 0;
  int64_t row_begin = 0, row_end = 0;
};

// One in-flight item's output. Item k uses slot k % slots; the compute threads
// take item k only once item k - slots is written, so a slot is never shared.
struct Slot {
  std::unique_ptr<uint8_t[]> bytes;
  std::vector<QuantError> row_errors;
  Status status;
  bool done = false;
};

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};

// Appends to the file through a staging buffer, so writes are kStageBytes long
// and kStageBytes-aligned whatever the sizes of the pieces put.
class StagedWriter {
 public:
  explicit StagedWriter(AtomicFile& file)
      : file_(file),
        stage_(static_cast<uint8_t*>(std::aligned_alloc(WritableFile::kDirectAlignment, kStageBytes))) {}

  Status Put(const uint8_t* p, uint64_t n) {
    while (n > 0) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, kStageBytes - fill_));
      std::memcpy(stage_.get() + fill_, p, k);
      SHARDQ_RETURN_IF_ERROR(Advance(k));
      p += k;
      n -= k;
    }
    return Status::OK();
  }
  Status PutZeros(uint64_t n) {
    while (n > 0) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, kStageBytes - fill_));
      std::memset(stage_.get() + fill_, 0, k);
      SHARDQ_RETURN_IF_ERROR(Advance(k));
      n -= k;
    }
    return Status::OK();
  }
  Status Flush() {
    if (fill_ == 0) return Status::OK();
    const size_t n = fill_;
    fill_ = 0;
    if (n == kStageBytes) {
      // A whole, aligned stage: written around the page cache where the file
      // system allows (no copy into it, nothing left dirty for the fsync).
      SHARDQ_RETURN_IF_ERROR(file_.AppendAligned(stage_.get(), n));
    } else {
      SHARDQ_RETURN_IF_ERROR(file_.Append(stage_.get(), n));  // the file's tail
    }
    // Where the page cache was used, the disk starts on it now rather than all
    // at once at the final fsync.
    file_.StartWriteback();
    return Status::OK();
  }
  uint64_t position() const { return position_; }

 private:
  Status Advance(size_t k) {
    fill_ += k;
    position_ += k;
    return fill_ == kStageBytes ? Flush() : Status::OK();
  }

  AtomicFile& file_;
  std::unique_ptr<uint8_t, AlignedFree> stage_;
  size_t fill_ = 0;
  uint64_t position_ = 0;
};

class Stream {
 public:
  Stream(TensorSource& source, const std::vector<StreamTensor>& tensors, const GgufLayout& layout)
      : source_(source), tensors_(tensors), layout_(layout) {}

  ~Stream() { StopAndJoin(); }

  Result<StreamResult> Run(AtomicFile& file, const StreamOptions& options);

 private:
  void Plan();
  void ComputeLoop();
  Status ComputeItem(const Item& item, Slot& slot, std::vector<float>& scratch);
  void StopAndJoin();

  TensorSource& source_;
  const std::vector<StreamTensor>& tensors_;
  const GgufLayout& layout_;
  std::vector<Result<TensorRows>> rows_;  // per tensor: opened, or why not
  std::vector<Item> items_;
  std::vector<size_t> first_item_;        // per tensor, and one past the last
  std::vector<Slot> slots_;
  size_t max_item_bytes_ = 0;
  int64_t max_row_length_ = 0;

  std::mutex mu_;
  std::condition_variable can_take_;  // compute threads: an item may be taken
  std::condition_variable item_done_; // writer: an item finished
  size_t next_item_ = 0, written_ = 0;
  bool stop_ = false;
  double compute_wait_seconds_ = 0;  // guarded by mu_
  std::vector<std::thread> threads_;
};

void Stream::Plan() {
  first_item_.clear();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const StreamTensor& t = tensors_[i];
    rows_.push_back(TensorRows::Open(source_, *t.info));
    first_item_.push_back(items_.size());
    const int64_t rows = t.info->n_rows(), row_length = t.info->row_length();
    const size_t row_bytes = t.format->row_bytes(row_length);
    const int64_t per_item = std::max<int64_t>(1, static_cast<int64_t>(kItemBytes / std::max<size_t>(1, row_bytes)));
    for (int64_t r = 0; r < rows; r += per_item) items_.push_back({i, r, std::min(rows, r + per_item)});
    max_item_bytes_ = std::max(max_item_bytes_, row_bytes * static_cast<size_t>(std::min(rows, per_item)));
    max_row_length_ = std::max(max_row_length_, row_length);
  }
  first_item_.push_back(items_.size());
}

Status Stream::ComputeItem(const Item& item, Slot& slot, std::vector<float>& scratch) {
  const StreamTensor& t = tensors_[item.tensor];
  if (!rows_[item.tensor].ok()) return rows_[item.tensor].status();
  const TensorRows& rows = *rows_[item.tensor];
  slot.row_errors.resize(static_cast<size_t>(item.row_end - item.row_begin));
  SHARDQ_RETURN_IF_ERROR(QuantizeRowRange(rows, *t.format, item.row_begin, item.row_end, t.importance, scratch.data(),
                                          slot.bytes.get(), slot.row_errors.data()));
  if (rows.in_stored_order()) {
    // These rows are one stored byte range: its pages go now, not with the whole
    // tensor, so resident source pages stay near the items in flight.
    TensorInfo done = *t.info;
    done.offset += static_cast<uint64_t>(item.row_begin) * rows.stored_row_bytes();
    done.nbytes = static_cast<uint64_t>(item.row_end - item.row_begin) * rows.stored_row_bytes();
    source_.Release(done);
  }
  return Status::OK();
}

void Stream::ComputeLoop() {
  std::vector<float> scratch(static_cast<size_t>(max_row_length_));
  for (;;) {
    size_t k;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto ready = [&] { return stop_ || next_item_ >= items_.size() || next_item_ < written_ + slots_.size(); };
      if (!ready()) {
        const Clock::time_point wait_start = Clock::now();
        can_take_.wait(lock, ready);
        compute_wait_seconds_ += Since(wait_start);
      }
      if (stop_ || next_item_ >= items_.size()) return;
      k = next_item_++;
    }
    Slot& slot = slots_[k % slots_.size()];
    Status st = ComputeItem(items_[k], slot, scratch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      slot.status = std::move(st);
      slot.done = true;
    }
    item_done_.notify_all();
  }
}

void Stream::StopAndJoin() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  can_take_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

Result<StreamResult> Stream::Run(AtomicFile& file, const StreamOptions& options) {
  const Clock::time_point start = Clock::now();
  Plan();
  const int threads = std::max(1, options.threads);
  // Enough items in flight that no thread waits on another's item, and that the
  // compute threads keep going while the writer is blocked in a 4 MiB write
  // (a direct write returns when the device has the bytes): three stages of
  // output. The source pages of an item go as soon as it is encoded, so what
  // stays resident is these buffers, ~12 MiB.
  slots_.resize(std::max<size_t>(2 * threads + 2, 3 * kStageBytes / kItemBytes));
  for (Slot& s : slots_) s.bytes.reset(new uint8_t[std::max<size_t>(1, max_item_bytes_)]);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ComputeLoop(); });

  StreamResult result;
  result.errors.resize(tensors_.size());
  StagedWriter out(file);
  SHARDQ_RETURN_IF_ERROR(out.Put(layout_.header.data(), layout_.header.size()));
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (options.may_continue) SHARDQ_RETURN_IF_ERROR(options.may_continue(i));
    if (options.before_tensor) options.before_tensor(i, tensors_.size());
    SHARDQ_RETURN_IF_ERROR(out.PutZeros(layout_.data_offset + layout_.offsets[i] - out.position()));
    const size_t row_bytes = tensors_[i].format->row_bytes(tensors_[i].info->row_length());
    for (size_t k = first_item_[i]; k < first_item_[i + 1]; ++k) {
      Slot& slot = slots_[k % slots_.size()];
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (!slot.done) {
          const Clock::time_point wait_start = Clock::now();
          item_done_.wait(lock, [&] { return slot.done; });
          result.writer_wait_seconds += Since(wait_start);
        }
      }
      SHARDQ_RETURN_IF_ERROR(slot.status);
      const Item& item = items_[k];
      SHARDQ_RETURN_IF_ERROR(out.Put(slot.bytes.get(), row_bytes * static_cast<size_t>(item.row_end - item.row_begin)));
      for (const QuantError& e : slot.row_errors) result.errors[i].Merge(e);
      {
        std::lock_guard<std::mutex> lock(mu_);
        slot.done = false;
        written_ = k + 1;
      }
      can_take_.notify_all();
    }
    source_.Release(*tensors_[i].info);  // what the per-item releases left (permuted rows, shared pages)
  }
  SHARDQ_RETURN_IF_ERROR(out.PutZeros(layout_.file_bytes - out.position()));
  SHARDQ_RETURN_IF_ERROR(out.Flush());
  StopAndJoin();
  result.stream_seconds = Since(start);
  result.compute_wait_seconds = compute_wait_seconds_;
  const Clock::time_point sync_start = Clock::now();
  SHARDQ_RETURN_IF_ERROR(file.Commit());
  result.sync_seconds = Since(sync_start);
  return result;
}

}  // namespace

Result<StreamResult> StreamQuantize(TensorSource& source, const std::vector<StreamTensor>& tensors,
                                    const GgufLayout& layout, AtomicFile& file, const StreamOptions& options) {
  if (tensors.size() != layout.sizes.size()) {
    return Status::Internal(file.final_path() + ": " + std::to_string(tensors.size()) + " tensors for a layout of " +
                            std::to_string(layout.sizes.size()));
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const StreamTensor& t = tensors[i];
    if (!t.info || !t.format || t.format->row_bytes(t.info->row_length()) * t.info->n_rows() != layout.sizes[i])
      return Status::Internal(file.final_path() + ": tensor " + std::to_string(i) + " does not match its layout");
  }
  Stream stream(source, tensors, layout);
  return stream.Run(file, options);
}

}  // namespace shardq
