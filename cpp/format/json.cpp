#include "format/json.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace sparsewave {

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}

  JsonValue document() {
    JsonValue v = value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("malformed JSON at byte " + std::to_string(pos_) + ": " + why);
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  char peek() {
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (s_.compare(pos_, w.size(), w) != 0) return false;
    pos_ += w.size();
    return true;
  }

  JsonValue value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than 64");
    JsonValue v;
    const char c = peek();
    if (c == '{') {
      v.type_ = JsonValue::Type::Object;
      ++pos_;
      if (peek() == '}') { ++pos_; return v; }
      for (;;) {
        if (peek() != '"') fail("expected a string key");
        std::string key = string();
        expect(':');
        if (v.object_.count(key)) fail("duplicate key '" + key + "'");
        v.object_.emplace(std::move(key), value(depth + 1));
        if (peek() == ',') { ++pos_; continue; }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.type_ = JsonValue::Type::Array;
      ++pos_;
      if (peek() == ']') { ++pos_; return v; }
      for (;;) {
        v.array_.push_back(value(depth + 1));
        if (peek() == ',') { ++pos_; continue; }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.type_ = JsonValue::Type::String;
      v.string_ = string();
      return v;
    }
    if (literal("true")) { v.type_ = JsonValue::Type::Bool; v.bool_ = true; return v; }
    if (literal("false")) { v.type_ = JsonValue::Type::Bool; return v; }
    if (literal("null")) return v;
    v.type_ = JsonValue::Type::Number;
    v.number_ = number();
    return v;
  }

  double number() {
    const std::size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      const std::size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > d;
    };
    const std::size_t int_start = pos_;
    if (!digits()) fail("expected a value");
    // RFC 8259 (and Python's json): an integer part is 0 or starts with 1-9.
    if (s_[int_start] == '0' && pos_ - int_start > 1) {
      pos_ = int_start;
      fail("number with a leading zero");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') { ++pos_; if (!digits()) fail("bad number"); }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) fail("bad exponent");
    }
    const std::string text = s_.substr(start, pos_ - start);
    const double d = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(d)) fail("number out of range");
    return d;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) { out += static_cast<char>(cp); }
    else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= h - '0';
      else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
      else fail("bad \\u escape");
    }
    return v;
  }

  // Copies one multi-byte UTF-8 character at pos_ into out; rejects what a
  // strict decoder (Python's) rejects: stray continuation bytes, truncated or
  // overlong sequences, UTF-16 surrogates and code points past U+10FFFF.
  void utf8_sequence(std::string& out) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s_[i]); };
    const unsigned lead = byte(pos_);
    int extra;
    unsigned cp;
    if (lead >= 0xC2 && lead <= 0xDF) { extra = 1; cp = lead & 0x1F; }
    else if (lead >= 0xE0 && lead <= 0xEF) { extra = 2; cp = lead & 0x0F; }
    else if (lead >= 0xF0 && lead <= 0xF4) { extra = 3; cp = lead & 0x07; }
    else fail("invalid UTF-8 byte 0x" + hex_byte(lead) + " in string");
    if (pos_ + extra >= s_.size()) fail("truncated UTF-8 sequence in string");
    for (int i = 1; i <= extra; ++i) {
      const unsigned b = byte(pos_ + i);
      if ((b & 0xC0) != 0x80) fail("invalid UTF-8 sequence in string (byte 0x" + hex_byte(b) + ")");
      cp = (cp << 6) | (b & 0x3F);
    }
    const unsigned min_cp[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[extra]) fail("overlong UTF-8 sequence in string");
    if (cp >= 0xD800 && cp < 0xE000) fail("UTF-8 encoded surrogate in string");
    if (cp > 0x10FFFF) fail("UTF-8 code point past U+10FFFF in string");
    out.append(s_, pos_, static_cast<std::size_t>(extra) + 1);
    pos_ += static_cast<std::size_t>(extra) + 1;
  }

  static std::string hex_byte(unsigned b) {
    const char* digits = "0123456789abcdef";
    return std::string{digits[(b >> 4) & 15], digits[b & 15]};
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        --pos_;
        utf8_sequence(out);
        continue;
      }
      if (c != '\\') { out += c; continue; }
      if (pos_ >= s_.size()) fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // surrogate pair
            if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') fail("lone surrogate");
            pos_ += 2;
            const unsigned lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  const std::string& s_;
  std::size_t pos_ = 0;
};

JsonValue JsonValue::parse(const std::string& text) { return JsonParser(text).document(); }

namespace {
[[noreturn]] void wrong_type(const std::string& what, const char* expected) {
  throw std::invalid_argument(what + " must be " + expected);
}
}  // namespace

double JsonValue::as_number(const std::string& what) const {
  if (type_ != Type::Number) wrong_type(what, "a number");
  return number_;
}
long long JsonValue::as_integer(const std::string& what) const {
  if (type_ != Type::Number || number_ != std::floor(number_)) wrong_type(what, "an integer");
  if (std::fabs(number_) > 9e15) throw std::invalid_argument(what + " is out of range (more than 9e15)");
  return static_cast<long long>(number_);
}
bool JsonValue::as_bool(const std::string& what) const {
  if (type_ != Type::Bool) wrong_type(what, "true or false");
  return bool_;
}
const std::string& JsonValue::as_string(const std::string& what) const {
  if (type_ != Type::String) wrong_type(what, "a string");
  return string_;
}
const std::vector<JsonValue>& JsonValue::as_array(const std::string& what) const {
  if (type_ != Type::Array) wrong_type(what, "an array");
  return array_;
}
const std::map<std::string, JsonValue>& JsonValue::as_object(const std::string& what) const {
  if (type_ != Type::Object) wrong_type(what, "an object");
  return object_;
}
bool JsonValue::has(const std::string& key) const { return type_ == Type::Object && object_.count(key) > 0; }
const JsonValue& JsonValue::at(const std::string& key) const {
  if (type_ != Type::Object) throw std::invalid_argument("expected an object holding '" + key + "'");
  auto it = object_.find(key);
  if (it == object_.end()) throw std::invalid_argument("missing key '" + key + "'");
  return it->second;
}

int config_int(const JsonValue& c, const std::string& key, long long lo, long long hi) {
  const long long v = c.at(key).as_integer("config '" + key + "'");
  if (v < lo || v > hi)
    throw std::invalid_argument("config '" + key + "' = " + std::to_string(v) + " is outside [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "]");
  return static_cast<int>(v);
}

}  // namespace sparsewave
