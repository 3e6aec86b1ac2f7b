#include "model/matrix_report.h"

namespace sparsewave {

std::string matrix_json(const std::string& name, const BlockSparseMatrix& m, bool per_sample) {
  return "{\"name\": \"" + name + "\", \"shape\": [" + std::to_string(m.rows()) + ", " + std::to_string(m.cols()) +
         "], \"block\": [" + std::to_string(m.block_rows()) + ", " + std::to_string(m.block_cols()) +
         "], \"dtype\": \"" + weight_type_name(m.weight_type()) + "\", \"density\": " + std::to_string(m.density()) +
         ", \"stored_values\": " + std::to_string(m.n_values()) + ", \"bytes\": " + std::to_string(m.nbytes()) +
         ", \"per_sample\": " + (per_sample ? "true" : "false") + "}";
}

std::string describe_json(const std::string& family, const std::vector<std::string>& matrices, const LoopMacs& loop,
                          const std::string& extra_fields) {
  std::string s = "{\"family\": \"" + family + "\", \"matrices\": [";
  for (std::size_t i = 0; i < matrices.size(); ++i) s += (i ? ", " : "") + matrices[i];
  return s + "], \"loop_nonzero_macs\": " + std::to_string(loop.nonzero) +
         ", \"loop_stored_macs\": " + std::to_string(loop.stored) + extra_fields + "}";
}

}  // namespace sparsewave
