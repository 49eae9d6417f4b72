// The query goes to JavaScript as DICOM JSON keyed by tag ("0010,0010");
// JavaScript answers with candidate items in Orthanc's /tools/create-dicom
// JSON, also keyed by tag (DCMTK resolves a keyword by scanning its whole
// dictionary: ~0.1 ms a key, seconds for a large worklist), and a limit;
// Orthanc's own worklist matcher decides which candidates answer the query,
// so the DICOM matching rules (wildcards, ranges, sequences) are Orthanc's.
#include "worklist.h"

#include "json.h"
#include "plugin-context.h"
#include "request-bridge.h"

#include <atomic>

namespace orthanc_fhir {

namespace {

std::chrono::milliseconds g_timeout{30000};
std::atomic<bool> g_registered{false};

class Buffer {
 public:
  explicit Buffer(OrthancPluginContext* context) : context_(context) {}
  ~Buffer() {
    if (buffer.data != nullptr) OrthancPluginFreeMemoryBuffer(context_, &buffer);
  }
  OrthancPluginMemoryBuffer buffer{};

 private:
  OrthancPluginContext* context_;
};

std::string QueryAsJson(OrthancPluginContext* context, const OrthancPluginWorklistQuery* query) {
  Buffer dicom(context);
  if (OrthancPluginWorklistGetDicomQuery(context, &dicom.buffer, query) != OrthancPluginErrorCode_Success) {
    return "";
  }
  char* json = OrthancPluginDicomBufferToJson(context, dicom.buffer.data, dicom.buffer.size,
                                              OrthancPluginDicomToJsonFormat_Short,
                                              OrthancPluginDicomToJsonFlags_None, 0);
  if (json == nullptr) {
    return "";
  }
  std::string result = json;
  OrthancPluginFreeString(context, json);
  return result;
}

OrthancPluginErrorCode OnWorklist(OrthancPluginWorklistAnswers* answers, const OrthancPluginWorklistQuery* query,
                                  const char* issuerAet, const char* calledAet) {
  return Firewall("worklist query", OrthancPluginErrorCode_InternalError, [&] {
    OrthancPluginContext* context = Context();
    BridgeRequest request;
    request.channel = "worklist";
    request.method = "GET";  // a query: it reads
    request.headers = {{"issuer-aet", issuerAet != nullptr ? issuerAet : ""},
                       {"called-aet", calledAet != nullptr ? calledAet : ""}};
    request.body = QueryAsJson(context, query);
    const BridgeAnswer answer = RequestBridge::Instance().Handle(std::move(request), g_timeout);
    Json::Value reply;
    std::string errors;
    if (answer.status != 200 || !ParseJson(answer.body, reply, errors) || !reply["items"].isArray()) {
      Log(LogLevel::Error, "worklist query failed (" + std::to_string(answer.status) + "): " + answer.body + errors);
      return OrthancPluginErrorCode_InternalError;
    }
    const Json::ArrayIndex limit = reply["limit"].isUInt() ? reply["limit"].asUInt() : 0;
    Json::StreamWriterBuilder writer;
    Json::ArrayIndex matched = 0;
    for (const Json::Value& item : reply["items"]) {
      Buffer dicom(context);
      const std::string json = Json::writeString(writer, item);
      if (OrthancPluginCreateDicom(context, &dicom.buffer, json.c_str(), nullptr, OrthancPluginCreateDicomFlags_None) !=
          OrthancPluginErrorCode_Success) {
        Log(LogLevel::Warning, "a worklist item could not be encoded as DICOM: " + json);
        continue;
      }
      if (!OrthancPluginWorklistIsMatch(context, query, dicom.buffer.data, dicom.buffer.size)) {
        continue;
      }
      if (limit > 0 && matched == limit) {
        OrthancPluginWorklistMarkIncomplete(context, answers);
        break;
      }
      OrthancPluginWorklistAddAnswer(context, answers, query, dicom.buffer.data, dicom.buffer.size);
      matched++;
    }
    return OrthancPluginErrorCode_Success;
  });
}

}  // namespace

bool RegisterWorklist(OrthancPluginContext* context, std::chrono::milliseconds timeout) {
  g_timeout = timeout;
  g_registered = OrthancPluginRegisterWorklistCallback(context, OnWorklist) == OrthancPluginErrorCode_Success;
  return g_registered;
}

bool WorklistRegistered() {
  return g_registered;
}

}  // namespace orthanc_fhir
