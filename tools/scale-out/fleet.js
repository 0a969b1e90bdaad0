// The device fleet for tools/scale-out: N MQTT 3.1.1 devices (the npm `mqtt` package, a client
// nobody here wrote) streaming QoS 1 through a load balancer, one message in flight per device,
// each body "<device>:<seq>". Reconnects on its own after a close, as a device would.
//
// Commands on stdin, one JSON answer a line on stdout:
//   phase NAME          start counting disconnects and reconnect times afresh under NAME
//   stats               {connected, sent, acked, phase: {disconnects, reconnected, p50_ms, max_ms}}
//   move ID... URL      drop those devices' connections abruptly and connect them through URL
//   stop                stop publishing, wait for what is in flight, and print every acked seq
'use strict';

const path = require('node:path');
const readline = require('node:readline');
const mqtt = require(path.join(__dirname, '..', '..', 'tests', 'node', 'node_modules', 'mqtt'));

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

const url = arg('url');
const count = Number(arg('devices', '1000'));
const interval = Number(arg('interval-ms', '1000'));
const pinned = Number(arg('pinned', '0'));  // the first ones connect through --pinned-url
const pinnedUrl = arg('pinned-url', url);

const devices = [];
let publishing = true;
let phase = { name: 'start', disconnects: 0, reconnects: [] };

function connect(d, through) {
  d.client = mqtt.connect(through, {
    clientId: d.id,
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 200 + Math.floor(Math.random() * 300),  // spread, as a fleet would
    connectTimeout: 10000,
  });
  d.client.on('connect', () => {
    d.connected = true;
    if (d.downSince !== null) {
      phase.reconnects.push(Date.now() - d.downSince);
      d.downSince = null;
    }
  });
  d.client.on('close', () => {
    if (d.connected) {
      phase.disconnects += 1;
      d.downSince = Date.now();
    }
    d.connected = false;
  });
  d.client.on('error', () => {});  // refused or reset: the reconnect timer tries again
}

function tick(d) {
  if (!publishing) return;
  if (d.connected && !d.inFlight) {
    const seq = d.next;
    d.next += 1;
    d.inFlight = true;
    d.sent += 1;
    d.client.publish(`devices/${d.id}/messages/events/`, `${d.id}:${seq}`, { qos: 1 }, (err) => {
      d.inFlight = false;
      if (!err) d.acked.push(seq);
      // An error: the connection went first. The message may still reach the hub (it is then
      // a duplicate-free extra), but it was never acknowledged, so nothing is owed for it.
    });
  }
  d.timer = setTimeout(() => tick(d), interval);
}

for (let i = 0; i < count; i += 1) {
  const d = { id: `dev${i}`, next: 1, sent: 0, acked: [], connected: false, inFlight: false,
              downSince: null, client: null, timer: null };
  devices.push(d);
  connect(d, i < pinned ? pinnedUrl : url);
  d.timer = setTimeout(() => tick(d), Math.floor(Math.random() * interval));
}

function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function stats() {
  return {
    connected: devices.filter((d) => d.connected).length,
    sent: devices.reduce((n, d) => n + d.sent, 0),
    acked: devices.reduce((n, d) => n + d.acked.length, 0),
    phase: {
      name: phase.name,
      disconnects: phase.disconnects,
      reconnected: phase.reconnects.length,
      p50_ms: percentile(phase.reconnects, 50),
      max_ms: percentile(phase.reconnects, 100),
    },
  };
}

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, ...rest] = line.trim().split(/\s+/);
  if (command === 'phase') {
    phase = { name: rest[0], disconnects: 0, reconnects: [] };
    say({ phase: rest[0] });
  } else if (command === 'stats') {
    say(stats());
  } else if (command === 'move') {
    const through = rest.pop();
    for (const id of rest) {
      const d = devices.find((x) => x.id === id);
      if (!d) continue;
      d.client.end(true);  // abrupt: no DISCONNECT, as when a device's network changes
      if (d.connected) {
        phase.disconnects += 1;
        d.downSince = Date.now();
      }
      d.connected = false;
      d.inFlight = false;
      connect(d, through);
    }
    say({ moved: rest.length });
  } else if (command === 'stop') {
    publishing = false;
    const deadline = Date.now() + 15000;
    const wait = () => {
      if (devices.some((d) => d.inFlight) && Date.now() < deadline) {
        setTimeout(wait, 50);
        return;
      }
      const acked = {};
      for (const d of devices) acked[d.id] = d.acked;
      say({ final: stats(), acked });
      for (const d of devices) {
        clearTimeout(d.timer);
        d.client.end(true);
      }
      setTimeout(() => process.exit(0), 200);
    };
    wait();
  }
});
