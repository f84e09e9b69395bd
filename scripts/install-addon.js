'use strict';
// npm's install step: load a prebuilt addon or build one with node-gyp. When
// neither works (no compiler, no prebuild for this platform) the install still
// succeeds: sticky-native then runs on its pure-TypeScript fallback.
const { execSync } = require('node:child_process');

try {
  execSync('node-gyp-build', { stdio: 'inherit' });
} catch {
  console.warn(
    'sticky-native: no prebuilt addon for this platform and the native build failed;\n' +
      'the pure-TypeScript fallback will be used (same routing, Node IPC transport).',
  );
}
