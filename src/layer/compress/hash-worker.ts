import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { HashRequest, HashReply } from './protocol.js';

/** sha256 of several streams at once, each fed its blocks in order over shared memory. */
const port = parentPort;
if (!port) throw new Error('compress/hash-worker.js runs only as a worker thread');

const sessions = new Map<number, { hash: Hash; size: number }>();

port.on('message', (msg: HashRequest) => {
  if (msg.op === 'update') {
    let s = sessions.get(msg.session);
    if (!s) sessions.set(msg.session, (s = { hash: createHash('sha256'), size: 0 }));
    s.hash.update(new Uint8Array(msg.data, 0, msg.length));
    s.size += msg.length;
    return;
  }
  const s = sessions.get(msg.session);
  sessions.delete(msg.session);
  if (msg.op === 'digest') {
    const reply: HashReply = { session: msg.session, hex: (s?.hash ?? createHash('sha256')).digest('hex'), size: s?.size ?? 0 };
    port.postMessage(reply);
  }
});
