# Builds build/Release/probe.node, a minimal N-API addon that the
# integration tests load inside the Node.js embedded in Orthanc: it proves
# that native addons (such as a SQLite binding) work in the plugin, which
# needs libnode's napi_* symbols to be global (see native/node-runtime.cpp).
# npm runs `node-gyp rebuild` for it on install.
{
  "targets": [
    {
      "target_name": "probe",
      "sources": ["native/probe/probe.c"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
