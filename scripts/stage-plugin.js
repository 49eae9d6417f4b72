// Copies the shared library built by cmake-js into dist/plugin/, beside the
// JavaScript bundle: the folder a user drops into Orthanc's plugins.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const source = path.join(root, '.build/native/Release/libOrthancFhir.so');
const target = path.join(root, 'dist/plugin/libOrthancFhir.so');
fs.mkdirSync(path.dirname(target), { recursive: true });
// Copy then rename: a running Orthanc keeps its mapping of the old file
// (overwriting a loaded library in place makes it crash with SIGBUS).
fs.copyFileSync(source, `${target}.tmp`);
fs.renameSync(`${target}.tmp`, target);
console.log(`staged ${path.relative(root, target)}`);
