export * from './digest.js';
export * from './descriptor.js';
export * from './media-types.js';
export * from './manifest.js';
export * from './reference.js';
