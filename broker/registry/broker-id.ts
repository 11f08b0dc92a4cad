/**
 * This broker's id in a shared registry: the owner written on the records it takes and the
 * name of its key. Host name and pid tell people which process it is; the random part keeps
 * two brokers apart that share both (containers all run as pid 1; tests run several in one
 * process).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export function brokerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
