// Build step: the dashboard's browser files (broker/admin/dashboard/) go next to the compiled
// admin pages (dist/broker/admin/dashboard/), which read them at run time. Plain JavaScript so
// that it runs before and without the TypeScript build.
import { cpSync, mkdirSync } from 'node:fs';

const from = new URL('../broker/admin/dashboard/', import.meta.url);
const to = new URL('../dist/broker/admin/dashboard/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const name of ['index.html', 'style.css', 'app.js']) cpSync(new URL(name, from), new URL(name, to));
