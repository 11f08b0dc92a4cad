/**
 * The package's version, for every command's --version: read from package.json, which sits
 * three levels above this file both in a clone (dist/broker/support/) and in an install.
 */
import { readFileSync } from 'node:fs';

export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
