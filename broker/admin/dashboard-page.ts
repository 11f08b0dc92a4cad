/**
 * The live dashboard served at the admin prefix itself (`/_broker/`): one self-contained page,
 * nothing fetched from outside (it works offline). Its markup, style and script are real files
 * in dashboard/ (index.html, style.css, app.js; the script type-checked by tsc through
 * dashboard/tsconfig.json), copied next to this module by the build. They are read once, when
 * the admin pages load, and served as one document: the style and the script inlined where
 * index.html names them, under a Content-Security-Policy that allows exactly those two (by hash).
 *
 * Numbers a test or a script may read carry stable ids or data attributes: `#packets-received`,
 * `#packets-replied`, …, each with `data-value` (the raw number; the text is formatted), and
 * `[data-policy="111"] tr[data-kind="packet"][data-server="100"] [data-field="served"]`.
 * `body[data-updates]` counts the polls that succeeded.
 *
 * With --http-token, open the page as `/_broker/#token=<token>`: the page keeps the token in
 * the tab's sessionStorage and sends it as a Bearer header.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const STYLE_TAG = '<link rel="stylesheet" href="style.css">';
const SCRIPT_TAG = '<script src="app.js"></script>';

function asset(name: string): string {
  return readFileSync(new URL(`./dashboard/${name}`, import.meta.url), 'utf8');
}

/** `page` with `tag` replaced by `inline`; the tag must be there once (a changed index.html fails at load, not in a browser). */
function inlineAt(page: string, tag: string, inline: string): string {
  const at = page.indexOf(tag);
  if (at === -1 || page.indexOf(tag, at + 1) !== -1) throw new Error(`dashboard/index.html must contain ${tag} exactly once`);
  return page.slice(0, at) + inline + page.slice(at + tag.length);
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

const STYLE = asset('style.css');
const SCRIPT = asset('app.js');

/** The dashboard page. */
export const DASHBOARD_HTML = inlineAt(inlineAt(asset('index.html'), STYLE_TAG, `<style>${STYLE}</style>`), SCRIPT_TAG, `<script>${SCRIPT}</script>`);

/**
 * The page's Content-Security-Policy: its own inline style and script only (by hash), requests
 * to the broker only, nothing from anywhere else.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
