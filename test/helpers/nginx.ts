/**
 * Real nginx instances for tests, each in the foreground with everything it writes inside a
 * temp dir, no root needed. nginx comes from Debian's `nginx` package (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './classic.js';
import { get, waitFor } from './http.js';

/** The nginx binary on PATH or in the usual sbin directories, if any. */
export function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface Nginx {
  child: ChildProcess;
  port: number;
  exited: Promise<unknown>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts nginx `index` with one server block on a free loopback port: `site(port)` is the
 * block's text (listen line included). Resolves once the port answers HTTP at all.
 */
export async function startNginx(nginx: string, dir: string, index: number, site: (port: number) => string): Promise<Nginx> {
  const port = await freePort();
  const conf = path.join(dir, `nginx-${index}.conf`);
  const asRoot = process.getuid?.() === 0;
  writeFileSync(
    conf,
    `${asRoot ? 'user root;\n' : ''}worker_processes 1;
pid ${dir}/nginx-${index}.pid;
error_log ${dir}/error-${index}.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body-${index};
  proxy_temp_path ${dir}/proxy-${index};
  fastcgi_temp_path ${dir}/fastcgi-${index};
  uwsgi_temp_path ${dir}/uwsgi-${index};
  scgi_temp_path ${dir}/scgi-${index};
${site(port)}
}
`,
  );
  const child = spawn(nginx, ['-p', dir, '-c', conf, '-e', path.join(dir, `error-${index}.log`), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  await waitFor(`nginx ${index} on port ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    try {
      return (await get(`http://127.0.0.1:${port}/`)).status > 0;
    } catch {
      return false;
    }
  });
  return { child, port, exited, stop };
}
