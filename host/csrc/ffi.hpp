// What hammer's C++ bridges share: no C++ exception crosses into Rust. A call
// that can fail returns a status (or NULL) and sets `*err` to a malloc'd
// message, which Rust frees with `hammer_string_free` (dist.cpp).

#pragma once

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include <c10/util/Exception.h>

namespace hammer_ffi {

// A malloc'd copy of `s`, for Rust to free.
inline char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, s.c_str(), s.size() + 1);
  }
  return out;
}

// Runs `f`, turning any exception into `*err` (libtorch's without its
// backtrace); returns whether it succeeded.
template <typename F>
bool guarded(char** err, F&& f) {
  try {
    f();
    return true;
  } catch (const c10::Error& e) {
    *err = copy_string(e.what_without_backtrace());
  } catch (const std::exception& e) {
    *err = copy_string(e.what());
  } catch (...) {
    *err = copy_string("unknown C++ exception");
  }
  return false;
}

}  // namespace hammer_ffi
