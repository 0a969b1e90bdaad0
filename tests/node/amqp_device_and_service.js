#!/usr/bin/env node
// Azure's own Node SDKs against a running iotgw-hub, over AMQP (TLS: the SDKs speak nothing else):
//  (a) a device (azure-iot-device + azure-iot-device-amqp) opens, sends telemetry, receives a C2D
//      message that the service client (azure-iothub) sends, and completes it;
//  (b) the service client's feedback receiver hears that C2D message's end (ack = 'full');
//  (c) the device reads its twin and reports a property over AMQP, hears a desired change the
//      service makes (Registry.updateTwin, over the hub's HTTPS API) and answers a direct method
//      the service invokes (Client.invokeDeviceMethod);
//  and a service consumer reads the telemetry back (azure-iot-amqp-base's link and its
//  AmqpMessage.toMessage, the decoding the SDKs use), body and properties intact.
//
// Environment (run_amqp_test.sh sets it):
//   IOTGW_HUB_DEVICE_CS   the device's connection string (HostName = the hub's name)
//   IOTGW_HUB_SERVICE_CS  a service policy's connection string (needs the hub's `service` right)
//   IOTGW_HUB_TLS_ADDRESS 127.0.0.1:PORT of the hub's TLS listener
//   IOTGW_HUB_HTTPS_PORT  the port of the hub's HTTPS service API on 127.0.0.1
//   NODE_EXTRA_CA_CERTS   the CA that signed the hub's certificate
// Exit code 0 when every check passed; each check prints ok or FAIL with its reason.
'use strict';

const crypto = require('node:crypto');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { Amqp: DeviceAmqp } = require('azure-iot-device-amqp');
const { Client: ServiceClient, Amqp: ServiceAmqp, ConnectionString, Registry,
  SharedAccessSignature } = require('azure-iothub');
const { Amqp: AmqpBase, AmqpMessage } = require('azure-iot-amqp-base');
const harness = require('./harness');

const { env, ok, fail, check, errorText, run, routeHubHttps, localServiceAmqp } = harness;

const STEP_TIMEOUT_MS = 20000;

const deviceCsPlain = env('IOTGW_HUB_DEVICE_CS');
const serviceCs = env('IOTGW_HUB_SERVICE_CS');
const tlsAddress = env('IOTGW_HUB_TLS_ADDRESS');
routeHubHttps(ConnectionString.parse(serviceCs).HostName, Number(env('IOTGW_HUB_HTTPS_PORT')));

// The device SDK's own way to a host that is not the hub's name: GatewayHostName (what IoT Edge
// uses). The token's audience stays HostName. The SDK always speaks TLS (amqps://, port 5671 unless
// the address says otherwise): there is no plain-AMQP option.
const deviceCs = /;GatewayHostName=/i.test(deviceCsPlain)
  ? deviceCsPlain
  : `${deviceCsPlain};GatewayHostName=${tlsAddress}`;
const deviceId = /DeviceId=([^;]+)/.exec(deviceCs)[1];

const LocalServiceAmqp = localServiceAmqp(ServiceAmqp, tlsAddress);

// Waits are bounded: a step that hangs fails with its name.
function within(promise, what, ms = STEP_TIMEOUT_MS) {
  return harness.within(promise, what, ms);
}

// A service consumer of the default consumer group, as azure-iot-amqp-base reads links: CBS with a
// policy token for the hub, then a receiver link; each message converted by AmqpMessage.toMessage.
async function openConsumer() {
  const cs = ConnectionString.parse(serviceCs);
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const token = SharedAccessSignature.create(cs.HostName, cs.SharedAccessKeyName, cs.SharedAccessKey,
                                             expiry).toString();
  const amqp = new AmqpBase(true);
  const call = (fn) => new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
  await call((cb) => amqp.connect({ uri: `amqps://${tlsAddress}`, userAgentString: 'iotgw-node-test' }, cb));
  await call((cb) => amqp.initializeCBS(cb));
  await call((cb) => amqp.putToken(cs.HostName, token, cb));
  const link = await call((cb) => amqp.attachReceiverLink('/messages/events/ConsumerGroups/$Default/Partitions/0', null, cb));
  return { amqp, link, close: () => call((cb) => amqp.disconnect(cb)).catch(() => {}) };
}

async function main() {
  const runId = crypto.randomUUID();
  const device = DeviceClient.fromConnectionString(deviceCs, DeviceAmqp);
  const service = ServiceClient.fromConnectionString(serviceCs, LocalServiceAmqp);
  let consumer;
  const closers = [];
  try {
    // (a) the device opens: TCP + TLS, SASL, CBS put-token with the Node SDK's audience form.
    try {
      await within(device.open(), 'device open');
      closers.push(() => device.close());
      ok('device opens over AMQP (CBS put-token accepted)');
    } catch (e) {
      fail('device opens over AMQP', errorText(e));
      return;
    }

    // The consumer is opened first and kept: the hub's consumer group starts at the oldest
    // telemetry it keeps, so the message below arrives whatever the order.
    let consumerResolve;
    const telemetrySeen = new Promise((resolve) => { consumerResolve = resolve; });
    try {
      consumer = await within(openConsumer(), 'service consumer attach');
      closers.push(() => consumer.close());
      consumer.link.on('message', (amqpMessage) => {
        const m = AmqpMessage.toMessage(amqpMessage);
        consumer.link.accept(amqpMessage, () => {});
        if (m.messageId === `telemetry-${runId}`) consumerResolve({ m, amqpMessage });
      });
      ok('service consumer attaches to /messages/events/ConsumerGroups/$Default/Partitions/0');
    } catch (e) {
      fail('service consumer attaches', errorText(e));
    }

    const event = new Message(JSON.stringify({ run: runId, temperature: 21.5 }));
    event.messageId = `telemetry-${runId}`;
    event.contentType = 'application/json';
    event.contentEncoding = 'utf-8';
    event.properties.add('colour', 'blue');
    try {
      const r = await within(device.sendEvent(event), 'sendEvent');
      check('device sendEvent is acknowledged', r && r.constructor.name === 'MessageEnqueued',
            `result ${r && r.constructor.name}`);
    } catch (e) {
      fail('device sendEvent', errorText(e));
    }

    if (consumer) {
      try {
        const { m, amqpMessage } = await within(telemetrySeen, 'telemetry at the consumer');
        const body = m.getData() === undefined ? undefined : Buffer.from(m.getData()).toString();
        check('consumer reads the telemetry body', body === JSON.stringify({ run: runId, temperature: 21.5 }),
              `body ${JSON.stringify(body)}`);
        check('consumer reads content type and encoding',
              m.contentType === 'application/json' && m.contentEncoding === 'utf-8',
              `content-type ${m.contentType}, content-encoding ${m.contentEncoding}`);
        check('consumer reads the application property', m.properties.getValue('colour') === 'blue',
              `colour = ${m.properties.getValue('colour')}`);
        const ann = amqpMessage.message_annotations || {};
        check('consumer sees the hub-stamped device id', ann['iothub-connection-device-id'] === deviceId,
              `iothub-connection-device-id = ${ann['iothub-connection-device-id']}`);
      } catch (e) {
        fail('consumer reads the telemetry', errorText(e));
      }
    }

    // The device's twin over AMQP: GET, then a reported patch, then GET again. The hub's answers
    // must have their bodies in data sections: the SDK reads body.content, and an amqp-value body
    // threw a TypeError inside it (the connection dropped and getTwin retried without end).
    try {
      const twin = await within(device.getTwin(), 'getTwin');
      check('device getTwin over AMQP', typeof twin.properties.desired.$version === 'number' &&
            typeof twin.properties.reported.$version === 'number', JSON.stringify(twin.properties));
      await within(new Promise((resolve, reject) => twin.properties.reported.update(
        { run: runId }, (err) => (err ? reject(err) : resolve()))), 'reported update');
      const again = await within(device.getTwin(), 'getTwin again');
      check('device reported patch over AMQP, read back', again.properties.reported.run === runId,
            JSON.stringify(again.properties.reported));
    } catch (e) {
      fail('device twin over AMQP', errorText(e));
    }

    // A desired change the service makes reaches the device over its twin links, and a method
    // the service invokes reaches it over its methods links and comes back answered.
    try {
      const twin = await within(device.getTwin(), 'getTwin for desired');
      const desiredSeen = new Promise((resolve) => twin.on('properties.desired', (p) => {
        if (p.run === runId) resolve(p);
      }));
      const registry = Registry.fromConnectionString(serviceCs);
      await within(registry.updateTwin(deviceId, { properties: { desired: { run: runId } } }, '*'),
                   'updateTwin');
      const p = await within(desiredSeen, 'desired change at the device');
      check('device hears the desired change over AMQP', p.run === runId && typeof p.$version === 'number',
            JSON.stringify(p));
    } catch (e) {
      fail('desired change over AMQP', errorText(e));
    }
    try {
      device.onDeviceMethod('ping', (request, response) => {
        response.send(200, { pong: request.payload }, () => {});
      });
      const methods = ServiceClient.fromConnectionString(serviceCs, LocalServiceAmqp);
      const r = await within(methods.invokeDeviceMethod(deviceId, {
        methodName: 'ping', payload: runId, responseTimeoutInSeconds: 10 }), 'invokeDeviceMethod');
      const answer = r.result || r;
      check('service invokes a method the AMQP device answers',
            answer.status === 200 && answer.payload && answer.payload.pong === runId, JSON.stringify(answer));
    } catch (e) {
      fail('direct method over AMQP', errorText(e));
    }

    // (a) C2D from the service client to the device, completed by the device.
    const c2dId = crypto.randomUUID();  // a UUID: the SDK sends it as an AMQP uuid
    const c2dBody = `c2d-${runId}`;
    const c2dSeen = new Promise((resolve) => device.on('message', resolve));

    let feedbackReceiver;
    const feedbackRecords = [];
    let feedbackResolve;
    const feedbackSeen = new Promise((resolve) => { feedbackResolve = resolve; });
    try {
      await within(service.open(), 'service open');
      closers.push(() => service.close());
      ok('service client opens over AMQP');
      // The callback form, as the SDK's samples use it: (err, receiver).
      feedbackReceiver = await within(new Promise((resolve, reject) => service.getFeedbackReceiver(
        (err, receiver) => (err ? reject(err) : resolve(receiver)))), 'getFeedbackReceiver');
      feedbackReceiver.on('message', (msg) => {
        const data = msg.getData();
        feedbackReceiver.complete(msg, () => {});
        if (data === undefined || data === null) {
          fail('feedback message has a body', `body ${data}, content-type ${msg.contentType}`);
          return;
        }
        let records;
        try {
          records = JSON.parse(Buffer.from(data).toString());
        } catch (e) {
          fail('feedback body is JSON', `${e.message}: ${Buffer.from(data).toString()}`);
          return;
        }
        for (const r of records) feedbackRecords.push({ record: r, contentType: msg.contentType });
        const mine = feedbackRecords.find((x) => x.record.originalMessageId === c2dId);
        if (mine) feedbackResolve(mine);
      });
      ok('service client attaches the feedback receiver');
    } catch (e) {
      fail('service client opens and attaches the feedback receiver', errorText(e));
      return;
    }

    const c2d = new Message(c2dBody);
    c2d.messageId = c2dId;
    c2d.ack = 'full';
    c2d.contentType = 'text/plain';
    c2d.properties.add('colour', 'green');
    try {
      await within(service.send(deviceId, c2d), 'service send');
      ok('service client sends a C2D message (ack = full)');
    } catch (e) {
      fail('service client sends a C2D message', errorText(e));
      return;
    }

    try {
      const msg = await within(c2dSeen, 'C2D at the device');
      const body = msg.getData() === undefined ? undefined : Buffer.from(msg.getData()).toString();
      check('device receives the C2D body', body === c2dBody, `body ${JSON.stringify(body)}`);
      check('device receives the C2D message id', msg.messageId === c2dId, `messageId ${msg.messageId}`);
      check('device receives the C2D content type', msg.contentType === 'text/plain', `contentType ${msg.contentType}`);
      check('device receives the C2D application property', msg.properties.getValue('colour') === 'green',
            `colour = ${msg.properties.getValue('colour')}`);
      await within(device.complete(msg), 'complete');
      ok('device completes the C2D message');
    } catch (e) {
      fail('device receives and completes the C2D message', errorText(e));
      return;
    }

    // (b) the feedback record for that message.
    try {
      const { record, contentType } = await within(feedbackSeen, 'feedback record');
      check('feedback content type', contentType === 'application/vnd.microsoft.iothub.feedback.json',
            `contentType ${contentType}`);
      check('feedback record says Success for the device',
            record.statusCode === 'Success' && record.deviceId === deviceId,
            JSON.stringify(record));
      check('feedback record has its enqueued time', typeof record.enqueuedTimeUtc === 'string' &&
            !Number.isNaN(Date.parse(record.enqueuedTimeUtc)), JSON.stringify(record));
    } catch (e) {
      fail('feedback receiver gets a record for the C2D message',
           `${errorText(e)}; records seen: ${JSON.stringify(feedbackRecords)}`);
    }
  } finally {
    for (const close of closers.reverse()) {
      try {
        await within(Promise.resolve(close()), 'close', 5000);
      } catch (e) {
        console.log(`note: close: ${errorText(e)}`);
      }
    }
  }
}

run(main);
