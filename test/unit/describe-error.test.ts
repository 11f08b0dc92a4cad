import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeError } from '../../broker/support/describe-error.js';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('describeError', () => {
  it('says socket errors as people do, with their code', () => {
    assert.equal(describeError(withCode('connect ECONNREFUSED 127.0.0.1:2100', 'ECONNREFUSED')), 'connection refused (ECONNREFUSED)');
    assert.equal(describeError(withCode('getaddrinfo ENOTFOUND nowhere', 'ENOTFOUND')), 'host not found (ENOTFOUND)');
  });

  it('puts a code in front of a message that does not name it, once', () => {
    assert.equal(describeError(withCode('other side closed', 'UND_ERR_SOCKET')), 'UND_ERR_SOCKET: other side closed');
    assert.equal(describeError(withCode('Headers Timeout Error (UND_ERR_HEADERS_TIMEOUT)', 'UND_ERR_HEADERS_TIMEOUT')), 'Headers Timeout Error (UND_ERR_HEADERS_TIMEOUT)');
  });

  it('gives the message of an error without a code, and String() of anything else', () => {
    assert.equal(describeError(new Error('plain')), 'plain');
    assert.equal(describeError('a string'), 'a string');
    assert.equal(describeError(42), '42');
  });
});
