// @ts-check
/**
 * Privacy redaction for one policy (docs/hooks.md): packets of policy 222 reach its servers with
 * e-mail addresses and phone numbers masked, and replies of those servers reach clients the
 * same way. Packets of other policies are not touched (not even looked at).
 *
 *   policy-broker --plugin scripts/examples/hooks/redact-policy.mjs
 *
 * Fail-closed (the default): if redaction fails, the packet is answered HOOK_FAILED rather
 * than sent unredacted.
 */
const POLICY = Number(process.env.REDACT_POLICY ?? 222);
const EMAIL = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;
const PHONE = /\+?\d[\d -]{7,}\d/g;

/** @param {string} text */
function redact(text) {
  return text.replace(EMAIL, '[email]').replace(PHONE, '[phone]');
}

/** @type {import('../../../broker/index.js').Interceptor} */
export default {
  name: 'redact-policy',
  match: { policies: [POLICY] },
  onPacket(packet) {
    return { ...packet, payload: redact(packet.payload) };
  },
  onReply(reply) {
    reply.payload = redact(reply.payload);
  },
};
