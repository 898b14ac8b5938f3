#include "runtime/local_stage_runner.h"

#include "common/stop_request.h"

namespace shardq {

Result<std::unique_ptr<LocalStageRunner>> LocalStageRunner::Start(const std::string& model_path, const Recipe& recipe,
                                                                  const std::vector<TensorInfo>& ordered, int threads,
                                                                  const RankStagesFactory& factory) {
  constexpr int kRank = 1;  // the rank a single worker has in `shardq run`, so plans agree
  std::unique_ptr<LocalStageRunner> r(new LocalStageRunner());
  SHARDQ_ASSIGN_OR_RETURN(r->model_, OpenModel(model_path));
  r->ordered_ = ordered;
  SHARDQ_ASSIGN_OR_RETURN(r->plan_, MakeUnitPlan(r->ordered_, /*n_workers=*/1, kRank));
  JobAssignment& a = r->assignment_;
  a.job_id = "local";
  a.model_path = model_path;
  a.recipe = recipe;
  a.ranges = r->plan_.ranges;
  a.threads = threads;
  for (const Unit& u : r->plan_.units) a.todo.push_back(u.index);
  r->job_.assignment = &r->assignment_;
  r->job_.tensors = &r->ordered_;
  r->job_.plan = &r->plan_;
  r->job_.rank = kRank;
  r->job_.units = a.todo;
  SHARDQ_ASSIGN_OR_RETURN(r->stages_, factory(r->job_, r->model_));
  if (recipe.Calibrates()) {
    // The whole pipeline in one stage: embed, then every block and the head.
    SHARDQ_ASSIGN_OR_RETURN(const int64_t n_windows, r->stages_->BeginCalibration());
    std::vector<float> hidden;
    for (int64_t w = 0; w < n_windows; ++w) {
      if (StopSignal() != 0)
        return Status::Cancelled(std::string("stopped by ") + StopSignalName(StopSignal()) + " while calibrating");
      SHARDQ_RETURN_IF_ERROR(r->stages_->EmbedWindow(w, &hidden));
      SHARDQ_RETURN_IF_ERROR(r->stages_->ForwardWindow(w, &hidden));
    }
    SHARDQ_RETURN_IF_ERROR(r->stages_->EndCalibration());
  }
  return r;
}

Result<TensorBlob> LocalStageRunner::Next(const std::string& name, bool* weighted) {
  while (pending_.empty()) {
    if (next_unit_ >= static_cast<int64_t>(plan_.units.size()))
      return Status::Internal("local stages: tensor '" + name + "' asked for after the last unit");
    const Unit& unit = plan_.units[next_unit_++];
    Result<UnitOutput> out = stages_->CompressUnit(unit.index);
    if (!out.ok()) return out.status().WithContext("unit " + unit.name + ": ");
    for (size_t i = 0; i < out->blobs.size(); ++i) {
      pending_.push_back(std::move(out->blobs[i]));
      pending_weighted_.push_back(i < out->weighted.size() && out->weighted[i]);
    }
  }
  if (pending_.front().name != name)
    return Status::Internal("local stages: asked for '" + name + "', the next tensor is '" + pending_.front().name + "'");
  TensorBlob b = std::move(pending_.front());
  pending_.pop_front();
  *weighted = pending_weighted_.front();
  pending_weighted_.pop_front();
  return b;
}

}  // namespace shardq
