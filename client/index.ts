/** policy-broker/client: talk to a broker (send a packet, get its answer) and load it. */
export { BrokerClient, describeSocketError, type Answer, type ReplyAnswer, type ErrorAnswer, type OtherAnswer, type ClientOptions } from './client.js';
export { ClientError, ClientErrorCode } from './errors.js';
export type { Seq } from '../broker/protocol/packet-types.js';
export { runLoad, randomAscii, type LoadOptions, type LoadProgress } from './load.js';
export { LoadStats, formatSummary, type LoadSummary } from './summary.js';
export { ExactLatencies, LatencyHistogram, latencyRecorder, type LatencyRecorder } from './latency.js';
export { readPacketFile, parsePackets, type FilePacket } from './packet-file.js';
export { CLIENT_DEFAULTS, LOAD_DEFAULTS, VERIFY_MODES, type VerifyMode } from './options.js';
