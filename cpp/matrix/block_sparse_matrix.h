// Block-CSR matrix: construction (from dense or from packed arrays, both
// validated once), and products that dispatch to the active kernel table.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/bsr_view.h"
#include "kernels/table.h"
#include "matrix/aligned_buffer.h"
#include "matrix/weight_type.h"

namespace sparsewave {

// How store_int8 picks each row's scale (see store_int8).
enum class Int8Rule { row_max, pair_bounded };

class BlockSparseMatrix {
 public:
  BlockSparseMatrix() = default;

  // Rows/cols that are not a multiple of the block are zero-padded inside.
  // Throws std::invalid_argument for an unsupported block, a negative or
  // oversized shape, or a non-finite weight.
  static BlockSparseMatrix from_dense(const float* w, int rows, int cols, int block_rows, int block_cols);

  // row_ptr has n_block_rows+1 entries, block_col the block-column number of
  // each stored block, values block_rows*block_cols floats per block
  // (row-major inside a block). Every entry is checked.
  static BlockSparseMatrix from_packed(int rows, int cols, int block_rows, int block_cols,
                                       const std::vector<int32_t>& row_ptr,
                                       const std::vector<int32_t>& block_col, const float* values,
                                       std::size_t n_values);

  // The int8 form as a weight file stores it (docs/format.md, "int8
  // matrices"): block shape 8x4 or 4x4, values in [-127, 127] (row-major
  // blocks like from_packed), one scale per padded row (finite, >= 0, zero on
  // padding rows); row r's weights are values * row_scale[r]. Every entry is
  // checked; the result equals store_int8() of the dequantized weights when
  // the scales are the rows' max|w| / 127.
  static BlockSparseMatrix from_packed_int8(int rows, int cols, int block_rows, int block_cols,
                                            const std::vector<int32_t>& row_ptr,
                                            const std::vector<int32_t>& block_col, const int8_t* values,
                                            std::size_t n_values, const float* row_scale, std::size_t n_scales);

  // The same matrix with its block rows reordered: block row b of the result
  // is block row order[b] of this one (any storage; order must be a
  // permutation of the block rows).
  BlockSparseMatrix permute_block_rows(const std::vector<int>& order) const;

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  int block_rows() const { return block_rows_; }
  int block_cols() const { return block_cols_; }
  int n_block_rows() const { return n_block_rows_; }
  int padded_rows() const { return n_block_rows_ * block_rows_; }
  int padded_cols() const { return n_block_cols_ * block_cols_; }
  int nnz_blocks() const { return static_cast<int>(col_start_.size()); }
  double density() const;  // stored blocks / all blocks (0 for an empty shape)
  std::size_t nbytes() const;
  const std::vector<int32_t>& row_ptr() const { return row_ptr_; }
  const std::vector<int32_t>& col_start() const { return col_start_; }
  const float* values() const { return values_.data(); }
  std::size_t n_values() const { return values_.size(); }
  BsrView view() const;

  void to_dense(float* out) const;  // rows x cols, row-major

  // Switches the products to float16 weights (half the bytes per weight;
  // arithmetic stays float32). The float32 values are rounded to the same
  // halves, so to_dense(), packed() and every kernel agree exactly.
  void store_half();
  bool half() const { return half_; }

  // Switches the products to int8 weights (a quarter of the bytes): each
  // row's weights become round(w * 127 / max|row|) with the float scale
  // max|row| / 127, and each product quantizes its x per call (QuantizeFn in
  // kernels/table.h) and sums exactly in int32. The float32 values become the
  // dequantized weights, so to_dense() and packed() show what is multiplied.
  // Throws std::invalid_argument for blocks other than 8x4 and 4x4, or more
  // than 131072 padded columns (the int32 sum could overflow).
  //
  // Int8Rule::pair_bounded instead scales each row by max(max|w| / 127,
  // max_pair (|w_a| + |w_b|) / 128) over its adjacent column pairs (2i,
  // 2i+1) so that every stored pair keeps |q_a| + |q_b| <= 128 (a pair the
  // float rounding pushes to 129 gives one step back from its larger
  // member): docs/format.md, "int8 matrices".
  void store_int8(Int8Rule rule = Int8Rule::row_max);
  bool int8() const { return int8_; }
  // True for int8 weights whose every pair (columns 2i, 2i+1 of a block row)
  // has |q_a| + |q_b| <= 128, whichever rule or file made them (checked once
  // at store): AVX2 then multiplies unsigned x + 128 without saturation.
  bool pair_bounded() const { return pair_bounded_; }
  // Whether this int8 matrix's products on table k take the _pair slots (x
  // offset to unsigned bytes once per product).
  bool takes_offset_bytes(const KernelTable& k) const;
  // int8 weights only: the products quantize x to 16 bits instead of 8
  // (WeightType::i8a16), with the largest code input_qmax() =
  // min(kInputQmaxCap, (2^31 - 1) / the largest row sum of |w|) so that every
  // int32 sum stays exact. The weights and the file form do not change.
  void use_wide_inputs();
  bool wide_inputs() const { return wide_inputs_; }
  int input_qmax() const { return input_qmax_; }
  WeightType weight_type() const {
    return int8_ ? (wide_inputs_ ? WeightType::i8a16 : WeightType::i8) : half_ ? WeightType::f16 : WeightType::f32;
  }
  // Converts to `t` (f32: nothing to do; i8a16: store_int8, then use_wide_inputs).
  void store_as(WeightType t);
  const int8_t* values_i8() const { return values_i8_.data(); }
  const float* row_scale() const { return row_scale_.data(); }

  // Fast products on caller-padded buffers: x has padded_cols() floats (the
  // padding must be finite; int8 products ignore it), y has padded_rows() (for
  // spmm: rows of ld floats).
  void spmv_padded(const float* x, float* y, bool accumulate, int rb_begin, int rb_end,
                   const KernelTable& k) const;
  void spmm_padded(const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int n, bool accumulate,
                   int rb_begin, int rb_end, const KernelTable& k) const;

  // nvec vectors at x + v*ldx (padded_cols each) -> y + v*ldy (padded_rows each).
  void spmv_many_padded(const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec, bool accumulate,
                        const KernelTable& k) const;
  // One vector per stream (stream s's at x + s*ld and y + s*ld): a single
  // stream takes the single-vector kernel unless multi_vector, several the
  // multi-vector one (whose bits per vector do not depend on the count).
  void spmv_streams_padded(const float* x, float* y, int n_streams, std::ptrdiff_t ld, bool accumulate,
                           const KernelTable& k, bool multi_vector = false) const;

  // Convenience products on exact-size buffers (x: cols, y: rows; X: cols x n,
  // Y: rows x n, row-major); pads through scratch memory when the shape needs it.
  void matvec(const float* x, float* y, bool accumulate) const;
  void matmul(const float* x, int n, float* y, bool accumulate) const;
  // X: n x cols (one vector per row) -> Y: n x rows.
  void matvec_many(const float* x, int n, float* y, bool accumulate) const;

 private:
  void set_shape(int rows, int cols, int block_rows, int block_cols);
  // Checks row_ptr / block_col against the shape and the value count, then
  // stores them (shared by from_packed and from_packed_int8).
  void set_structure(const std::vector<int32_t>& row_ptr, const std::vector<int32_t>& block_col, std::size_t n_values);
  // Rejects a non-zero value in the padding rows / columns.
  template <class T>
  void check_padding_zero(const T* values) const;

  int rows_ = 0, cols_ = 0, block_rows_ = 1, block_cols_ = 1;
  int n_block_rows_ = 0, n_block_cols_ = 0;
  std::vector<int32_t> row_ptr_{0};
  std::vector<int32_t> col_start_;  // first element column of each block
  AlignedVector<float> values_;
  AlignedVector<uint16_t> values_f16_;
  bool half_ = false;
  AlignedVector<int8_t> values_i8_;
  AlignedVector<float> row_scale_;   // per padded row
  std::vector<int32_t> row_sum_;     // per padded row
  bool int8_ = false;
  bool pair_bounded_ = false;
  bool wide_inputs_ = false;
  int input_qmax_ = 127;
};

// True for the block shapes kernels exist for: 4x4, 8x4, 16x1, 1x4 and 1x1.
bool is_supported_block(int block_rows, int block_cols);

// Rounds a vector length up to a multiple of 16: every block shape's padded
// size fits, and loop buffers stay whole AVX-512 registers.
inline int round16(int n) { return (n + 15) / 16 * 16; }

}  // namespace sparsewave
