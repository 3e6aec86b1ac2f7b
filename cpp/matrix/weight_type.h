// How a matrix stores its weights for the products. The arithmetic after the
// products (gates, softmax) is float32 whatever the storage.
#pragma once
#include <stdexcept>
#include <string>

namespace sparsewave {

enum class WeightType {
  f32,   // float32
  f16,   // IEEE float16, widened to float32 in registers (half the bytes)
  i8,    // int8 with one float scale per row; activations quantized per product
  i8a16,  // the same int8 weights; activations quantized to 16 bits (exact in int32)
};

// int8 weights, with 8- or 16-bit inputs.
inline bool is_int8(WeightType t) { return t == WeightType::i8 || t == WeightType::i8a16; }

inline const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::f16: return "float16";
    case WeightType::i8: return "int8";
    case WeightType::i8a16: return "int8a16";
    default: return "float32";
  }
}

// Throws std::invalid_argument naming the accepted spellings.
inline WeightType parse_weight_type(const std::string& s) {
  if (s == "float32") return WeightType::f32;
  if (s == "float16") return WeightType::f16;
  if (s == "int8") return WeightType::i8;
  if (s == "int8a16") return WeightType::i8a16;
  throw std::invalid_argument("weights must be 'float32', 'float16', 'int8' or 'int8a16', got '" + s + "'");
}

}  // namespace sparsewave
