// Orthanc's incoming HTTP request filter, decided by JavaScript through the
// request bridge: with authorization on, every HTTP request Orthanc receives
// (its REST API, Orthanc Explorer, DICOMweb) is allowed or refused (403).
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <chrono>

namespace orthanc_fhir {

void RegisterHttpFilter(OrthancPluginContext* context, std::chrono::milliseconds timeout);

}  // namespace orthanc_fhir
