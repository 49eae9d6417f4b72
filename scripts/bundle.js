// Bundles the TypeScript into one CommonJS file for the embedded Node 18,
// and the test bundle (fault injection) used by the integration tests.
const esbuild = require('esbuild');
const path = require('path');
const { version } = require('../package.json');

const root = path.join(__dirname, '..');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  logLevel: 'warning',
  define: { ORTHANC_FHIR_VERSION: JSON.stringify(version) },
  // pg's optional libpq binding, loaded only when asked for (it never is).
  external: ['pg-native'],
};

Promise.all([
  // Whitespace and syntax minified (identifiers kept, for readable stack
  // traces): a smaller file is parsed faster at Orthanc's start.
  esbuild.build({
    ...common,
    minifyWhitespace: true,
    minifySyntax: true,
    entryPoints: [path.join(root, 'src/index.ts')],
    outfile: path.join(root, 'dist/plugin/orthanc-fhir.js'),
  }),
  esbuild.build({ ...common, entryPoints: [path.join(root, 'test/fixtures/test-plugin.ts')], outfile: path.join(root, '.build/test/test-plugin.js') }),
]).catch(() => process.exit(1));
