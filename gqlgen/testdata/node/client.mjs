// A GraphQL subscription client for wsmw/gqlgen's tests, on the npm
// graphql-ws client (graphql-transport-ws) or subscriptions-transport-ws
// (the legacy graphql-ws subprotocol), both over Node's ws.
//
//   node client.mjs '{"url":"ws://127.0.0.1:8081/query","token":"…","everyMs":50,"ticks":3}'
//
// Options (one JSON argument):
//   url        the endpoint
//   protocol   "graphql-transport-ws" (default) or "graphql-ws" (legacy)
//   token      sent as connection_init's payload {"token": …}; omitted when absent
//   tokenUrl   fetch a fresh token from this URL (the example's GET /token,
//              whose JSON has "token") for each connection_init instead
//   shouldRetryAll  retry every failed connection, a refused one included
//              (shouldRetry: () => true; graphql-ws's default retries close
//              events only, and gives up on ECONNREFUSED)
//   initDelayMs  wait this long before sending connection_init (graphql-ws only)
//   everyMs    ticks(everyMs:), default 50
//   ticks      unsubscribe after this many ticks (0: never)
//   retryAttempts, retryWaitMs   graphql-ws's retries (default 0 attempts;
//              100 ms between them; retryWaitMs "default" keeps graphql-ws's
//              randomised exponential backoff)
//
// Every event is one JSON line on stdout: {"event":"connecting","retrying":b},
// {"event":"opened"}, {"event":"connected"}, {"event":"next","value":n},
// {"event":"closed","code":c,"reason":r,"wasClean":b},
// {"event":"error","code":c,"reason":r,"message":m}, {"event":"complete"},
// {"event":"ready"} after the first tick. The process exits 0 after the
// subscription errors or completes and the socket is closed.
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import stws from 'subscriptions-transport-ws';

const opts = JSON.parse(process.argv[2] ?? '{}');
const everyMs = opts.everyMs ?? 50;
const wantTicks = opts.ticks ?? 0;
const query = `subscription { ticks(everyMs: ${everyMs}) }`;
const t0 = Date.now();

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ms: Date.now() - t0, ...fields }) + '\n');
}

function describe(err) {
  if (err && typeof err === 'object' && 'code' in err && 'reason' in err) {
    return { code: err.code, reason: err.reason, message: String(err.message ?? '') };
  }
  if (Array.isArray(err)) return { message: err.map((e) => e.message).join('; ') };
  return { message: String(err?.message ?? err) };
}

const payload = opts.token !== undefined ? { token: opts.token } : undefined;

// connectionParams: the fixed token, or a fresh one from tokenUrl each time.
async function params() {
  if (!opts.tokenUrl) return payload;
  const res = await fetch(opts.tokenUrl);
  return { token: (await res.json()).token };
}

if ((opts.protocol ?? 'graphql-transport-ws') === 'graphql-transport-ws') {
  let closedOnce;
  const closed = new Promise((resolve) => (closedOnce = resolve));
  const client = createClient({
    url: opts.url,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: opts.retryAttempts ?? 0,
    ...(opts.retryWaitMs === 'default'
      ? {}
      : { retryWait: async () => new Promise((r) => setTimeout(r, opts.retryWaitMs ?? 100)) }),
    ...(opts.shouldRetryAll ? { shouldRetry: () => true } : {}),
    connectionParams: async () => {
      if (opts.initDelayMs) await new Promise((r) => setTimeout(r, opts.initDelayMs));
      return params();
    },
    on: {
      connecting: (retrying) => emit('connecting', { retrying }),
      opened: () => emit('opened'),
      connected: () => emit('connected'),
      closed: (ev) => {
        emit('closed', { code: ev?.code, reason: ev?.reason, wasClean: ev?.wasClean });
        closedOnce();
      },
    },
  });
  let n = 0;
  const done = new Promise((resolve) => {
    const dispose = client.subscribe(
      { query },
      {
        next: (v) => {
          n++;
          emit('next', { value: v?.data?.ticks ?? null });
          if (n === 1) emit('ready');
          if (wantTicks && n >= wantTicks) dispose();
        },
        error: (err) => {
          emit('error', describe(err));
          resolve();
        },
        complete: () => {
          emit('complete');
          resolve();
        },
      },
    );
  });
  await done;
  await closed;
  await client.dispose();
} else {
  const { SubscriptionClient } = stws;
  let sawError = false;
  const sc = new SubscriptionClient(
    opts.url,
    {
      reconnect: false,
      lazy: false,
      connectionParams: payload,
      connectionCallback: (err) => {
        if (err) {
          sawError = true;
          emit('error', describe(err));
        } else {
          emit('connected');
        }
      },
    },
    WebSocket,
  );
  sc.onConnecting(() => emit('connecting', { retrying: false }));
  sc.onConnected(() => emit('opened'));
  const closed = new Promise((resolve) => {
    sc.onDisconnected(() => resolve());
    sc.client.addEventListener?.('close', (ev) => emit('closed', { code: ev.code, reason: ev.reason, wasClean: ev.wasClean }));
  });
  let n = 0;
  const sub = sc.request({ query }).subscribe({
    next: (v) => {
      n++;
      emit('next', { value: v?.data?.ticks ?? null });
      if (n === 1) emit('ready');
      if (wantTicks && n >= wantTicks) {
        sub.unsubscribe();
        emit('complete');
        sc.close(true, true);
      }
    },
    error: (err) => {
      emit('error', describe(err));
      sc.close(true, true);
    },
    complete: () => emit('complete'),
  });
  await closed;
  if (sawError) sc.close(true, true);
}
process.exit(0);
