/** Network namespaces (scripts/lib/netns.ts), for the tests that build their own network. */
export * from '../../scripts/lib/netns.js';
