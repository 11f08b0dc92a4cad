/**
 * Throw-away certificates for TLS tests, made with the openssl command line in a temporary
 * directory: a CA, and a certificate it signs for 127.0.0.1 and localhost.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  dir: string;
  /** The CA's certificate: what clients trust. */
  ca: string;
  /** A certificate signed by the CA for IP 127.0.0.1 and DNS localhost, and its key. */
  cert: string;
  key: string;
  remove(): Promise<void>;
}

/** Makes a CA and a server certificate it signed (EC P-256, valid one day). */
export async function makeTestCa(name = 'policy-broker test CA'): Promise<TestCa> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pb-tls-'));
  const file = (f: string) => path.join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-out', file('server.pem'), '-days', '1', '-extfile', file('ext.cnf')]);
  return {
    dir,
    ca: file('ca.pem'),
    cert: file('server.pem'),
    key: file('server.key'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
