/** The protocol shared by devices and the key service. docs/protocol.md is its specification. */
export * from './errors.js';
export * from './wire.js';
export * from './topics.js';
export * from './readings.js';
export * from './envelope.js';
export * from './session-keys.js';
export * from './certificates.js';
export * from './kex.js';
export * from './replay-window.js';
export * from './control.js';
export * from './rotation.js';
export * from './service-certificates.js';
