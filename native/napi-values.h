// Conversions of JavaScript values the binding receives (header objects,
// bodies) into the shim's C++ types.
#pragma once

#include "request-bridge.h"

#include <napi.h>

namespace orthanc_fhir {

inline HeaderList ToHeaderList(const Napi::Value& value) {
  HeaderList list;
  if (!value.IsObject()) {
    return list;
  }
  Napi::Object object = value.As<Napi::Object>();
  Napi::Array names = object.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    const std::string name = names.Get(i).ToString();
    list.emplace_back(name, object.Get(name).ToString().Utf8Value());
  }
  return list;
}

// A body given as a Buffer or a string; anything else is an empty body.
inline std::string ToBody(const Napi::Value& value) {
  if (value.IsBuffer()) {
    auto buffer = value.As<Napi::Buffer<char>>();
    return std::string(buffer.Data(), buffer.Length());
  }
  if (value.IsString()) {
    return value.As<Napi::String>().Utf8Value();
  }
  return std::string();
}

// Plain N-API makers for code that may run while JavaScript cannot (see
// exports.cpp): nullptr on failure, never an exception.
inline napi_value MakeString(napi_env env, const std::string& text) {
  napi_value value = nullptr;
  napi_create_string_utf8(env, text.data(), text.size(), &value);
  return value;
}

inline napi_value MakeNumber(napi_env env, double number) {
  napi_value value = nullptr;
  napi_create_double(env, number, &value);
  return value;
}

}  // namespace orthanc_fhir
