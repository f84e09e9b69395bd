import { defineConfig } from 'vitest/config';

// The suite runs once per data path:
//   native    the addon, transport 'auto' (kernel steering for ip routing, the native channel for headers)
//   channel   the addon, every connection through the native channel
//   ipc       the addon's parsers and peeker, connections over Node IPC
//   fallback  no addon: the pure-TS primitives over Node IPC
// Files run one at a time: they start real clusters on a 2-core machine, and
// parallel files would only make each other time out.
const project = (name: string, env: Record<string, string>) => ({ extends: true, test: { name, env } });

export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      project('native', { STICKY_NATIVE: 'native', STICKY_TRANSPORT: '' }),
      project('channel', { STICKY_NATIVE: 'native', STICKY_TRANSPORT: 'channel' }),
      project('ipc', { STICKY_NATIVE: 'native', STICKY_TRANSPORT: 'ipc' }),
      project('fallback', { STICKY_NATIVE: 'fallback', STICKY_TRANSPORT: '' }),
    ],
  },
});
