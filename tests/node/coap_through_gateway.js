#!/usr/bin/env node
// CoAP through iotgw to iotgw-hub with the npm `coap` package, a second CoAP implementation nobody
// here wrote (libcoap's coap-client is the first, in tests/integration/coap_test.cpp):
//   POST /telemetry, confirmable, with Content-Format and query properties, answered 2.04 and
//   read at the hub's service side with its content type and properties (not `d` and `p`);
//   GET /c2d with Observe receives a C2D message sent with `iotgw-hub send`, and the hub records
//   it completed.
// The identity is `d` and the device's SAS token in `p` (minted with `iotgw-hub token`), each its
// own Uri-Query option: the package splits a URL's query at `&` without decoding, and a SAS
// token holds `&`.
//
// Environment (run_coap_test.sh sets it):
//   IOTGW_HUB, IOTGW_HUB_URL, IOTGW_HUB_REGISTRY, IOTGW_HUB_LOG   iotgw-hub's binary, AMQP url,
//                                                               registry and log
//   IOTGW_DEVICE      the device's id in that registry
//   IOTGW_COAP_PORT   iotgw's coap listener (udp, 127.0.0.1)
// Every check prints PASS or FAIL; exit code 0 only when all passed.
'use strict';

const fs = require('node:fs');
const { execFile } = require('node:child_process');
const coap = require('coap');
const harness = require('./harness');

const { env, ok, check, within, run } = harness;

const STEP_MS = 20000;
const hubBin = env('IOTGW_HUB');
const hubUrl = env('IOTGW_HUB_URL');
const registry = env('IOTGW_HUB_REGISTRY');
const hubLog = env('IOTGW_HUB_LOG');
const deviceId = env('IOTGW_DEVICE');
const port = Number(env('IOTGW_COAP_PORT'));

function hubCli(args) {
  return new Promise((resolve, reject) => {
    execFile(hubBin, [...args, '--registry', registry], { timeout: STEP_MS },
      (e, stdout, stderr) => (e ? reject(new Error(`iotgw-hub ${args[0]}: ${e.message} ${stderr}`))
        : resolve(stdout)));
  });
}

function query(token, ...more) {
  return [`d=${deviceId}`, `p=${token}`, ...more].map((q) => Buffer.from(q));
}

// One request on the package's global agent (one socket: one peer, logged in once).
function request(params, body) {
  return within(new Promise((resolve, reject) => {
    const req = coap.request({ hostname: '127.0.0.1', port, ...params });
    req.on('response', resolve);
    req.on('error', reject);
    req.end(body);
  }), `${params.method} ${params.pathname}`, STEP_MS);
}

async function telemetry(token) {
  const res = await request({
    pathname: '/telemetry',
    method: 'POST',
    confirmable: true,
    options: { 'Uri-Query': query(token, 'site=south'), 'Content-Format': 'application/json' },
  }, JSON.stringify({ t: 22 }));
  check('POST /telemetry (CON) is answered 2.04', res.code === '2.04',
    `${res.code} ${res.payload}`);
  const seen = JSON.parse((await hubCli(['monitor', '--url', hubUrl, '--count', '1'])).trim());
  check('the telemetry reaches the hub as the device, with its body and content type',
    seen.device === deviceId && seen.body === '{"t":22}'
      && seen.system['content-type'] === 'application/json', JSON.stringify(seen));
  check('query parameters become application properties, d and p do not',
    JSON.stringify(seen.properties) === '{"site":"south"}', JSON.stringify(seen.properties));
}

async function completedAtHub() {
  for (let i = 0; i < 100; i += 1) {
    if (/C2D message .* ended: Success/.test(fs.readFileSync(hubLog, 'utf8'))) return true;
    await new Promise((resolve) => { setTimeout(resolve, 100); });
  }
  return false;
}

async function observeC2d(token) {
  const stream = await request({
    pathname: '/c2d', method: 'GET', observe: true, options: { 'Uri-Query': query(token) },
  });
  check('GET /c2d with Observe is answered 2.05', stream.code === '2.05', stream.code);
  const notified = new Promise((resolve) => {
    stream.on('data', (chunk) => { if (chunk.length > 0) resolve(chunk.toString()); });
  });
  await hubCli(['send', '--url', hubUrl, deviceId, 'switch on from node']);
  const body = await within(notified, 'the C2D notification', STEP_MS);
  check('the observer receives the C2D message', body === 'switch on from node', body);
  check('its ACK completes the message at the hub', await completedAtHub(), 'no "ended: Success"');
  stream.close();
}

run(async () => {
  const token = (await hubCli(['token', '--device', deviceId, '--ttl', '3600'])).trim();
  ok('a SAS token from iotgw-hub token');
  await telemetry(token);
  await observeC2d(token);
});
