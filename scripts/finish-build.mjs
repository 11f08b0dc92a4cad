// Build step, after tsc: what the compiled programs need beside them. Plain JavaScript with
// node:fs only, so that it runs the same on Linux, macOS and Windows (no shell commands).
// - The dashboard's browser files (broker/admin/dashboard/) go next to the compiled admin pages
//   (dist/broker/admin/dashboard/), which read them at run time.
// - Every program named in package.json's "bin" becomes executable, so that it can be run as a
//   file and its #! line (node and its flags) is honoured (the Docker image does that).
import { chmodSync, cpSync, mkdirSync, readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const from = new URL('broker/admin/dashboard/', root);
const to = new URL('dist/broker/admin/dashboard/', root);
mkdirSync(to, { recursive: true });
for (const name of ['index.html', 'style.css', 'app.js']) cpSync(new URL(name, from), new URL(name, to));

const { bin } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
// On Windows chmod only toggles read-only; the programs are started through npm's shims there.
for (const file of Object.values(bin)) chmodSync(new URL(file, root), 0o755);
