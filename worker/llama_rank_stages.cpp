#include "worker/llama_rank_stages.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "common/hf_tokenizer_json.h"
#include "common/job_text.h"
#include "common/quant_plan.h"
#include "common/thread_pool.h"
#include "common/trace.h"
#include "runtime/block_input_product.h"
#include "runtime/unit_stats_product.h"
#include "worker/awq_unit.h"
#include "worker/block_activations.h"
#include "worker/calibration.h"
#include "worker/gptq_tensor.h"
#include "worker/calibration_stats.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"
#include "worker/unit_compressor.h"

namespace shardq {
namespace {

class LlamaRankStages : public RankStages {
 public:
  LlamaRankStages(const RankJob& job, Model& model, std::vector<TensorChoice> choices)
      : job_(job), a_(*job.assignment), model_(model), choices_(std::move(choices)), pool_(a_.threads) {
    for (size_t i = 0; i < job_.tensors->size(); ++i) index_of_[(*job_.tensors)[i].name] = i;
  }

  Result<int64_t> BeginCalibration() override {
    const CalibrationOptions& c = *a_.recipe.calibration;
    const UnitPlan& plan = *job_.plan;
    const RankRange* range = nullptr;
    for (const RankRange& r : a_.ranges)
      if (r.rank == job_.rank) range = &r;
    if (!range) return Status::Internal("calibration: rank " + std::to_string(job_.rank) + " is not in the pipeline");
    for (int64_t index : job_.units)
      if (!stored_units_.count(index))  // a unit handed its stored statistics gathers none
        for (const std::string& name : plan.units[index].tensors) wanted_.insert(name);

    SHARDQ_ASSIGN_OR_RETURN(std::string text, ReadJobText(c.text, "calibration.text"));
    SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(a_.model_path));
    SHARDQ_ASSIGN_OR_RETURN(Tokenizer tokenizer, TokenizerForModel(model));
    SHARDQ_ASSIGN_OR_RETURN(windows_, CalibrationWindows(tokenizer, text, c.samples, c.seq_len, c.text));
    const int64_t n_units = static_cast<int64_t>(plan.units.size());
    const int64_t n_layers = model.config.n_layers;
    dim_ = model.config.dim;
    if (n_units != n_layers + 2)
      return Status::Unsupported(a_.model_path + ": calibration needs the embeddings, every block and the head as units");
    layer_begin_ = std::max<int64_t>(range->begin, 1) - 1;
    layer_end_ = std::min<int64_t>(range->end, n_layers + 1) - 1;
    first_ = range->begin == 0;
    if (job_.calib_first_layer >= 0) {
      // A resumed stage starts from stored states entering this block: the
      // blocks before it (and the embeddings) are neither loaded nor run.
      if (job_.calib_first_layer < layer_begin_ || job_.calib_first_layer > layer_end_)
        return Status::Internal("calibration: stored inputs of block " + std::to_string(job_.calib_first_layer) +
                                " lie outside this rank's blocks [" + std::to_string(layer_begin_) + ", " +
                                std::to_string(layer_end_) + "]");
      layer_begin_ = job_.calib_first_layer;
      first_ = false;
    }
    last_ = range->end == n_units;
    // This stage's weights only: a rank never decodes another rank's blocks.
    LoadWeightsOptions lo;
    lo.layer_begin = layer_begin_;
    lo.layer_end = layer_end_;
    lo.embeddings = first_;
    lo.head = last_;
    SHARDQ_ASSIGN_OR_RETURN(weights_, LlamaWeights::Load(std::move(model), lo));
    ForwardOptions fo;
    fo.n_threads = a_.threads;
    fo.max_context = c.seq_len;
    fo.thread_independent = true;  // statistics independent of the rank's thread count (see ForwardOptions)
    forward_ = std::make_unique<LlamaForward>(*weights_, fo);
    if (a_.recipe.NeedsBlockActivations()) {
      // Products are gathered per block when its unit is compressed; here only
      // the hidden states entering this rank's first block are kept.
      acts_ = std::make_unique<BlockActivations>(forward_.get(), layer_begin_);
    } else {
      forward_->SetLinearInputObserver(StatsObserver(&stats_, c.hessian, &wanted_));
    }
    SHARDQ_TRACE(job_.rank, "calibration: weights of layers [%lld, %lld) loaded, %zu windows", (long long)layer_begin_,
                 (long long)layer_end_, windows_.size());
    return static_cast<int64_t>(windows_.size());
  }

  Status EmbedWindow(int64_t window, std::vector<float>* hidden) override {
    if (!first_) return Status::Internal("calibration: only the first pipeline stage embeds");
    forward_->Reset();
    return forward_->Embed(windows_.at(window), hidden);
  }

  Status ForwardWindow(int64_t window, std::vector<float>* hidden) override {
    const int64_t n = static_cast<int64_t>(windows_.at(window).size());
    if (hidden->size() != static_cast<size_t>(n * dim_))
      return Status::Internal("calibration: window " + std::to_string(window) + " has " +
                              std::to_string(hidden->size()) + " hidden values, expected " + std::to_string(n * dim_));
    forward_->Reset();
    if (acts_) acts_->AddWindow(hidden->data(), n);
    if (layer_end_ > layer_begin_) forward_->RunLayers(layer_begin_, layer_end_, n, hidden->data());
    // The head runs only for its observer (output.weight's statistics); in block
    // mode that input is gathered when the head unit is compressed.
    if (last_ && !acts_) forward_->Head(hidden->data(), n, 1, &logits_);
    return Status::OK();
  }

  Status EndCalibration() override {
    if (acts_) {
      forward_->SetLinearInputObserver(nullptr);
      SHARDQ_TRACE(job_.rank, "calibration: %.1f MB of block inputs kept", acts_->bytes() / 1e6);
      return Status::OK();  // the blocks run again, one per unit, as they are compressed
    }
    // The statistics stay; the forward pass's weights and caches go before compressing.
    forward_.reset();
    weights_.reset();
    return Status::OK();
  }

  Status UseStoredStats(int64_t index, const std::vector<uint8_t>& bytes) override {
    if (acts_ || a_.recipe.NeedsBlockActivations())
      return Status::Unsupported("block-mode recipes gather statistics per unit; none are stored");
    const Unit& unit = job_.plan->units.at(index);
    SHARDQ_ASSIGN_OR_RETURN(CalibrationStats stored, CalibrationStats::Decode(bytes.data(), bytes.size(), "statistics"));
    const std::set<std::string> names(unit.tensors.begin(), unit.tensors.end());
    for (const auto& [name, entry] : stored.entries()) {
      if (!names.count(name))
        return Status::Corruption("statistics: tensor '" + name + "' is not in unit " + unit.name);
      stats_.Entry(name, entry.n_channels) = entry;
    }
    stored_units_.insert(index);
    return Status::OK();
  }

  Result<std::vector<std::pair<int64_t, std::vector<uint8_t>>>> TakeCalibrationProducts() override {
    std::vector<std::pair<int64_t, std::vector<uint8_t>>> out;
    if (acts_ || !job_.keep_products) return out;  // block mode: per unit, in CompressUnit
    for (int64_t index : job_.units) {
      if (stored_units_.count(index)) continue;  // rank 0 has them already
      CalibrationStats mine;
      for (const std::string& name : job_.plan->units[index].tensors)
        if (const ChannelStats* e = stats_.Find(name)) mine.Entry(name, e->n_channels) = *e;
      UnitStatsProduct p;
      p.unit = index;
      p.inputs_fingerprint = a_.inputs_fingerprint;
      p.stats = mine.Encode();
      out.emplace_back(index, EncodeUnitStatsProduct(p));
    }
    return out;
  }

  Result<UnitOutput> CompressUnit(int64_t index) override {
    if (acts_) return CompressUnitBlockwise(index);
    const Unit& unit = job_.plan->units[index];
    UnitCompressInput in;
    for (const std::string& name : unit.tensors) {
      const size_t i = index_of_.at(name);  // the plan was made from these same tensors
      in.tensors.push_back(&(*job_.tensors)[i]);
      in.choices.push_back(choices_[i]);
    }
    in.stats = a_.recipe.UsesImportance() ? &stats_ : nullptr;
    UnitOutput out;
    SHARDQ_ASSIGN_OR_RETURN(out.blobs, ::shardq::CompressUnit(in, *model_.source, &pool_, &out.source_fingerprints, &out.weighted));
    return out;
  }

 private:
  // GPTQ: this unit's block runs over every window's hidden states, its linears'
  // input statistics (with Hessians) are gathered, each linear is quantized
  // with them, and they are released: one block's products at a time.
  Result<UnitOutput> CompressUnitBlockwise(int64_t index) {
    const Unit& unit = job_.plan->units[index];
    const int64_t n_layers = static_cast<int64_t>(job_.plan->units.size()) - 2;
    std::set<std::string> names(unit.tensors.begin(), unit.tensors.end());
    CalibrationStats products;
    UnitOutput out;
    if (unit.block >= 0 && a_.recipe.UsesAwq()) {
      acts_->AdvanceTo(unit.block);
      AwqUnitInput in;
      in.config = &weights_->config();
      in.block = unit.block;
      for (const std::string& name : unit.tensors) {
        in.tensors.push_back(&(*job_.tensors)[index_of_.at(name)]);
        in.choices.push_back(choices_[index_of_.at(name)]);
      }
      acts_->Concatenate(&block_input_);
      in.block_input = block_input_;
      in.n_windows = static_cast<int64_t>(acts_->window_count());
      in.seq_len = a_.recipe.calibration->seq_len;
      in.recipe = &a_.recipe;
      SHARDQ_ASSIGN_OR_RETURN(out, AwqCompressBlock(in, *model_.source, &pool_));
      if (job_.keep_products) {
        acts_->AdvanceTo(unit.block + 1);  // the next unit would run it anyway
        out.products = BlockOutputProduct();
      }
      return out;
    }
    if (unit.block >= 0) {
      acts_->AdvanceTo(unit.block);
      acts_->RunBlockObserved(StatsObserver(&products, /*hessian=*/true, &names));
      if (job_.keep_products) out.products = BlockOutputProduct();
    } else if (names.count("output.weight") && a_.recipe.UsesGptq()) {
      acts_->AdvanceTo(n_layers);
      acts_->RunHeadObserved(StatsObserver(&products, /*hessian=*/true, &names));
    }  // the embeddings: a lookup has no input to weigh; rounded to nearest
    std::vector<float> data;
    QuantizedTensor q;
    for (const std::string& name : unit.tensors) {
      const size_t i = index_of_.at(name);
      const TensorInfo& t = (*job_.tensors)[i];
      const TensorChoice& choice = choices_[i];
      const ChannelStats* input = products.Find(name);
      bool weighted = false;
      uint32_t fingerprint = 0;
      if (a_.recipe.UsesGptq() && choice.quantized && input && GptqSupports(choice.type)) {
        SHARDQ_RETURN_IF_ERROR(ReadSourceTensor(*model_.source, t, &pool_, &data, &fingerprint));
        SHARDQ_RETURN_IF_ERROR(GptqQuantizeTensor(data.data(), t.n_rows(), t.row_length(), choice.type, *input,
                                                  a_.recipe.gptq, &pool_, t.file + ": tensor '" + name + "'", &q));
        model_.source->Release(t);
        weighted = a_.recipe.gptq.importance;
      } else {
        SHARDQ_RETURN_IF_ERROR(CompressTensor(*model_.source, t, choice, nullptr, "", &pool_, &q, &weighted,
                                              &fingerprint));
      }
      out.blobs.push_back(MakeBlob(t, choice, std::move(q)));
      out.source_fingerprints.push_back(fingerprint);
      out.weighted.push_back(weighted);
      q = QuantizedTensor{};
    }
    return out;
  }

  // The teacher states leaving the block just run (acts_ stands before the
  // next one), for rank 0 to keep. One record per block rather than one per
  // rank boundary: a resume can then start at whatever block a rank still has
  // to do, for any rank count, and a rank only ever sends what it already holds
  // (samples x seq_len x dim floats: 4 MB for shakespeare-5m at 32 x 128, about
  // 64 MB for a 4096-wide model; the job's products are dropped when it is done).
  std::vector<uint8_t> BlockOutputProduct() const {
    return EncodeBlockInputWindows(acts_->layer(), a_.inputs_fingerprint, dim_, acts_->windows());
  }

  const RankJob job_;
  const JobAssignment& a_;
  Model& model_;
  const std::vector<TensorChoice> choices_;
  std::map<std::string, size_t> index_of_;  // tensor name -> position in job_.tensors
  ThreadPool pool_;

  // Calibration state (BeginCalibration .. EndCalibration), then the statistics.
  std::set<std::string> wanted_;
  std::set<int64_t> stored_units_;  // units whose statistics an earlier run kept (UseStoredStats)
  std::vector<std::vector<int32_t>> windows_;
  int64_t dim_ = 0, layer_begin_ = 0, layer_end_ = 0;
  bool first_ = false, last_ = false;
  std::unique_ptr<LlamaWeights> weights_;
  std::unique_ptr<LlamaForward> forward_;
  std::vector<float> logits_;
  CalibrationStats stats_;
  std::unique_ptr<BlockActivations> acts_;
  std::vector<float> block_input_;  // AWQ: acts_'s windows end to end  // NeedsBlockActivations(): the hidden states, block by block
};

}  // namespace

Result<std::unique_ptr<RankStages>> MakeLlamaRankStages(const RankJob& job, Model& model) {
  SHARDQ_ASSIGN_OR_RETURN(std::vector<TensorChoice> choices, PlanTensorTypes(*job.tensors, job.assignment->recipe.quant));
  return std::unique_ptr<RankStages>(new LlamaRankStages(job, model, std::move(choices)));
}

}  // namespace shardq
