// One Node.js environment on a dedicated thread inside the Orthanc process.
// The process-wide part (V8, the platform) is set up once and never torn
// down, because V8 cannot be initialized twice and /tools/reset finalizes and
// re-initializes the plugin in the same process. Environments are recreated
// after process.exit(), a stuck event loop, an exhausted heap or a reset.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace node {
class Environment;
}

namespace orthanc_fhir {

class NodeRuntime {
 public:
  static NodeRuntime& Instance();

  // Starts the Node thread and waits until JavaScript has attached its
  // request handler, reported a fatal error or `startTimeout` expired.
  // Every environment gets a JavaScript heap of `heapLimitMiB` (old space).
  // Returns an empty string on success, else the reason.
  std::string Start(const std::string& bundlePath, size_t heapLimitMiB, std::chrono::milliseconds startTimeout);
  // Stops the environment (even one stuck in an endless loop) and joins the
  // thread, giving up on it after `joinTimeout`.
  void Stop(std::chrono::milliseconds joinTimeout);
  // Throws the current environment away; the Node thread makes a new one.
  void Recycle(const std::string& why);

  // Whether Orthanc is still in this plugin's Initialize (Start has not returned).
  bool Initializing() const { return initializing_; }

  // Called from JavaScript through the binding.
  void ReportAttached();
  void ReportFatal(const std::string& message);
  const std::string& BundlePath() const { return bundlePath_; }

 private:
  NodeRuntime() = default;
  void ThreadMain();
  void RunEnvironment();

  std::string bundlePath_;
  size_t heapLimitMiB_ = 1024;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  node::Environment* env_ = nullptr;  // guarded by mutex_, set while it runs
  bool stopRequested_ = false;
  std::atomic<bool> initializing_{false};
  bool attached_ = false;
  bool threadExited_ = false;
  std::string fatal_;
};

}  // namespace orthanc_fhir
