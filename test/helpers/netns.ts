// A LAN of network namespaces made by a test: one bridge in the root namespace
// (its address is the LAN's gateway, where the test runs HAProxy, Redis and the
// clients) and one namespace per host, each joined to the bridge by a veth
// pair. Every name carries the test's pid, so runs and other tests never share
// one; remove() deletes all of it and never throws.
import { spawnSync } from 'node:child_process';

export interface Host { name: string; netns: string; address: string }
export interface Lan {
  bridge: string;
  /** 10.a.b.0/24 */
  subnet: string;
  /** the root namespace's address on the LAN (.1) */
  gateway: string;
  hosts: Host[];
  /** `wrap` for startFixture: run a command inside a host's namespace */
  exec(host: Host): string[];
  remove(): void;
}

function ip(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

function must(args: string[]): void {
  const r = ip(args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')}: ${r.out}`);
}

/** null when this process may make namespaces and links, else why not (for a skip message). */
export function namespacesUnavailable(): string | null {
  const probe = `snprobe-${process.pid}`;
  const r = ip(['netns', 'add', probe]);
  if (!r.ok) return `\`ip netns add\` is not permitted here (${r.out || 'no ip command'})`;
  ip(['netns', 'del', probe]);
  return null;
}

/** A /24 in 10.0.0.0/8 that no route of the root namespace touches yet. */
function freeSubnet(): string {
  const routes = ip(['-4', 'route', 'show', 'table', 'all']).out;
  for (let i = 0; i < 200; i++) {
    const a = 100 + ((process.pid + i) % 150);
    const b = (process.pid >> 8) % 250 + 1;
    const prefix = `10.${a}.${b}`;
    if (!routes.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no free 10.x.y.0/24 for the test LAN');
}

export function makeLan(hostNames: string[]): Lan {
  const tag = String(process.pid);
  const prefix = freeSubnet();
  const lan: Lan = {
    bridge: `snbr${tag}`,
    subnet: `${prefix}.0/24`,
    gateway: `${prefix}.1`,
    hosts: hostNames.map((name, i) => ({ name, netns: `sn-${tag}-${name}`, address: `${prefix}.${i + 2}` })),
    exec: (host) => ['ip', 'netns', 'exec', host.netns],
    remove: () => {
      // Deleting one end of a veth pair deletes both; a namespace's own
      // deletion would take its end too, but later, in the kernel's cleanup.
      lan.hosts.forEach((h, i) => {
        ip(['link', 'del', `snv${tag}${i}`]);
        ip(['netns', 'del', h.netns]);
      });
      ip(['link', 'del', lan.bridge]);
    },
  };
  try {
    must(['link', 'add', lan.bridge, 'type', 'bridge']);
    must(['addr', 'add', `${lan.gateway}/24`, 'dev', lan.bridge]);
    must(['link', 'set', lan.bridge, 'up']);
    lan.hosts.forEach((h, i) => {
      const outside = `snv${tag}${i}`;
      const inside = `snh${tag}${i}`;
      must(['netns', 'add', h.netns]);
      must(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      must(['link', 'set', outside, 'master', lan.bridge]);
      must(['link', 'set', outside, 'up']);
      must(['link', 'set', inside, 'netns', h.netns]);
      must(['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', inside]);
      must(['-n', h.netns, 'link', 'set', inside, 'up']);
      must(['-n', h.netns, 'link', 'set', 'lo', 'up']);
    });
  } catch (err) {
    lan.remove();
    throw err;
  }
  return lan;
}

/** Names this test made that are still there (empty after remove()). */
export function leftovers(lan: Lan): string[] {
  const netns = ip(['netns', 'list']).out;
  const links = ip(['-o', 'link', 'show']).out;
  const tag = lan.bridge.slice('snbr'.length);
  return [
    ...lan.hosts.filter((h) => netns.split('\n').some((l) => l.split(' ')[0] === h.netns)).map((h) => h.netns),
    ...[lan.bridge, ...lan.hosts.map((_, i) => `snv${tag}${i}`)].filter((n) => links.includes(` ${n}:`) || links.includes(` ${n}@`)),
  ];
}
