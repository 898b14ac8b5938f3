// The hidden states entering one transformer block, for every calibration
// window, advanced block by block (layer-major). Stages that need one block's
// products at a time (GPTQ's Hessians, AWQ's block inputs) gather them from
// here, so a rank holds one block's products, not all of its blocks' at once:
// the cost is samples x seq_len x dim floats of hidden states.
#pragma once

#include <cstdint>
#include <vector>

#include "worker/llama_forward.h"

namespace shardq {

class BlockActivations {
 public:
  // `forward` holds the weights of blocks first_layer.. (and the head, if the
  // head is observed); it is reset for every window.
  BlockActivations(LlamaForward* forward, int64_t first_layer);

  // One window's hidden states entering block first_layer (n_tokens x dim).
  void AddWindow(const float* hidden, int64_t n_tokens);

  int64_t layer() const { return layer_; }  // the block the states now enter
  size_t window_count() const { return windows_.size(); }
  const std::vector<float>& window(size_t i) const { return windows_[i]; }
  const std::vector<std::vector<float>>& windows() const { return windows_; }
  uint64_t bytes() const;
  // Every window's states end to end (the layout AWQ takes).
  void Concatenate(std::vector<float>* out) const;

  // Runs blocks [layer(), target) over every window, observing nothing.
  void AdvanceTo(int64_t target);
  // Runs block layer() over every window with `observer` seeing the inputs of
  // its linears, then stands before the next block.
  void RunBlockObserved(const LinearInputObserver& observer);
  // The head's input (final norm applied) over every window, to `observer` as
  // "output.weight". The states stay where they are.
  void RunHeadObserved(const LinearInputObserver& observer);

 private:
  LlamaForward* forward_;
  int64_t layer_;
  int64_t dim_;
  std::vector<std::vector<float>> windows_;
};

}  // namespace shardq
