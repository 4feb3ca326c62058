// wsmw demo page: get a demo token, connect to /ws, log every event.
// Plain JavaScript, no build step. Close lines read
//   close code=1008 reason="session expired" wasClean=true
// so people and the conformance suite can grep them.
'use strict';

(() => {
  // Codes that mean "try again": going away (shutdown, idle), restart, try
  // later, and a lost connection. 1008 and 44xx mean "fix something first"
  // (a new token, a smaller message), so the page does not retry them.
  const RETRY_CODES = new Set([1001, 1012, 1013, 1006]);
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 30000;
  const SHOW_MAX = 200; // characters of a message shown in the log

  const $ = (id) => document.getElementById(id);
  let ws = null; // the current socket, if any
  let wanted = false; // the user wants a connection (cleared by Disconnect and final codes)
  let attempt = 0; // reconnect attempts since the last open
  let timer = null; // pending reconnect
  let generation = 0; // bumps on every connect/disconnect so stale async work stops

  function stamp() {
    const d = new Date();
    const p = (n, w) => String(n).padStart(w, '0');
    return `${p(d.getHours(), 2)}:${p(d.getMinutes(), 2)}:${p(d.getSeconds(), 2)}.${p(d.getMilliseconds(), 3)}`;
  }

  function log(kind, text) {
    const li = document.createElement('li');
    li.className = kind;
    const t = document.createElement('span');
    t.className = 't';
    t.textContent = stamp() + ' ';
    li.append(t, text);
    const list = $('log');
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  function show(data) {
    if (typeof data !== 'string') {
      return `(binary, ${data.size ?? data.byteLength} bytes)`;
    }
    return data.length > SHOW_MAX ? `${data.slice(0, SHOW_MAX)}… (${data.length} characters)` : data;
  }

  function setStatus(state, text) {
    const s = $('status');
    s.dataset.state = state;
    s.textContent = text || state;
    const open = state === 'open';
    $('send').disabled = !open;
    $('refresh').disabled = !open;
    $('disconnect').disabled = state === 'idle' || state === 'closed';
    $('connect').disabled = open || state === 'connecting';
  }

  // getToken asks the example for a demo token. The token is never shown.
  async function getToken() {
    const sub = $('sub').value.trim() || 'demo';
    const ttl = $('ttl').value.trim() || '10m';
    const res = await fetch('/token?' + new URLSearchParams({ sub, ttl }), { cache: 'no-store' });
    const body = (await res.text()).trim();
    if (!res.ok) {
      throw new Error(`GET /token: HTTP ${res.status} ${body.slice(0, SHOW_MAX)}`);
    }
    if (body.startsWith('{')) {
      const j = JSON.parse(body);
      const tok = j.token || j.access_token;
      if (!tok) throw new Error('GET /token: no token in the answer');
      return tok;
    }
    return body;
  }

  function socketURL() {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    return scheme + location.host + '/ws';
  }

  async function connect() {
    clearTimeout(timer);
    timer = null;
    wanted = true;
    const mine = ++generation;
    setStatus('connecting');
    let token;
    try {
      token = await getToken();
    } catch (e) {
      log('error', `token error: ${e.message}`);
      if (mine !== generation) return; // disconnected meanwhile
      // The server is down or restarting: keep trying, with backoff,
      // until it is back (or the user gives up).
      if (attempt > 0 && $('autoreconnect').checked) {
        retryLater('the token request failed');
        return;
      }
      wanted = false;
      setStatus('closed', 'no token');
      return;
    }
    if (mine !== generation) return; // disconnected meanwhile
    const url = socketURL();
    const byQuery = $('query').checked;
    log('info', `connecting ${url} (token by ${byQuery ? 'query ?access_token=' : 'subprotocol'})`);
    const sock = byQuery
      ? new WebSocket(url + '?access_token=' + encodeURIComponent(token))
      : new WebSocket(url, ['bearer', token]);
    ws = sock;
    sock.onopen = () => {
      attempt = 0;
      log('open', `open protocol=${sock.protocol || '(none)'}`);
      setStatus('open');
    };
    sock.onmessage = (ev) => log('message', `message: ${show(ev.data)}`);
    sock.onerror = () => log('error', 'error (the close event follows)');
    sock.onclose = (ev) => {
      if (ws === sock) ws = null;
      log('close', `close code=${ev.code} reason=${JSON.stringify(ev.reason)} wasClean=${ev.wasClean}`);
      setStatus('closed', `closed ${ev.code}`);
      if (mine === generation) afterClose(ev.code);
    };
  }

  function finalWhy(code) {
    if (code === 1000) return 'normal closure';
    if (code === 1008) return 'policy violation: get a new token or fix the client first';
    if (code >= 4400 && code < 4500) return 'application policy code';
    return 'not a retry code';
  }

  // afterClose reconnects with jittered exponential backoff, only for the
  // codes that mean "try again".
  function afterClose(code) {
    if (!wanted) {
      log('info', 'not reconnecting: closed by the user');
      return;
    }
    if (!RETRY_CODES.has(code)) {
      wanted = false;
      log('info', `not reconnecting: ${code} is final (${finalWhy(code)})`);
      return;
    }
    if (!$('autoreconnect').checked) {
      wanted = false;
      log('info', `not reconnecting: ${code} would retry, but auto-reconnect is off`);
      return;
    }
    retryLater(code);
  }

  // retryLater schedules the next attempt with jittered exponential
  // backoff; why is the close code or what failed.
  function retryLater(why) {
    attempt++;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2); // "equal jitter"
    log('info', `reconnecting in ${(delay / 1000).toFixed(2)}s (attempt ${attempt} after ${why})`);
    setStatus('waiting', `reconnecting in ${(delay / 1000).toFixed(1)}s`);
    timer = setTimeout(connect, delay);
  }

  function disconnect() {
    wanted = false;
    generation++;
    clearTimeout(timer);
    timer = null;
    if (ws) {
      log('info', 'closing: code=1000 reason="bye"');
      ws.close(1000, 'bye');
    } else {
      setStatus('idle');
    }
  }

  function send(ev) {
    ev.preventDefault();
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const text = $('message').value;
    ws.send(text);
    log('send', `send: ${show(text)}`);
  }

  async function refresh() {
    const sock = ws;
    if (!sock) return;
    let token;
    try {
      token = await getToken();
    } catch (e) {
      log('error', `token error: ${e.message}`);
      return;
    }
    if (sock.readyState !== WebSocket.OPEN) return;
    sock.send(JSON.stringify({ type: 'refresh', token }));
    log('send', `send: refresh with a new token (ttl=${$('ttl').value.trim() || '10m'})`);
  }

  function init() {
    // Prefill from the page's own query (?sub=alice&ttl=30s&query=1), handy
    // for sharing a setup; never a token.
    const params = new URLSearchParams(location.search);
    if (params.get('sub')) $('sub').value = params.get('sub');
    if (params.get('ttl')) $('ttl').value = params.get('ttl');
    if (params.get('query') === '1') $('query').checked = true;
    $('connect').addEventListener('click', connect);
    $('disconnect').addEventListener('click', disconnect);
    $('refresh').addEventListener('click', refresh);
    $('clear').addEventListener('click', () => $('log').replaceChildren());
    $('controls').addEventListener('submit', send);
    setStatus('idle');
    log('info', 'ready: press Connect');
  }

  init();
})();
