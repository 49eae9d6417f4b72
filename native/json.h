// JSON parsing for the few places the shim reads JSON (Orthanc's
// configuration, worklist answers), with jsoncpp as Orthanc's plugins do.
#pragma once

#include <json/json.h>

#include <memory>
#include <string>

namespace orthanc_fhir {

inline bool ParseJson(const std::string& text, Json::Value& target, std::string& errors) {
  Json::CharReaderBuilder builder;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  return reader->parse(text.data(), text.data() + text.size(), &target, &errors);
}

}  // namespace orthanc_fhir
