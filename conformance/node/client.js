#!/usr/bin/env node
// A wsmw conformance client on Node's `ws` (npm). Same config and output as
// ../python/client.py: node client.js '<JSON config>' prints one JSON object
// per line for every event (open, message, ready, close,
// unexpected-response, error). The Go side reads them.
'use strict';

const WebSocket = require('ws');

const cfg = JSON.parse(process.argv[2]);
const emit = (event, fields = {}) => process.stdout.write(JSON.stringify({ ...fields, event }) + '\n');

const deadline = setTimeout(() => {
  emit('error', { error: 'timed out' });
  process.exit(3);
}, cfg.timeout_ms || 15000);

const opts = { handshakeTimeout: 5000, perMessageDeflate: false, maxPayload: 0 };
if (cfg.headers) opts.headers = cfg.headers;
if (cfg.origin) opts.origin = cfg.origin;
const ws = new WebSocket(cfg.url, cfg.protocols || [], opts);

// waiting holds the one pending expectation: a predicate over incoming text.
let waiting = null;
let closed = false;
let ticker = null;

function expect(pred, what) {
  return new Promise((resolve, reject) => {
    if (closed) {
      reject(new Error('connection closed while waiting for ' + what));
      return;
    }
    waiting = { pred, resolve, reject, what };
  });
}

const replyType = (want) => (msg) => {
  if (!msg.startsWith('{')) return false;
  try {
    return JSON.parse(msg).type === want;
  } catch {
    return false;
  }
};

ws.on('unexpected-response', (req, res) => {
  emit('unexpected-response', { status: res.statusCode, wwwAuthenticate: res.headers['www-authenticate'] || '' });
  res.resume();
  req.destroy();
  clearTimeout(deadline);
  process.exitCode = 0;
  setImmediate(() => process.exit(0));
});

ws.on('error', (err) => emit('error', { error: String(err && err.message) }));

ws.on('message', (data, isBinary) => {
  if (isBinary) {
    emit('message', { binary: true, size: data.length });
    return;
  }
  const text = data.toString('utf8');
  emit('message', { data: text.slice(0, 200), size: text.length });
  if (waiting && waiting.pred(text)) {
    const w = waiting;
    waiting = null;
    w.resolve(text);
  }
});

// The WHATWG-style listener gives wasClean: ws sets it when Close frames
// went both ways.
ws.addEventListener('close', (ev) => {
  closed = true;
  clearInterval(ticker);
  if (waiting) {
    const w = waiting;
    waiting = null;
    w.reject(new Error('connection closed while waiting for ' + w.what));
  }
  emit('close', { code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
  clearTimeout(deadline);
});

ws.on('open', async () => {
  emit('open', { protocol: ws.protocol || '' });
  try {
    if (cfg.hello) {
      ws.send('hello');
      await expect((m) => m === 'hello', 'the echo of hello');
    }
    if (cfg.refresh_bad) {
      ws.send(JSON.stringify({ type: 'refresh', token: 'not-a-token' }));
      await expect(replyType('error'), 'the refusal of a bad refresh');
    }
    if (cfg.refresh) {
      ws.send(JSON.stringify({ type: 'refresh', token: cfg.refresh }));
      await expect(replyType('refreshed'), 'refreshed');
    }
    if (cfg.payload_size) ws.send('x'.repeat(cfg.payload_size));
    for (let i = 0; i < (cfg.flood || 0); i++) ws.send('flood ' + i);
    if (cfg.tick_ms) {
      ticker = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send('tick');
      }, cfg.tick_ms);
    }
    emit('ready');
    if (cfg.close) ws.close(cfg.close[0], cfg.close[1]);
  } catch (err) {
    emit('error', { error: err.message });
  }
});
