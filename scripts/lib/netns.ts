/**
 * A small network of hosts made of Linux network namespaces, as scripts/multihost.sh builds it:
 * one bridge in a switch namespace, one veth link per host, one subnet. Needs root and iproute2;
 * `unavailable()` says why it cannot be made here. remove() ends what runs inside and deletes
 * every namespace.
 */
import { execFileSync } from 'node:child_process';

export interface Network {
  /** The namespace name of a host. */
  ns(host: string): string;
  remove(): void;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    ip('netns', 'list');
  } catch {
    return 'the ip command (iproute2) is missing';
  }
  return undefined;
}

/** Makes the namespaces `<prefix>-lan` and `<prefix>-<host>` for each host, with its address in a /24. */
export function createNetwork(prefix: string, hosts: Record<string, string>): Network {
  const lan = `${prefix}-lan`;
  const ns = (host: string) => `${prefix}-${host}`;
  const names = [lan, ...Object.keys(hosts).map(ns)];
  const remove = () => {
    const existing = ip('netns', 'list').split('\n').map((line) => line.split(' ')[0]);
    for (const name of names) {
      if (!existing.includes(name)) continue;
      for (const pid of ip('netns', 'pids', name).split('\n').filter((p) => p !== '')) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      try {
        ip('netns', 'del', name);
      } catch {
        // removed meanwhile
      }
    }
  };
  remove(); // stale ones from a run that could not clean up
  ip('netns', 'add', lan);
  ip('-n', lan, 'link', 'set', 'lo', 'up');
  ip('-n', lan, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', lan, 'link', 'set', 'br0', 'up');
  for (const [host, address] of Object.entries(hosts)) {
    ip('netns', 'add', ns(host));
    ip('-n', ns(host), 'link', 'set', 'lo', 'up');
    ip('link', 'add', 'eth0', 'netns', ns(host), 'type', 'veth', 'peer', 'name', `v-${host}`, 'netns', lan);
    ip('-n', lan, 'link', 'set', `v-${host}`, 'master', 'br0');
    ip('-n', lan, 'link', 'set', `v-${host}`, 'up');
    ip('-n', ns(host), 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', ns(host), 'link', 'set', 'eth0', 'up');
  }
  return { ns, remove };
}
