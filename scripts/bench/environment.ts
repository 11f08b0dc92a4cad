/**
 * What the benchmark runs on: the machine, and the peers, found on the PATH or installed from
 * Debian's packages (as root, with apt-get) when missing; the npm peers are dev dependencies.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROGRAMS, REPO_ROOT } from '../lib/programs.js';
import { which } from '../lib/which.js';

/** Binary → Debian package. */
export const APT_PEERS = { 'nats-server': 'nats-server', nginx: 'nginx', haproxy: 'haproxy', wrk: 'wrk', ab: 'apache2-utils', 'redis-server': 'redis-server', 'redis-sentinel': 'redis-sentinel' } as const;
export const NPM_PEERS = ['nats', 'http-proxy', 'undici'] as const;

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadAverage: number[];
  fileDescriptorLimit: number;
}

export interface Environment {
  machine: Machine;
  /** Peer name → version string, for those found. */
  versions: Record<string, string>;
  /** Peers not available: their cases are skipped. */
  missing: Set<string>;
  brokerHttp: boolean;
  brokerWorkers: boolean;
  policyBrokerVersion: string;
  commit: string;
}

/** What a command prints on stdout and stderr together (nginx -v and wrk -v print on stderr; wrk exits 1). */
function output(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

/** Installs the missing Debian peers when running as root; returns what is still missing. */
export function ensureAptPeers(install: boolean, log: (line: string) => void): Set<string> {
  let missing = Object.keys(APT_PEERS).filter((b) => !which(b));
  if (missing.length > 0 && install && process.getuid?.() === 0 && which('apt-get')) {
    const packages = missing.map((b) => APT_PEERS[b as keyof typeof APT_PEERS]);
    log(`installing ${packages.join(' ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
    }
    missing = missing.filter((b) => !which(b));
  }
  for (const b of missing) log(`${b} is missing (apt-get install ${APT_PEERS[b as keyof typeof APT_PEERS]}): its cases are skipped`);
  return new Set(missing);
}

function npmVersion(name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

export function describeEnvironment(missing: Set<string>): Environment {
  const versions: Record<string, string> = {};
  if (!missing.has('nats-server')) versions['nats-server'] = output('nats-server', ['--version']).trim().replace(/^nats-server:\s*/, '');
  if (!missing.has('nginx')) versions.nginx = output('nginx', ['-v']).trim().replace(/^nginx version:\s*nginx\//, '');
  if (!missing.has('haproxy')) versions.haproxy = output('haproxy', ['-v']).split('\n')[0]!.replace(/^HAProxy version\s*/, '').replace(/\s.*$/, '');
  if (!missing.has('wrk')) versions.wrk = output('wrk', ['-v']).split('\n')[0]!.replace(/^wrk\s*/, '').replace(/\s.*$/, '');
  if (!missing.has('redis-server')) versions['redis-server'] = output('redis-server', ['--version']).replace(/^Redis server v=(\S+).*$/s, '$1');
  for (const name of NPM_PEERS) {
    const v = npmVersion(name);
    if (v === undefined) missing.add(`npm:${name}`);
    else versions[`npm ${name}`] = v;
  }
  if (missing.has('npm:nats')) missing.add('nats-server');
  const help = output(process.execPath, [PROGRAMS.broker, '--help']);
  const cpus = os.cpus();
  return {
    machine: {
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
      kernel: `${os.type()} ${os.release()}`,
      node: process.version,
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
      fileDescriptorLimit: Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()),
    },
    versions,
    missing,
    brokerHttp: help.includes('--http-port'),
    brokerWorkers: help.includes('--workers'),
    policyBrokerVersion: (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    commit: spawnSync('git', ['-C', REPO_ROOT, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).stdout.trim(),
  };
}
