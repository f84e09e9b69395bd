// ESM entry: the CommonJS build is the one implementation; this re-exports it
// so `import sticky, { createBalancer } from 'sticky-native'` works.
import sticky from '../dist/index.js';

export default sticky;
export const { listen, Master, Balancer, createBalancer, serve, stickySessionIds, core, nativeLoadError } = sticky;
