/**
 * The dashboard's files (broker/admin/dashboard/) as the broker serves them and as the package
 * ships them: one document with its style and script inlined, a CSP that names exactly their
 * hashes, and the three files in what `npm pack` would publish.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DASHBOARD_CSP, DASHBOARD_HTML } from '../../broker/admin/dashboard-page.js';
import { REPO_ROOT } from '../helpers/programs.js';

const source = (name: string) => readFileSync(path.join(REPO_ROOT, 'broker', 'admin', 'dashboard', name), 'utf8');
const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('the dashboard page', () => {
  it('is index.html with style.css and app.js inlined, and nothing left to fetch', () => {
    const style = source('style.css');
    const script = source('app.js');
    assert.ok(DASHBOARD_HTML.includes(`<style>${style}</style>`));
    assert.ok(DASHBOARD_HTML.includes(`<script>${script}</script>`));
    assert.ok(script.startsWith('// @ts-check'), 'app.js is type-checked');
    assert.doesNotMatch(DASHBOARD_HTML, /<script src=|<link rel="stylesheet"|(?:src|href)="?(?:https?:)?\/\//);
  });

  it('has a CSP that allows exactly its own style and script', () => {
    const directives = Object.fromEntries(DASHBOARD_CSP.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
    assert.equal(directives['default-src'], "'none'");
    assert.equal(directives['script-src'], hash(source('app.js')));
    assert.equal(directives['style-src'], hash(source('style.css')));
    assert.equal(directives['connect-src'], "'self'");
  });

  it('ships its three files in the package', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
    for (const name of ['index.html', 'style.css', 'app.js']) assert.ok(files.has(`dist/broker/admin/dashboard/${name}`), `dist/broker/admin/dashboard/${name} is not packed`);
  });
});
