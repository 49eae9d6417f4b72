// Puts better-sqlite3's addon, compiled for the Node embedded in Orthanc,
// beside the bundle in dist/plugin/. npm compiled node_modules' copy for the
// Node that runs npm (the tests' Node); when the two ABIs differ, a copy of
// the package is compiled again with node-gyp against libnode's headers.
// The result is cached in .build/ per ABI and package version.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { root, libnodePrefix, embeddedAbi } = require('./libnode');

const prefix = libnodePrefix();
const abi = embeddedAbi(prefix);
const packageDir = path.join(root, 'node_modules/better-sqlite3');
const { version } = require(path.join(packageDir, 'package.json'));
const target = path.join(root, 'dist/plugin/better_sqlite3.node');
const built = (dir) => path.join(dir, 'build/Release/better_sqlite3.node');

let source = built(packageDir);
if (abi !== process.versions.modules) {
  const copy = path.join(root, '.build', `better-sqlite3-${version}-abi${abi}`);
  if (!fs.existsSync(built(copy))) {
    console.log(`build-sqlite: compiling better-sqlite3 ${version} for ABI ${abi} (libnode in ${prefix}); this takes a minute or two`);
    fs.rmSync(copy, { recursive: true, force: true });
    fs.cpSync(packageDir, copy, { recursive: true, filter: (file) => !file.startsWith(path.join(packageDir, 'build')) });
    const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
    execFileSync(process.execPath, [nodeGyp, 'rebuild', '--release', `--nodedir=${prefix}`], { cwd: copy, stdio: 'inherit' });
  }
  source = built(copy);
}
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(source, `${target}.tmp`); // then rename: see stage-plugin.js
fs.renameSync(`${target}.tmp`, target);
console.log(`build-sqlite: staged better_sqlite3.node for ABI ${abi}`);
