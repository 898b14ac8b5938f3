// A compression job as the user writes it (YAML or JSON; the same fields become
// the Thrift struct of the job service). Relative paths are resolved against the
// current directory (examples/ are run from the project root).
//
//   job_id: optional; default derived from a hash of the spec and the model's tensor index
//   model: ../shared/models/shakespeare-5m
//   output: { path: out/shakespeare-5m-Q4_K_M.gguf, format: gguf }
//   state_dir: .shardq            # RocksDB state (checkpoints), default ./.shardq
//   recipe:
//     quantize: { preset: Q4_K_M, algorithm: rtn | imatrix | gptq, pure: false,
//                 tensor_types: ["attn_v=Q8_0"], output_tensor_type: Q8_0, token_embedding_type: Q8_0,
//                 gptq: { damp: 0.01, act_order: false, block_columns: 128, importance: true },
//                 target_bpw: 4.5 | target_size: 3000000 }   # mixed precision by measured sensitivity
//     prune: ...      # recognised, refused as not implemented yet
//     distill: ...    # recognised, refused as not implemented yet
//   calibration: { text: ../shared/corpus/shakespeare-calib.txt, samples: 32, seq_len: 128, hessian: false }
//   eval: { text: ../shared/corpus/shakespeare-eval.txt, ctx: 128 }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor_info.h"

namespace shardq {

// GPTQ's settings (recipe.quantize.gptq; only with algorithm gptq).
struct GptqSpec {
  double damp = 0.01;          // added to the Hessian's diagonal, as a fraction of its mean
  bool act_order = false;      // columns by descending activation energy (diag of the Hessian)
  int64_t block_columns = 128; // lazy batch width
  bool importance = true;      // block scales fitted weighted by the input's mean x^2 (as imatrix)
};

struct QuantizeRecipe {
  std::string preset = "Q4_K_M";
  // "rtn": round to nearest; "imatrix": importance-weighted; "gptq": rounding
  // errors fed forward through the inverse Hessian (both need calibration).
  std::string algorithm = "rtn";
  bool pure = false;
  std::vector<std::string> tensor_types;  // "REGEX=TYPE", as --tensor-type
  std::string output_tensor_type;         // empty: preset's choice
  std::string token_embedding_type;
  GptqSpec gptq;
  // Mixed precision (at most one): the file's bits per weight, or its size in bytes.
  double target_bpw = 0;
  int64_t target_size = 0;
};

struct CalibrationSpec {
  std::string text;      // calibration text file
  int64_t samples = 32;  // sequences of seq_len tokens taken from the text
  int64_t seq_len = 128;
  bool hessian = false;  // also accumulate X^T X (float64)
};

struct EvalSpec {
  std::string text;
  int64_t ctx = 256;
};

struct JobSpec {
  std::string job_id;  // empty: derived (DeriveJobId)
  std::string model;
  std::string output_path;
  std::string output_format = "gguf";
  std::string state_dir = ".shardq";
  QuantizeRecipe quantize;
  std::optional<CalibrationSpec> calibration;
  std::optional<EvalSpec> eval;

  // Canonical JSON of the fields that define the result (everything except
  // job_id, output path and state_dir): stored with the job, hashed into ids.
  std::string CanonicalJson() const;
};

// Parses and validates; every error names `label` (the file) and the field, e.g.
// "job.yaml: recipe.quantize.preset: unknown preset 'Q4_K_X' (choose one of ...)".
Result<JobSpec> ParseJobSpec(const std::string& text, const std::string& label);
Result<JobSpec> LoadJobSpec(const std::string& path);

// sha256 over CanonicalJson() and the model's tensor index (names, shapes, types,
// byte sizes): a different spec or a different model gives a different id.
std::string SpecFingerprint(const JobSpec& spec, const std::vector<TensorInfo>& index);
// "job-" + the first 16 hex digits of SpecFingerprint, or spec.job_id when set.
std::string DeriveJobId(const JobSpec& spec, const std::vector<TensorInfo>& index);

}  // namespace shardq
