#include "worker/block_activations.h"

namespace shardq {

BlockActivations::BlockActivations(LlamaForward* forward, int64_t first_layer)
    : forward_(forward), layer_(first_layer), dim_(forward->config().dim) {}

void BlockActivations::AddWindow(const float* hidden, int64_t n_tokens) {
  windows_.emplace_back(hidden, hidden + n_tokens * dim_);
}

uint64_t BlockActivations::bytes() const {
  uint64_t n = 0;
  for (const auto& w : windows_) n += w.size() * sizeof(float);
  return n;
}

void BlockActivations::Concatenate(std::vector<float>* out) const {
  out->clear();
  out->reserve(bytes() / sizeof(float));
  for (const auto& w : windows_) out->insert(out->end(), w.begin(), w.end());
}

void BlockActivations::AdvanceTo(int64_t target) {
  if (target <= layer_) return;
  forward_->SetLinearInputObserver(nullptr);
  for (auto& w : windows_) {
    forward_->Reset();  // each window is its own sequence, positions from 0
    forward_->RunLayers(layer_, target, static_cast<int64_t>(w.size()) / dim_, w.data());
  }
  layer_ = target;
}

void BlockActivations::RunBlockObserved(const LinearInputObserver& observer) {
  forward_->SetLinearInputObserver(observer);
  for (auto& w : windows_) {
    forward_->Reset();
    forward_->RunLayers(layer_, layer_ + 1, static_cast<int64_t>(w.size()) / dim_, w.data());
  }
  forward_->SetLinearInputObserver(nullptr);
  ++layer_;
}

void BlockActivations::RunHeadObserved(const LinearInputObserver& observer) {
  forward_->SetLinearInputObserver(observer);
  std::vector<float> logits;
  for (const auto& w : windows_) forward_->Head(w.data(), static_cast<int64_t>(w.size()) / dim_, 1, &logits);
  forward_->SetLinearInputObserver(nullptr);
}

}  // namespace shardq
