// Modality worklist C-FIND, answered by JavaScript through the request bridge.
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <chrono>

namespace orthanc_fhir {

// Registers the worklist callback; false when Orthanc refuses it (it accepts
// a single worklist plugin per process).
bool RegisterWorklist(OrthancPluginContext* context, std::chrono::milliseconds timeout);
bool WorklistRegistered();

}  // namespace orthanc_fhir
