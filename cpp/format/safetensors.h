// Memory-mapped safetensors reader. Every tensor's dtype, shape and byte
// range is checked against the file before anything can be read through it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>


namespace sparsewave {

enum class DType { F32, F16, I32, U8, I8, I64, F64, BF16 };

struct TensorInfo {
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into the mapping (may be unaligned)
  std::size_t nbytes = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Throws std::invalid_argument (bad content) or IoError (I/O, io_error.h).
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  const TensorInfo& tensor(const std::string& name) const;  // throws naming it

  // Copies a float32 tensor after checking its shape (-1 matches any size).
  std::vector<float> read_f32(const std::string& name, const std::vector<int64_t>& shape) const;
  std::vector<int32_t> read_i32(const std::string& name, const std::vector<int64_t>& shape) const;
  std::vector<int8_t> read_i8(const std::string& name, const std::vector<int64_t>& shape) const;
  // True when some tensor's name ends with `suffix`.
  bool has_suffix(const std::string& suffix) const;

 private:
  void parse(const std::string& path);
  std::string path_;
  const uint8_t* map_ = nullptr;
  std::size_t size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorInfo> tensors_;
};

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace sparsewave
