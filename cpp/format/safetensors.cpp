#include "format/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "format/io_error.h"
#include "format/json.h"

namespace sparsewave {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the spec's limit: 100 MB
constexpr int64_t kMaxDim = int64_t(1) << 40;
// Trained weights (and batch-norm statistics) stay far below this; values
// near the float32 limit only overflow the arithmetic into NaN.
constexpr float kMaxWeightMagnitude = 1e6f;

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    default: return 1;
  }
}

DType parse_dtype(const std::string& s, const std::string& name) {
  static const std::map<std::string, DType> kNames = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"I32", DType::I32},
      {"U8", DType::U8},   {"I8", DType::I8},   {"I64", DType::I64},   {"F64", DType::F64}};
  auto it = kNames.find(s);
  if (it == kNames.end()) throw std::invalid_argument("tensor '" + name + "' has unsupported dtype '" + s + "'");
  return it->second;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
    case DType::I8: return "I8";
    case DType::I64: return "I64";
    default: return "F64";
  }
}

std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void check_shape(const std::string& name, const TensorInfo& t, const std::vector<int64_t>& expected) {
  bool ok = t.shape.size() == expected.size();
  for (std::size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == t.shape[i];
  if (!ok)
    throw std::invalid_argument("tensor '" + name + "' has shape " + shape_string(t.shape) + ", expected " +
                                shape_string(expected));
}

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + (shape[i] < 0 ? std::string("*") : std::to_string(shape[i]));
  return s + (shape.size() == 1 ? ",)" : ")");
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("'" + path + "' is not a regular file");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    throw std::invalid_argument("'" + path + "' is too short to be a weight file (" + std::to_string(size_) + " bytes)");
  }
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw IoError("cannot map '" + path + "': " + std::strerror(errno));
  map_ = static_cast<const uint8_t*>(m);
  try {
    parse(path);
  } catch (const std::invalid_argument& e) {
    ::munmap(const_cast<uint8_t*>(map_), size_);
    const std::string what = e.what();
    // Every message names the file it is about.
    throw std::invalid_argument(what.find(path) == std::string::npos ? "'" + path + "': " + what : what);
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

void SafetensorsFile::parse(const std::string& path) {
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | map_[i];  // little-endian u64
  if (header_len > kMaxHeaderBytes || header_len > size_ - 8)
    throw std::invalid_argument("'" + path + "' is not a sparsewave weight file or is truncated: header length " +
                                std::to_string(header_len) + " exceeds the file size " + std::to_string(size_));
  const std::string header(reinterpret_cast<const char*>(map_ + 8), header_len);
  JsonValue root;
  try {
    root = JsonValue::parse(header);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("'" + path + "' has a corrupt header: " + e.what());
  }
  const uint8_t* data = map_ + 8 + header_len;
  const std::size_t data_size = size_ - 8 - header_len;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const auto& [name, entry] : root.as_object("the weight-file header")) {
    if (name == "__metadata__") {
      for (const auto& [key, value] : entry.as_object("__metadata__"))
        metadata_[key] = value.as_string("__metadata__['" + key + "']");
      continue;
    }
    TensorInfo t;
    t.dtype = parse_dtype(entry.at("dtype").as_string("dtype of '" + name + "'"), name);
    double numel = 1;
    for (const auto& d : entry.at("shape").as_array("shape of '" + name + "'")) {
      const long long v = d.as_integer("a dimension of '" + name + "'");
      if (v < 0 || v > kMaxDim) throw std::invalid_argument("tensor '" + name + "' has an invalid dimension");
      t.shape.push_back(v);
      numel *= static_cast<double>(v);
    }
    const auto& offs = entry.at("data_offsets").as_array("data_offsets of '" + name + "'");
    if (offs.size() != 2) throw std::invalid_argument("data_offsets of '" + name + "' must have 2 entries");
    const long long begin = offs[0].as_integer("data offset of '" + name + "'");
    const long long end = offs[1].as_integer("data offset of '" + name + "'");
    if (begin < 0 || end < begin || static_cast<unsigned long long>(end) > data_size)
      throw std::invalid_argument("tensor '" + name + "' lies outside the file (bytes " + std::to_string(begin) + ".." +
                                  std::to_string(end) + " of " + std::to_string(data_size) +
                                  "): the file is truncated or corrupt");
    t.nbytes = static_cast<std::size_t>(end - begin);
    if (numel * dtype_size(t.dtype) != static_cast<double>(t.nbytes))
      throw std::invalid_argument("tensor '" + name + "' of shape " + shape_string(t.shape) + " and dtype " +
                                  dtype_name(t.dtype) + " needs " +
                                  (numel < 1e18 ? std::to_string(static_cast<long long>(numel * dtype_size(t.dtype)))
                                                : std::string("more than 1e18")) +
                                  " bytes but its data range holds " + std::to_string(t.nbytes));
    t.data = data + begin;
    ranges.emplace_back(static_cast<std::size_t>(begin), static_cast<std::size_t>(end));
    tensors_.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      throw std::invalid_argument("'" + path + "' is corrupt: two tensors share bytes");
}

const TensorInfo& SafetensorsFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw std::invalid_argument("weight file has no tensor '" + name + "'");
  return it->second;
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorInfo& t = tensor(name);
  check_shape(name, t, shape);
  if (t.dtype != DType::F32 && t.dtype != DType::F16)
    throw std::invalid_argument("tensor '" + name + "' must be F32 or F16, got " + dtype_name(t.dtype));
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  if (out.empty()) return out;  // (memcpy must not see an empty vector's null pointer)
  if (t.dtype == DType::F32) {
    std::memcpy(out.data(), t.data, t.nbytes);
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
      float v;
      if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
      else if (exp == 31) v = mant ? NAN : INFINITY;
      else v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
      out[i] = sign ? -v : v;
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i]))
      throw std::invalid_argument("tensor '" + name + "' holds a NaN or Inf at flat index " + std::to_string(i));
    if (std::fabs(out[i]) > kMaxWeightMagnitude)
      throw std::invalid_argument("tensor '" + name + "' holds " + short_number(out[i]) + " at flat index " +
                                  std::to_string(i) + ": weight magnitudes above " + short_number(kMaxWeightMagnitude) +
                                  " are refused (docs/format.md)");
  }
  return out;
}

std::vector<int32_t> SafetensorsFile::read_i32(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorInfo& t = tensor(name);
  check_shape(name, t, shape);
  if (t.dtype != DType::I32) throw std::invalid_argument("tensor '" + name + "' must be I32, got " + dtype_name(t.dtype));
  std::vector<int32_t> out(static_cast<std::size_t>(t.numel()));
  if (!out.empty()) std::memcpy(out.data(), t.data, t.nbytes);
  return out;
}

std::vector<int8_t> SafetensorsFile::read_i8(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorInfo& t = tensor(name);
  check_shape(name, t, shape);
  if (t.dtype != DType::I8) throw std::invalid_argument("tensor '" + name + "' must be I8, got " + dtype_name(t.dtype));
  std::vector<int8_t> out(static_cast<std::size_t>(t.numel()));
  if (!out.empty()) std::memcpy(out.data(), t.data, t.nbytes);
  return out;
}

bool SafetensorsFile::has_suffix(const std::string& suffix) const {
  for (const auto& entry : tensors_) {
    const std::string& n = entry.first;
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
  }
  return false;
}

}  // namespace sparsewave
