// A small strict JSON reader for weight-file headers: no dependency, bounded
// nesting, and every error is a std::invalid_argument naming the position.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sparsewave {

class JsonValue {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  static JsonValue parse(const std::string& text);  // throws std::invalid_argument

  // Typed access; `what` names the value in error messages.
  double as_number(const std::string& what) const;
  long long as_integer(const std::string& what) const;  // exact integers only
  bool as_bool(const std::string& what) const;
  const std::string& as_string(const std::string& what) const;
  const std::vector<JsonValue>& as_array(const std::string& what) const;
  const std::map<std::string, JsonValue>& as_object(const std::string& what) const;

  bool has(const std::string& key) const;
  const JsonValue& at(const std::string& key) const;  // throws naming the key

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::map<std::string, JsonValue> object_;
};

// config[key] as an int in [lo, hi]; the error names the key and the range.
int config_int(const JsonValue& config, const std::string& key, long long lo, long long hi);

}  // namespace sparsewave
