// pybind11 module `sparsewave._core`: the C++ core's Python face. Python-side
// code (src/sparsewave) converts and checks user input; this layer re-checks
// shapes so a misuse of the private module still cannot touch bad memory.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "format/io_error.h"
#include "kernels/dispatch.h"
#include "matrix/block_choice.h"
#include "matrix/block_sparse_matrix.h"

namespace py = pybind11;
using sparsewave::BlockSparseMatrix;

void bind_vocoder(py::module_& mod);  // vocoder_bindings.cpp

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;
using IntArray = py::array_t<int32_t, py::array::c_style>;

void require(bool ok, const std::string& message) {
  if (!ok) throw py::value_error(message);
}

BlockSparseMatrix from_dense(const FloatArray& w, int br, int bc) {
  require(w.ndim() == 2, "weights must be 2-D");
  const auto rows = w.shape(0), cols = w.shape(1);
  require(rows <= INT32_MAX && cols <= INT32_MAX, "matrix too large");
  py::gil_scoped_release release;
  return BlockSparseMatrix::from_dense(w.data(), static_cast<int>(rows), static_cast<int>(cols), br, bc);
}

BlockSparseMatrix pack_best(const FloatArray& w, const std::string& weights) {
  require(w.ndim() == 2, "weights must be 2-D");
  const auto rows = w.shape(0), cols = w.shape(1);
  require(rows <= INT32_MAX && cols <= INT32_MAX, "matrix too large");
  const sparsewave::WeightType t = sparsewave::parse_weight_type(weights);
  py::gil_scoped_release release;
  return sparsewave::pack_best(w.data(), static_cast<int>(rows), static_cast<int>(cols), t);
}

BlockSparseMatrix from_packed(int rows, int cols, int br, int bc, const IntArray& row_ptr,
                              const IntArray& block_col, const FloatArray& values) {
  require(row_ptr.ndim() == 1 && block_col.ndim() == 1, "row_ptr and block_col must be 1-D");
  std::vector<int32_t> rp(row_ptr.data(), row_ptr.data() + row_ptr.size());
  std::vector<int32_t> bcol(block_col.data(), block_col.data() + block_col.size());
  return BlockSparseMatrix::from_packed(rows, cols, br, bc, rp, bcol, values.data(),
                                        static_cast<std::size_t>(values.size()));
}

BlockSparseMatrix from_packed_int8(int rows, int cols, int br, int bc, const IntArray& row_ptr,
                                   const IntArray& block_col, const py::array_t<int8_t, py::array::c_style>& values,
                                   const FloatArray& row_scale) {
  require(row_ptr.ndim() == 1 && block_col.ndim() == 1 && row_scale.ndim() == 1,
          "row_ptr, block_col and row_scale must be 1-D");
  std::vector<int32_t> rp(row_ptr.data(), row_ptr.data() + row_ptr.size());
  std::vector<int32_t> bcol(block_col.data(), block_col.data() + block_col.size());
  return BlockSparseMatrix::from_packed_int8(rows, cols, br, bc, rp, bcol, values.data(),
                                             static_cast<std::size_t>(values.size()), row_scale.data(),
                                             static_cast<std::size_t>(row_scale.size()));
}

FloatArray to_dense(const BlockSparseMatrix& m) {
  FloatArray out({m.rows(), m.cols()});
  m.to_dense(out.mutable_data());
  return out;
}

void matvec(const BlockSparseMatrix& m, const FloatArray& x, FloatArray& out, bool accumulate) {
  require(x.ndim() == 1 && x.shape(0) == m.cols(), "x must have shape (" + std::to_string(m.cols()) + ",)");
  require(out.ndim() == 1 && out.shape(0) == m.rows(), "out must have shape (" + std::to_string(m.rows()) + ",)");
  require(out.writeable(), "out must be writeable");
  py::gil_scoped_release release;
  m.matvec(x.data(), out.mutable_data(), accumulate);
}

void matmul(const BlockSparseMatrix& m, const FloatArray& x, FloatArray& out, bool accumulate) {
  require(x.ndim() == 2 && x.shape(0) == m.cols(), "X must have shape (" + std::to_string(m.cols()) + ", B)");
  require(out.ndim() == 2 && out.shape(0) == m.rows() && out.shape(1) == x.shape(1),
          "out must have shape (" + std::to_string(m.rows()) + ", " + std::to_string(x.shape(1)) + ")");
  require(x.shape(1) <= INT32_MAX, "too many columns");
  require(out.writeable(), "out must be writeable");
  py::gil_scoped_release release;
  m.matmul(x.data(), static_cast<int>(x.shape(1)), out.mutable_data(), accumulate);
}

void matvec_many(const BlockSparseMatrix& m, const FloatArray& x, FloatArray& out, bool accumulate) {
  require(x.ndim() == 2 && x.shape(1) == m.cols(), "X must have shape (n, " + std::to_string(m.cols()) + ")");
  require(out.ndim() == 2 && out.shape(1) == m.rows() && out.shape(0) == x.shape(0),
          "out must have shape (" + std::to_string(x.shape(0)) + ", " + std::to_string(m.rows()) + ")");
  require(x.shape(0) <= INT32_MAX, "too many vectors");
  require(out.writeable(), "out must be writeable");
  py::gil_scoped_release release;
  m.matvec_many(x.data(), static_cast<int>(x.shape(0)), out.mutable_data(), accumulate);
}

}  // namespace

PYBIND11_MODULE(_core, mod) {
  mod.doc() = "sparsewave C++ core (block-sparse kernels with run-time ISA dispatch)";
  // Bad content and arguments -> ValueError, I/O -> OSError. Anything else
  // (pybind11's own value_error/type_error, which derive from
  // std::runtime_error, included) goes on to pybind11's translator.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const py::builtin_exception&) {
      throw;
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "sparsewave: out of memory");
    } catch (const sparsewave::IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });
  bind_vocoder(mod);

  mod.def("isa", &sparsewave::active_isa, "Name of the kernel path in use.");
  mod.def("available_isas", &sparsewave::available_isas, "Kernel paths this CPU can run, slowest first.");
  mod.def("set_isa", &sparsewave::set_isa, py::arg("name"),
          "Force a kernel path ('auto' restores the best one).");
  mod.def("apply_isa_from_environment", &sparsewave::apply_isa_from_environment);
  mod.def("quantize", [](const FloatArray& x) {
    // The int8 products' quantization of x on the active path: (q int8, scale).
    require(x.ndim() == 1 && x.shape(0) <= INT32_MAX, "x must be 1-D");
    py::array_t<int8_t> q(x.shape(0));
    const float scale = sparsewave::active_kernels().quantize(x.data(), static_cast<int>(x.shape(0)), q.mutable_data());
    return py::make_tuple(q, scale);
  }, py::arg("x").noconvert());
  mod.def("quantize_i16", [](const FloatArray& x, int qmax) {
    // The int8a16 products' quantization of x on the active path: (q int16, scale).
    require(x.ndim() == 1 && x.shape(0) <= INT32_MAX, "x must be 1-D");
    require(qmax >= 1 && qmax <= 32767, "qmax must be in [1, 32767]");
    py::array_t<int16_t> q(x.shape(0));
    const float scale =
        sparsewave::active_kernels().quantize_i16(x.data(), static_cast<int>(x.shape(0)), q.mutable_data(), qmax);
    return py::make_tuple(q, scale);
  }, py::arg("x").noconvert(), py::arg("qmax"));
  mod.def("cpu_features", [] {
    const auto f = sparsewave::detect_cpu_features();
    py::dict d;
    d["avx2"] = f.avx2;
    d["fma"] = f.fma;
    d["f16c"] = f.f16c;
    d["avx512f"] = f.avx512f;
    d["avx_vnni"] = f.avx_vnni;
    d["avx512_vnni"] = f.avx512_vnni;
    d["neon"] = f.neon;
    d["dotprod"] = f.dotprod;
    d["fp16"] = f.fp16;
    return d;
  });

  py::class_<BlockSparseMatrix>(mod, "BlockSparseMatrix")
      .def_static("from_dense", &from_dense, py::arg("w").noconvert(), py::arg("block_rows"), py::arg("block_cols"))
      .def_static("pack_best", &pack_best, py::arg("w").noconvert(), py::arg("weights") = "float32",
                  "Packs with the block shape of least cost (matrix/block_choice.h).")
      .def_static("from_packed", &from_packed, py::arg("rows"), py::arg("cols"), py::arg("block_rows"),
                  py::arg("block_cols"), py::arg("row_ptr").noconvert(), py::arg("block_col").noconvert(),
                  py::arg("values").noconvert())
      .def_static("from_packed_int8", &from_packed_int8, py::arg("rows"), py::arg("cols"), py::arg("block_rows"),
                  py::arg("block_cols"), py::arg("row_ptr").noconvert(), py::arg("block_col").noconvert(),
                  py::arg("values").noconvert(), py::arg("row_scale").noconvert(),
                  "int8 block-CSR with one scale per padded row, every entry checked (weight-file form).")
      .def_property_readonly("rows", &BlockSparseMatrix::rows)
      .def_property_readonly("cols", &BlockSparseMatrix::cols)
      .def_property_readonly("block_rows", &BlockSparseMatrix::block_rows)
      .def_property_readonly("block_cols", &BlockSparseMatrix::block_cols)
      .def_property_readonly("nnz_blocks", &BlockSparseMatrix::nnz_blocks)
      .def_property_readonly("density", &BlockSparseMatrix::density)
      .def_property_readonly("nbytes", &BlockSparseMatrix::nbytes)
      .def_property_readonly("half", &BlockSparseMatrix::half)
      .def("store_half", &BlockSparseMatrix::store_half)
      .def_property_readonly("int8", &BlockSparseMatrix::int8)
      .def(
          "store_int8",
          [](BlockSparseMatrix& m, bool pair_bounded) {
            m.store_int8(pair_bounded ? sparsewave::Int8Rule::pair_bounded : sparsewave::Int8Rule::row_max);
          },
          py::arg("pair_bounded") = false)
      .def_property_readonly("pair_bounded", &BlockSparseMatrix::pair_bounded)
      .def("use_wide_inputs", &BlockSparseMatrix::use_wide_inputs,
           "int8 weights only: quantize x to 16 bits per product instead of 8 (int8a16).")
      .def_property_readonly("wide_inputs", &BlockSparseMatrix::wide_inputs)
      .def_property_readonly("input_qmax", &BlockSparseMatrix::input_qmax)
      .def("quantized", [](const BlockSparseMatrix& m) {
        // (int8 values (nnz_blocks, br, bc), row scales (padded rows)): what the int8 kernels multiply.
        if (!m.int8()) throw std::invalid_argument("the matrix does not store int8 weights");
        py::array_t<int8_t> q({static_cast<py::ssize_t>(m.nnz_blocks()), static_cast<py::ssize_t>(m.block_rows()),
                               static_cast<py::ssize_t>(m.block_cols())});
        std::copy(m.values_i8(), m.values_i8() + m.n_values(), q.mutable_data());
        FloatArray s(static_cast<py::ssize_t>(m.padded_rows()), m.row_scale());
        return py::make_tuple(q, s);
      })
      .def("to_dense", &to_dense)
      .def("packed", [](const BlockSparseMatrix& m) {
        // (row_ptr, block_col, values) copies, the inverse of from_packed.
        IntArray rp(static_cast<py::ssize_t>(m.row_ptr().size()), m.row_ptr().data());
        IntArray bc(static_cast<py::ssize_t>(m.col_start().size()));
        for (std::size_t k = 0; k < m.col_start().size(); ++k) bc.mutable_data()[k] = m.col_start()[k] / m.block_cols();
        FloatArray v({static_cast<py::ssize_t>(m.nnz_blocks()), static_cast<py::ssize_t>(m.block_rows()),
                      static_cast<py::ssize_t>(m.block_cols())});
        std::copy(m.values(), m.values() + m.n_values(), v.mutable_data());
        return py::make_tuple(rp, bc, v);
      })
      .def("matvec", &matvec, py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("accumulate"))
      .def("matvec_many", &matvec_many, py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("accumulate"))
      .def("matmul", &matmul, py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("accumulate"));
}
