// Where the libnode that the plugin embeds lives, as CMakeLists.txt decides:
// LIBNODE_PREFIX, else the project-local copy, else Debian's /usr.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

function libnodePrefix() {
  if (process.env.LIBNODE_PREFIX) return process.env.LIBNODE_PREFIX;
  const local = path.join(root, '.deps/libnode/usr');
  return fs.existsSync(path.join(local, 'include/node/node.h')) ? local : '/usr';
}

/** NODE_MODULE_VERSION (the ABI native addons are built for) of the embedded Node. */
function embeddedAbi(prefix = libnodePrefix()) {
  const header = fs.readFileSync(path.join(prefix, 'include/node/node_version.h'), 'utf8');
  const match = /#define NODE_MODULE_VERSION (\d+)/.exec(header);
  if (!match) throw new Error('NODE_MODULE_VERSION not found in node_version.h');
  return match[1];
}

module.exports = { root, libnodePrefix, embeddedAbi };
