#!/usr/bin/env node
// MQTT over WebSockets through iotgw to iotgw-hub, with clients nobody here wrote:
//   Azure's device SDK over its WebSocket transport (azure-iot-device-mqtt MqttWs: MQTT 3.1.1 over
//   wss://{GatewayHostName}:443/$iothub/websocket, subprotocol mqtt): telemetry with its
//   properties read at the hub's service side, and a C2D message back with its properties;
//   the npm `mqtt` package with MQTT 5 over ws and over wss: telemetry with user properties and
//   content type read at the hub, the hub's refusal of an oversized message as a PUBACK reason
//   code (the connection stays), and C2D with its properties as MQTT 5 user properties.
// The hub's side is read and written with iotgw-hub's own CLI (monitor, send).
//
// Environment (run_websocket_test.sh sets it):
//   IOTGW_HUB_DEVICE_CS   the device's connection string (HostName = the hub's name)
//   IOTGW_HUB, IOTGW_HUB_URL, IOTGW_HUB_REGISTRY   iotgw-hub's binary, AMQP url and registry
//   IOTGW_WS_PORT, IOTGW_WSS_PORT   iotgw's ws and wss listeners (a third wss is on 443)
//   NODE_EXTRA_CA_CERTS   the CA that signed the gateway's certificate
// Every check prints PASS or FAIL; exit code 0 only when all passed.
'use strict';

const crypto = require('node:crypto');
const { execFile } = require('node:child_process');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { MqttWs } = require('azure-iot-device-mqtt');
const mqtt = require('mqtt');
const harness = require('./harness');

const { env, ok, fail, check, within, errorText, run } = harness;

const STEP_MS = 20000;
const deviceCs = env('IOTGW_HUB_DEVICE_CS');
const hubBin = env('IOTGW_HUB');
const hubUrl = env('IOTGW_HUB_URL');
const registry = env('IOTGW_HUB_REGISTRY');
const wsPort = env('IOTGW_WS_PORT');
const wssPort = env('IOTGW_WSS_PORT');

const fields = Object.fromEntries(deviceCs.split(';').map((kv) => {
  const at = kv.indexOf('=');
  return [kv.slice(0, at), kv.slice(at + 1)];
}));
const hubName = fields.HostName;
const deviceId = fields.DeviceId;

// The device's own SAS token, as its SDK would make it: the MQTT password.
function sasToken() {
  const sr = encodeURIComponent(`${hubName}/devices/${deviceId}`);
  const se = Math.floor(Date.now() / 1000) + 3600;
  const sig = crypto.createHmac('sha256', Buffer.from(fields.SharedAccessKey, 'base64'))
    .update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}`;
}

function hub(args) {
  return new Promise((resolve, reject) => {
    execFile(hubBin, [...args, '--registry', registry, '--url', hubUrl], { timeout: STEP_MS },
      (e, stdout, stderr) => (e ? reject(new Error(`iotgw-hub ${args[0]}: ${e.message} ${stderr}`))
        : resolve(stdout)));
  });
}

// Telemetry the hub holds so far (monitor reads from the start), the message with this body.
let held = 0;
async function atHub(body) {
  held += 1;
  const out = await hub(['monitor', '--count', String(held)]);
  const line = out.split('\n').find((l) => l.includes(`"body":"${body}"`));
  return line ? JSON.parse(line) : null;
}

async function azureMqttWs() {
  // MqttWs dials wss://{GatewayHostName || HostName}:443/$iothub/websocket.
  const device = DeviceClient.fromConnectionString(`${deviceCs};GatewayHostName=localhost`, MqttWs);
  try {
    await within(device.open(), 'MqttWs open', STEP_MS);
    ok('Azure device SDK (MqttWs) opens over wss through iotgw');
    const m = new Message('via-mqttws');
    m.messageId = 'ws-msg-1';
    m.contentType = 'text/plain';
    m.properties.add('transport', 'websocket');
    await within(device.sendEvent(m), 'MqttWs sendEvent', STEP_MS);
    const seen = await atHub('via-mqttws');
    check('MqttWs telemetry reaches the hub with its properties',
      seen && seen.properties.transport === 'websocket' && seen.system['message-id'] === 'ws-msg-1'
        && seen.system['content-type'] === 'text/plain', JSON.stringify(seen));

    const received = new Promise((resolve) => device.on('message', (msg) => {
      device.complete(msg, () => resolve(msg));
    }));
    await hub(['send', deviceId, 'c2d-over-wss', '--prop', 'colour=amber']);
    const msg = await within(received, 'MqttWs C2D', STEP_MS);
    check('MqttWs receives C2D with its properties',
      msg.data.toString() === 'c2d-over-wss' && msg.properties.getValue('colour') === 'amber',
      `${msg.data} ${JSON.stringify(msg.properties)}`);
  } finally {
    await device.close().catch(() => {});
  }
}

function connect5(url) {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId: deviceId,
    username: `${hubName}/${deviceId}/?api-version=2021-04-12`,
    password: sasToken(),
    reconnectPeriod: 0,
    connectTimeout: STEP_MS,
  });
  return within(new Promise((resolve, reject) => {
    client.once('connect', (connack) => resolve({ client, connack }));
    client.once('error', reject);
  }), `mqtt.js connect ${url}`, STEP_MS);
}

function publish(client, topic, payload, properties) {
  return new Promise((resolve) => client.publish(topic, payload, { qos: 1, properties },
    (e) => resolve(e || null)));
}

async function mqtt5(scheme, port) {
  const url = `${scheme}://localhost:${port}/$iothub/websocket`;
  const { client, connack } = await connect5(url);
  const events = `devices/${deviceId}/messages/events/`;
  try {
    check(`mqtt.js MQTT 5 over ${scheme}: CONNACK advertises no retain and QoS 1 at most`,
      connack.properties && connack.properties.retainAvailable === false
        && connack.properties.maximumQoS === 1, JSON.stringify(connack.properties));
    const body = `mqtt5-over-${scheme}`;
    const e = await publish(client, events, body,
      { userProperties: { site: 'north' }, contentType: 'application/json' });
    check(`mqtt.js MQTT 5 over ${scheme}: QoS 1 PUBACKed`, e === null, errorText(e));
    const seen = await atHub(body);
    check(`mqtt.js MQTT 5 over ${scheme}: user property and content type at the hub`,
      seen && seen.properties.site === 'north' && seen.system['content-type'] === 'application/json',
      JSON.stringify(seen));
    if (scheme !== 'ws') return;

    // Over IoT Hub's 256 KB: the hub refuses it, and MQTT 5 says so in the PUBACK.
    const refused = await publish(client, events, Buffer.alloc(262200, 0x61), {});
    check('mqtt.js MQTT 5: the hub\'s refusal is PUBACK reason code 0x83',
      refused && refused.code === 0x83, errorText(refused));
    const after = await publish(client, events, 'after-the-refusal', {});
    check('mqtt.js MQTT 5: the connection stays after a refused PUBLISH', after === null,
      errorText(after));
    await atHub('after-the-refusal');

    const granted = await new Promise((resolve, reject) => client.subscribe(
      `devices/${deviceId}/messages/devicebound/#`, { qos: 1 },
      (err, g) => (err ? reject(err) : resolve(g))));
    check('mqtt.js MQTT 5: devicebound subscription granted QoS 1', granted[0].qos === 1,
      JSON.stringify(granted));
    const arrived = new Promise((resolve) => client.once('message', (topic, payload, packet) =>
      resolve({ topic, payload: payload.toString(), packet })));
    await hub(['send', deviceId, 'c2d-for-mqtt5', '--prop', 'colour=green']);
    const c2d = await within(arrived, 'mqtt.js C2D', STEP_MS);
    const props = c2d.packet.properties || {};
    check('mqtt.js MQTT 5: C2D arrives with its properties as user properties',
      c2d.payload === 'c2d-for-mqtt5' && props.userProperties
        && props.userProperties.colour === 'green', JSON.stringify(props));
  } finally {
    await new Promise((resolve) => client.end(false, {}, resolve));
  }
}

run(async () => {
  try {
    await azureMqttWs();
  } catch (e) {
    fail('Azure device SDK over MqttWs', errorText(e));
  }
  for (const [scheme, port] of [['ws', wsPort], ['wss', wssPort]]) {
    try {
      await mqtt5(scheme, port);
    } catch (e) {
      fail(`mqtt.js MQTT 5 over ${scheme}`, errorText(e));
    }
  }
});
