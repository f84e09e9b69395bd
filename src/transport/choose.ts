import { primitives } from '../binding';
import type { BalancerConfig, TransportName } from '../options';

const NAMES: readonly string[] = ['ipc', 'kernel', 'channel'];

/**
 * Resolves `transport: 'auto'` (or STICKY_TRANSPORT, which overrides 'auto'):
 * the kernel steers ip routing where it can, the native channel serves the
 * rest where the addon loads, and Node IPC everywhere else. An explicit
 * choice that cannot work here is an error, not a silent downgrade.
 */
export function chooseTransport(config: BalancerConfig, hasOwnServer: boolean): TransportName {
  const fromEnv = process.env.STICKY_TRANSPORT || undefined;
  if (fromEnv !== undefined && !NAMES.includes(fromEnv)) {
    throw new Error(`sticky-native: STICKY_TRANSPORT must be one of ${NAMES.join(', ')}, not "${fromEnv}"`);
  }
  const wanted = config.transport === 'auto' ? ((fromEnv as TransportName | undefined) ?? 'auto') : config.transport;
  // The 1.x Master is a net.Server that accepts in JS: only IPC fits it.
  if (hasOwnServer) {
    if (config.transport !== 'auto' && config.transport !== 'ipc') {
      throw new Error(`sticky-native: a Master accepts its own connections; transport '${config.transport}' cannot apply`);
    }
    return 'ipc';
  }
  const { steering, Dispatcher } = primitives;
  if (wanted === 'auto') {
    if (config.routing === 'ip' && steering?.available()) return 'kernel';
    return Dispatcher ? 'channel' : 'ipc';
  }
  if (wanted === 'kernel' && config.routing !== 'ip') {
    throw new Error("sticky-native: transport 'kernel' steers by client address only; use routing 'ip'");
  }
  if (wanted === 'kernel' && !steering?.available()) {
    throw new Error(`sticky-native: transport 'kernel' needs Linux SO_REUSEPORT steering and the addon (core: ${primitives.kind})`);
  }
  if (wanted === 'channel' && !Dispatcher) {
    throw new Error(`sticky-native: transport 'channel' needs the native addon on Linux (core: ${primitives.kind})`);
  }
  return wanted;
}
