#!/usr/bin/env node
// Azure's own Node SDKs end to end through iotgw:
//   a device (azure-iot-device + azure-iot-device-mqtt) connects over MQTT with TLS to iotgw,
//   whose bridge carries it over AMQP to iotgw-hub; the back end (azure-iothub) talks to the hub
//   over HTTPS (registry, twins, methods) and AMQPS (C2D), and reads telemetry as a consumer.
// Checks: open; telemetry reaches the hub's consumer group (body, system and application
// properties, expiry); twin GET; reported patches (null removes) seen by the service; desired
// changes made by the service (Registry.updateTwin with the etag or "*", Twin.update; null
// removes) reach the device; a stale etag is refused; direct methods invoked by the service are
// answered by the device, status and payload back (200 with JSON, 500 with text), an unknown
// device refused; a C2D message sent by the service arrives with its properties and expiry, is
// completed, and its feedback says Success; the registry's create/get/update/list/delete through
// the service SDK, reflected in the hub's registry file; a method call to the device once it has
// gone is refused with 404; and after the SDK renews its token (a new MQTT connection that
// subscribes to nothing again), twin answers, method calls, desired changes and C2D still reach it.
//
// Environment (run_gateway_test.sh sets it):
//   IOTGW_HUB_DEVICE_CS         the device's connection string (HostName = the hub's name)
//   IOTGW_HUB_SERVICE_CS        a service policy's connection string (registry and service rights)
//   IOTGW_GATEWAY_MQTT_ADDRESS  localhost:PORT of iotgw's MQTT-over-TLS listener
//   IOTGW_HUB_TLS_ADDRESS       127.0.0.1:PORT of the hub's AMQPS listener
//   IOTGW_HUB_HTTPS_PORT        the hub's HTTPS port (on 127.0.0.1)
//   IOTGW_HUB_REGISTRY          the hub's registry file
//   NODE_EXTRA_CA_CERTS         the CA that signed the hub's and the gateway's certificates
// Every check prints PASS or FAIL; exit code 0 only when all passed.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const { Client: DeviceClient, Message, SharedAccessKeyAuthenticationProvider } = require('azure-iot-device');
const { Mqtt: DeviceMqtt } = require('azure-iot-device-mqtt');
const { Client: ServiceClient, Registry, Amqp: ServiceAmqp, ConnectionString, SharedAccessSignature } =
  require('azure-iothub');
const { Amqp: AmqpBase, AmqpMessage } = require('azure-iot-amqp-base');
const harness = require('./harness');

const { env, ok, fail, check, errorText, run, routeHubHttps, localServiceAmqp } = harness;

const STEP_TIMEOUT_MS = 20000;

const deviceCsPlain = env('IOTGW_HUB_DEVICE_CS');
const serviceCs = env('IOTGW_HUB_SERVICE_CS');
const gatewayAddress = env('IOTGW_GATEWAY_MQTT_ADDRESS');
const tlsAddress = env('IOTGW_HUB_TLS_ADDRESS');
const httpsPort = Number(env('IOTGW_HUB_HTTPS_PORT'));
const registryFile = env('IOTGW_HUB_REGISTRY');
const hubName = ConnectionString.parse(serviceCs).HostName;

// The device SDK connects to mqtts://{GatewayHostName || HostName} (port 8883 unless the name
// carries one): GatewayHostName, as for IoT Edge, points it at iotgw. The username and the SAS
// token's audience stay HostName, which is what iotgw passes on to the hub.
const deviceCs = `${deviceCsPlain};GatewayHostName=${gatewayAddress}`;
const deviceId = /DeviceId=([^;]+)/.exec(deviceCs)[1];

routeHubHttps(hubName, httpsPort);  // see harness.js

const LocalServiceAmqp = localServiceAmqp(ServiceAmqp, tlsAddress);

// Waits are bounded: a step that hangs fails with its name.
function within(promise, what, ms = STEP_TIMEOUT_MS) {
  return harness.within(promise, what, ms);
}

// A promise that `resolve`s from outside, for events.
function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

// A consumer of the hub's default consumer group, as azure-iot-amqp-base reads links (CBS with a
// policy token, then a receiver link; each message decoded by AmqpMessage.toMessage).
async function openConsumer(onMessage) {
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
  link.on('message', (amqpMessage) => {
    link.accept(amqpMessage, () => {});
    onMessage(AmqpMessage.toMessage(amqpMessage), amqpMessage);
  });
  return { close: () => call((cb) => amqp.disconnect(cb)).catch(() => {}) };
}

function registryText() {
  try {
    return fs.readFileSync(registryFile, 'utf8');
  } catch (e) {
    return `(unreadable: ${e.message})`;
  }
}
function registryHolds(id) {
  return new RegExp(`\\bid:\\s*['"]?${id}['"]?\\s*[,}\\n]`).test(registryText());
}

async function tokenRenewal(runId, registry, service, closers) {
  const provider = SharedAccessKeyAuthenticationProvider.fromConnectionString(deviceCs, 40, 30);
  const renewed = deferred();
  provider.on('newTokenAvailable', () => renewed.resolve());
  const device = DeviceClient.fromAuthenticationProvider(provider, DeviceMqtt);
  device.on('error', (e) => console.log(`note: renewing device error: ${errorText(e)}`));
  try {
    await within(device.open(), 'renewing device open');
    closers.push(() => device.close());
    const calls = [];
    device.onDeviceMethod('ping', (request, response) => {
      calls.push(request.payload);
      response.send(200, { pong: request.payload }, () => {});
    });
    const c2dId = crypto.randomUUID();
    const c2dSeen = deferred();
    device.on('message', (msg) => {
      if (msg.messageId === c2dId) c2dSeen.resolve(msg);
      device.complete(msg, () => {});
    });
    const twin = await within(device.getTwin(), 'renewing device getTwin');
    const patches = [];
    const patchSeen = deferred();
    twin.on('properties.desired', (p) => {
      patches.push(p);
      if (p.renewal === runId) patchSeen.resolve(p);
    });
    await within(new Promise((resolve, reject) => twin.enableTwinDesiredPropertiesUpdates(
      (err) => (err ? reject(err) : resolve()))), 'renewing device desired subscription');
    // The method subscription is made in the background: one call before the renewal shows it.
    await within(service.invokeDeviceMethod(deviceId, { methodName: 'ping', payload: 'before',
                                                        responseTimeoutInSeconds: 10,
                                                        connectTimeoutInSeconds: 10 }),
                 'method before the renewal', 25000);
    ok('a device that renews its token: subscribed to twin, desired, methods and C2D');

    await within(renewed.promise, 'token renewal', 20000);
    ok('the SDK renews its token (a new MQTT connection)');

    try {
      const t = await within(device.getTwin(), 'getTwin after the renewal');
      check('after the renewal: getTwin is answered', typeof t.properties.desired.$version === 'number',
            JSON.stringify(t.properties));
    } catch (e) {
      fail('after the renewal: getTwin is answered', errorText(e));
    }
    try {
      const r = await within(service.invokeDeviceMethod(deviceId, {
        methodName: 'ping', payload: 'after', responseTimeoutInSeconds: 10, connectTimeoutInSeconds: 5,
      }), 'method after the renewal', 20000);
      check('after the renewal: a method call reaches the device and is answered',
            r.result.status === 200 && r.result.payload.pong === 'after', JSON.stringify(r.result));
    } catch (e) {
      fail('after the renewal: a method call reaches the device', `${errorText(e)}; calls ${JSON.stringify(calls)}`);
    }
    try {
      await within(registry.updateTwin(deviceId, { properties: { desired: { renewal: runId } } }, '*'),
                   'updateTwin after the renewal');
      await within(patchSeen.promise, 'desired patch after the renewal');
      ok('after the renewal: a desired change reaches the device');
    } catch (e) {
      fail('after the renewal: a desired change reaches the device',
           `${errorText(e)}; patches ${JSON.stringify(patches)}`);
    }
    try {
      const m = new Message(`after-renewal-${runId}`);
      m.messageId = c2dId;
      await within(service.send(deviceId, m), 'C2D after the renewal');
      await within(c2dSeen.promise, 'C2D at the device after the renewal');
      ok('after the renewal: a C2D message reaches the device');
    } catch (e) {
      fail('after the renewal: a C2D message reaches the device', errorText(e));
    }
  } catch (e) {
    fail('a device that renews its token', errorText(e));
  }
}

async function main() {
  const runId = crypto.randomUUID();
  const device = DeviceClient.fromConnectionString(deviceCs, DeviceMqtt);
  const registry = Registry.fromConnectionString(serviceCs);
  const service = ServiceClient.fromConnectionString(serviceCs, LocalServiceAmqp);
  const closers = [];
  let deviceOpen = false;
  device.on('error', (e) => console.log(`note: device client error: ${errorText(e)}`));
  try {
    // Telemetry is read back by a consumer opened first (the hub's consumer group starts at the
    // oldest telemetry it keeps, so the order would not matter either).
    const telemetry = deferred();
    try {
      const consumer = await within(openConsumer((m, amqpMessage) => {
        if (m.messageId === `telemetry-${runId}`) telemetry.resolve({ m, amqpMessage });
      }), 'consumer attach');
      closers.push(() => consumer.close());
      ok('service consumer attaches to the hub\'s $Default consumer group');
    } catch (e) {
      fail('service consumer attaches', errorText(e));
    }

    // --- the device opens through iotgw: TLS (iotgw's certificate), CONNECT with the SAS token.
    try {
      await within(device.open(), 'device open');
      deviceOpen = true;
      closers.push(() => (deviceOpen ? device.close() : undefined));
      ok('device opens over MQTT with TLS through iotgw (CONNACK 0)');
    } catch (e) {
      fail('device opens over MQTT through iotgw', errorText(e));
      return;
    }

    // --- telemetry
    const event = new Message(JSON.stringify({ run: runId, temperature: 21.5 }));
    event.messageId = `telemetry-${runId}`;
    event.contentType = 'application/json';
    event.contentEncoding = 'utf-8';
    event.properties.add('colour', 'blue');
    event.properties.add('note', 'a b&c=d/é?');  // URL-encoded in the topic's property bag
    event.correlationId = `corr-${runId}`;
    // Whole seconds: an AMQP timestamp holds milliseconds, ISO 8601 in the topic may hold less.
    const telemetryExpiry = new Date(Math.floor(Date.now() / 1000) * 1000 + 3600 * 1000);
    event.expiryTimeUtc = telemetryExpiry;
    try {
      const r = await within(device.sendEvent(event), 'sendEvent');
      check('device sendEvent is acknowledged (PUBACK once the hub accepted)',
            r && r.constructor.name === 'MessageEnqueued', `result ${r && r.constructor.name}`);
    } catch (e) {
      fail('device sendEvent', errorText(e));
    }
    try {
      const { m, amqpMessage } = await within(telemetry.promise, 'telemetry at the consumer');
      const body = m.getData() === undefined ? undefined : Buffer.from(m.getData()).toString();
      check('telemetry body reaches the hub', body === JSON.stringify({ run: runId, temperature: 21.5 }),
            `body ${JSON.stringify(body)}`);
      check('telemetry content type and encoding reach the hub',
            m.contentType === 'application/json' && m.contentEncoding === 'utf-8',
            `content-type ${m.contentType}, content-encoding ${m.contentEncoding}`);
      check('telemetry application properties reach the hub, special characters intact',
            m.properties.getValue('colour') === 'blue' && m.properties.getValue('note') === 'a b&c=d/é?',
            `colour = ${m.properties.getValue('colour')}, note = ${m.properties.getValue('note')}`);
      check('telemetry correlation id reaches the hub', m.correlationId === `corr-${runId}`,
            `correlationId ${m.correlationId}`);
      const expiry = amqpMessage.absolute_expiry_time;  // rhea gives timestamps as numbers
      check('telemetry expiry ($.exp) reaches the hub as absolute-expiry-time',
            expiry !== undefined && new Date(expiry).getTime() === telemetryExpiry.getTime(),
            `absolute_expiry_time ${expiry}, sent ${telemetryExpiry.toISOString()}`);
      const ann = amqpMessage.message_annotations || {};
      check('telemetry carries the hub-stamped device id', ann['iothub-connection-device-id'] === deviceId,
            `iothub-connection-device-id = ${ann['iothub-connection-device-id']}`);
    } catch (e) {
      fail('telemetry reaches the hub', errorText(e));
    }

    // --- twin: GET from the device
    let twin;
    try {
      twin = await within(device.getTwin(), 'getTwin');
      check('device getTwin answers with desired and reported sections',
            twin && twin.properties && typeof twin.properties.desired.$version === 'number' &&
            typeof twin.properties.reported.$version === 'number',
            `properties ${JSON.stringify(twin && twin.properties)}`);
    } catch (e) {
      fail('device getTwin', errorText(e));
      return;
    }

    // --- twin: reported patch from the device, seen by the service
    const reportedBefore = twin.properties.reported.$version;
    try {
      await within(new Promise((resolve, reject) => twin.properties.reported.update(
        { firmware: { version: '1.2.3', run: runId } }, (err) => (err ? reject(err) : resolve()))),
      'reported update');
      ok('device updates reported properties');
    } catch (e) {
      fail('device updates reported properties', errorText(e));
    }
    let serviceTwin;
    try {
      serviceTwin = (await within(registry.getTwin(deviceId), 'registry.getTwin')).responseBody;
      const fw = serviceTwin.properties.reported.firmware;
      check('service getTwin sees the reported patch', fw && fw.run === runId && fw.version === '1.2.3',
            `reported ${JSON.stringify(serviceTwin.properties.reported)}`);
      check('service getTwin: reported $version went up',
            serviceTwin.properties.reported.$version > reportedBefore,
            `$version ${serviceTwin.properties.reported.$version}, before ${reportedBefore}`);
      check('service getTwin has the device id and an etag',
            serviceTwin.deviceId === deviceId && typeof serviceTwin.etag === 'string' && serviceTwin.etag !== '',
            `deviceId ${serviceTwin.deviceId}, etag ${serviceTwin.etag}`);
    } catch (e) {
      fail('service getTwin', errorText(e));
    }

    // --- twin: desired changes from the service reach the device
    const desiredPatches = [];
    const desiredWaiters = [];
    twin.on('properties.desired', (patch) => {
      desiredPatches.push(patch);
      for (const w of desiredWaiters) w();
    });
    const desiredSeen = (pred) => new Promise((resolve) => {
      const look = () => {
        const hit = desiredPatches.find(pred);
        if (hit) resolve(hit);
      };
      desiredWaiters.push(look);
      look();
    });
    try {
      // The listener above asked for desired updates; this waits for that subscription (its
      // SUBACK comes once the hub took the watch), so no change below can come too early.
      await within(new Promise((resolve, reject) => twin.enableTwinDesiredPropertiesUpdates(
        (err) => (err ? reject(err) : resolve()))), 'desired subscription');
      ok('device subscribes to desired property changes');
    } catch (e) {
      fail('device subscribes to desired property changes', errorText(e));
    }
    if (serviceTwin) {
      const staleEtag = serviceTwin.etag;
      try {
        const r = await within(registry.updateTwin(deviceId,
          { properties: { desired: { setpoint: { value: 42, run: runId } } } }, serviceTwin.etag),
        'registry.updateTwin');
        const t = r.responseBody;
        check('service updateTwin (If-Match: the etag) answers with the new twin',
              t && t.properties && t.properties.desired.setpoint && t.properties.desired.setpoint.value === 42 &&
              t.etag !== staleEtag,
              `twin ${JSON.stringify(t)}`);
      } catch (e) {
        fail('service updateTwin', errorText(e));
      }
      try {
        const patch = await within(desiredSeen((p) => p.setpoint && p.setpoint.run === runId && p.setpoint.value === 42),
                                   'desired patch at the device');
        check('device receives the desired change with its $version', typeof patch.$version === 'number',
              `patch ${JSON.stringify(patch)}`);
        check('device twin merged the desired change', twin.properties.desired.setpoint &&
              twin.properties.desired.setpoint.value === 42, JSON.stringify(twin.properties.desired));
      } catch (e) {
        fail('device receives the desired change', `${errorText(e)}; patches seen ${JSON.stringify(desiredPatches)}`);
      }
      try {
        await within(registry.updateTwin(deviceId, { properties: { desired: { stale: true } } }, staleEtag),
                     'updateTwin with a stale etag');
        fail('service updateTwin with a stale etag is refused', 'it succeeded');
      } catch (e) {
        check('service updateTwin with a stale etag is refused (412, InvalidEtagError)',
              e.constructor.name === 'InvalidEtagError' && e.response && e.response.statusCode === 412,
              errorText(e));
      }
      // The other way the SDK offers: getTwin, then Twin.update (the etag it holds goes along).
      try {
        const { responseBody: t2 } = await within(registry.getTwin(deviceId), 'registry.getTwin');
        const updated = await within(t2.update({ properties: { desired: { mode: `eco-${runId}` } },
                                                 tags: { building: '43' } }), 'twin.update');
        const after = updated.result;
        check('service Twin.update changes desired properties and tags',
              after.properties.desired.mode === `eco-${runId}` && after.tags.building === '43' &&
              after.properties.desired.setpoint && after.properties.desired.setpoint.value === 42,
              `twin ${JSON.stringify(after)}`);
        const patch = await within(desiredSeen((p) => p.mode === `eco-${runId}`), 'second desired patch');
        check('device receives the second desired change, tags not included',
              patch.tags === undefined && patch.building === undefined, JSON.stringify(patch));
      } catch (e) {
        fail('service Twin.update reaches the device', `${errorText(e)}; patches seen ${JSON.stringify(desiredPatches)}`);
      }
      // null removes a property (JSON merge patch), both ways.
      try {
        const r = await within(registry.updateTwin(deviceId, { properties: { desired: { setpoint: null } } }, '*'),
                               'updateTwin removing a property');
        check('service updateTwin with null removes a desired property (If-Match: "*")',
              r.responseBody.properties.desired.setpoint === undefined &&
              r.responseBody.properties.desired.mode === `eco-${runId}`, JSON.stringify(r.responseBody));
        await within(desiredSeen((p) => Object.prototype.hasOwnProperty.call(p, 'setpoint') && p.setpoint === null),
                     'desired removal at the device');
        check('device twin drops the removed desired property', twin.properties.desired.setpoint === undefined,
              JSON.stringify(twin.properties.desired));
      } catch (e) {
        fail('a desired property removed by the service reaches the device',
             `${errorText(e)}; patches seen ${JSON.stringify(desiredPatches)}`);
      }
      try {
        await within(new Promise((resolve, reject) => twin.properties.reported.update(
          { firmware: null, battery: 87 }, (err) => (err ? reject(err) : resolve()))), 'reported removal');
        const { responseBody: t3 } = await within(registry.getTwin(deviceId), 'registry.getTwin');
        check('device reported patch with null removes the property for the service',
              t3.properties.reported.firmware === undefined && t3.properties.reported.battery === 87,
              JSON.stringify(t3.properties.reported));
      } catch (e) {
        fail('device reported patch with null', errorText(e));
      }
      // An error answer must say so in its body: the SDK reads the errorCode there, not the
      // status in the topic.
      try {
        await within(new Promise((resolve, reject) => twin.properties.reported.update(
          { 'bad name': 1 }, (err) => (err ? reject(err) : resolve()))), 'refused reported patch');
        fail('a reported patch the hub refuses is an error at the device', 'it succeeded');
      } catch (e) {
        check('a reported patch the hub refuses is an error at the device, with the hub\'s reason',
              /bad name/.test(e.message), errorText(e));
      }
      // A fresh GET by the device sees what the service left.
      try {
        const again = await within(device.getTwin(), 'second getTwin');
        check('device getTwin again: desired as the service left it',
              again.properties.desired.mode === `eco-${runId}` && again.properties.desired.setpoint === undefined,
              JSON.stringify(again.properties.desired));
      } catch (e) {
        fail('device getTwin again', errorText(e));
      }
    }

    // --- direct method invoked by the service, answered by the device
    const methodCalls = [];
    device.onDeviceMethod('reboot', (request, response) => {
      methodCalls.push(request.payload);
      response.send(200, { rebooted: true, run: runId, delay: request.payload && request.payload.delay },
                    (err) => { if (err) console.log(`note: method response: ${errorText(err)}`); });
    });
    try {
      // connectTimeoutInSeconds: the call waits for the device's methods subscription, which
      // onDeviceMethod makes in the background.
      const r = await within(service.invokeDeviceMethod(deviceId, {
        methodName: 'reboot', payload: { delay: 3, run: runId }, responseTimeoutInSeconds: 15,
        connectTimeoutInSeconds: 10,
      }), 'invokeDeviceMethod', 30000);
      const result = r.result;
      check('device got the method payload', methodCalls.length === 1 && methodCalls[0].run === runId &&
            methodCalls[0].delay === 3, JSON.stringify(methodCalls));
      check('service invokeDeviceMethod gets the device\'s status', result && result.status === 200,
            JSON.stringify(result));
      check('service invokeDeviceMethod gets the device\'s payload', result && result.payload &&
            result.payload.rebooted === true && result.payload.run === runId && result.payload.delay === 3,
            JSON.stringify(result));
    } catch (e) {
      fail('service invokeDeviceMethod', errorText(e));
    }
    device.onDeviceMethod('selfTest', (request, response) => {
      response.send(500, `self test failed: ${request.payload}`, () => {});
    });
    try {
      const r = await within(service.invokeDeviceMethod(deviceId, {
        methodName: 'selfTest', payload: 'quick', responseTimeoutInSeconds: 15, connectTimeoutInSeconds: 10,
      }), 'invokeDeviceMethod selfTest', 30000);
      check('a device\'s non-200 answer and text payload reach the service as they are',
            r.result && r.result.status === 500 && r.result.payload === 'self test failed: quick',
            JSON.stringify(r.result));
    } catch (e) {
      fail('service invokeDeviceMethod selfTest', errorText(e));
    }
    try {
      await within(service.invokeDeviceMethod('no-such-device', { methodName: 'reboot' }), 'invoke unknown device');
      fail('a method call to an unregistered device is refused', 'it succeeded');
    } catch (e) {
      check('a method call to an unregistered device: DeviceNotFoundError',
            e.constructor.name === 'DeviceNotFoundError', errorText(e));
    }

    // --- C2D sent by the service, received and completed by the device
    const c2dId = crypto.randomUUID();
    const c2dSeen = deferred();
    const feedback = deferred();
    let feedbackReceiver;
    device.on('message', (msg) => { if (msg.messageId === c2dId) c2dSeen.resolve(msg); });
    try {
      await within(service.open(), 'service open');
      closers.push(() => service.close());
      // The callback form, as the SDK's samples use it: (err, receiver).
      feedbackReceiver = await within(new Promise((resolve, reject) => service.getFeedbackReceiver(
        (err, receiver) => (err ? reject(err) : resolve(receiver)))), 'getFeedbackReceiver');
      feedbackReceiver.on('message', (fb) => {
        feedbackReceiver.complete(fb, () => {});
        let records = [];
        try {
          records = JSON.parse(Buffer.from(fb.getData()).toString());
        } catch (e) {
          console.log(`note: feedback body is not JSON: ${e.message}`);
        }
        const mine = records.find((r) => r.originalMessageId === c2dId);
        if (mine) feedback.resolve(mine);
      });
      const c2d = new Message(`c2d-${runId}`);
      c2d.messageId = c2dId;
      c2d.correlationId = `corr-${runId}`;
      c2d.contentType = 'text/plain';
      c2d.ack = 'full';
      // Milliseconds since the epoch: rhea, under the AMQP service client, encodes only a number
      // as the AMQP timestamp (a Date throws inside it and the connection drops).
      c2d.expiryTimeUtc = Math.floor(Date.now() / 1000) * 1000 + 3600 * 1000;
      c2d.properties.add('colour', 'green');
      c2d.properties.add('note', 'x y&z=1/ü?');  // URL-encoded in the topic's property bag
      await within(service.send(deviceId, c2d), 'service send');
      ok('service sends a C2D message');
      const msg = await within(c2dSeen.promise, 'C2D at the device');
      const body = msg.getData() === undefined ? undefined : Buffer.from(msg.getData()).toString();
      check('device receives the C2D body', body === `c2d-${runId}`, `body ${JSON.stringify(body)}`);
      check('device receives the C2D application properties, special characters intact',
            msg.properties.getValue('colour') === 'green' && msg.properties.getValue('note') === 'x y&z=1/ü?',
            `colour = ${msg.properties.getValue('colour')}, note = ${msg.properties.getValue('note')}`);
      check('device receives the C2D correlation id and content type',
            msg.correlationId === `corr-${runId}` && msg.contentType === 'text/plain',
            `correlationId ${msg.correlationId}, contentType ${msg.contentType}`);
      check('device receives the C2D expiry ($.exp)', msg.expiryTimeUtc !== undefined &&
            new Date(msg.expiryTimeUtc).getTime() === c2d.expiryTimeUtc,
            `expiryTimeUtc ${msg.expiryTimeUtc}, sent ${new Date(c2d.expiryTimeUtc).toISOString()}`);
      await within(device.complete(msg), 'complete');
      ok('device completes the C2D message');
      const record = await within(feedback.promise, 'feedback record');
      check('the service\'s feedback says Success for the device (PUBACK through iotgw completed it)',
            record.statusCode === 'Success' && record.deviceId === deviceId, JSON.stringify(record));
    } catch (e) {
      fail('C2D from the service to the device', errorText(e));
    }

    // --- the registry through the service SDK
    try {
      const { responseBody: made } = await within(registry.create({ deviceId: 'sdk-made' }), 'registry.create');
      const key = made && made.authentication && made.authentication.symmetricKey &&
                  made.authentication.symmetricKey.primaryKey;
      check('registry.create answers the new device', made && made.deviceId === 'sdk-made' &&
            made.status === 'enabled' && typeof made.etag === 'string', JSON.stringify(made));
      check('registry.create: the hub made keys for it (the SDK sends empty ones)',
            typeof key === 'string' && Buffer.from(key, 'base64').length >= 16,
            JSON.stringify(made && made.authentication));
      check('the hub\'s registry file holds the new device', registryHolds('sdk-made'), registryText());
      const { responseBody: got } = await within(registry.get('sdk-made'), 'registry.get');
      check('registry.get returns it, same keys', got && got.deviceId === 'sdk-made' &&
            got.authentication.symmetricKey.primaryKey === key, JSON.stringify(got));
      try {
        await within(registry.create({ deviceId: 'sdk-made' }), 'registry.create again');
        fail('registry.create of a registered device is refused', 'it succeeded');
      } catch (e) {
        check('registry.create of a registered device: DeviceAlreadyExistsError (409)',
              e.constructor.name === 'DeviceAlreadyExistsError', errorText(e));
      }
      const { responseBody: updated } = await within(registry.update({ deviceId: 'sdk-made', status: 'disabled' }),
                                                     'registry.update');
      check('registry.update (If-Match: "*") disables it, keys kept', updated.status === 'disabled' &&
            updated.authentication.symmetricKey.primaryKey === key, JSON.stringify(updated));
      const { responseBody: all } = await within(registry.list(), 'registry.list');
      check('registry.list holds both devices', Array.isArray(all) &&
            all.some((d) => d.deviceId === 'sdk-made' && d.status === 'disabled') &&
            all.some((d) => d.deviceId === deviceId), JSON.stringify(all));
      await within(registry.delete('sdk-made'), 'registry.delete');
      ok('registry.delete (If-Match: "*")');
      check('the hub\'s registry file no longer holds it', !registryHolds('sdk-made') && registryHolds(deviceId),
            registryText());
      try {
        await within(registry.get('sdk-made'), 'registry.get after delete');
        fail('registry.get after delete is refused', 'it succeeded');
      } catch (e) {
        check('registry.get after delete: DeviceNotFoundError', e.constructor.name === 'DeviceNotFoundError',
              errorText(e));
      }
    } catch (e) {
      fail('registry create/get/delete through the service SDK', errorText(e));
    }

    // --- once the device has gone, a method call is refused (IoT Hub: 404, 404103 DeviceNotOnline)
    try {
      await within(device.close(), 'device close');
      deviceOpen = false;
      ok('device closes');
      try {
        await within(service.invokeDeviceMethod(deviceId, { methodName: 'reboot', payload: null,
                                                            responseTimeoutInSeconds: 5 }),
                     'invokeDeviceMethod on a device gone');
        fail('a method call to a device gone is refused', 'it succeeded');
      } catch (e) {
        check('a method call to a device gone is refused with 404',
              e.response && e.response.statusCode === 404 && /DeviceNotOnline|404103/.test(e.responseBody || ''),
              errorText(e));
      }
    } catch (e) {
      fail('device closes', errorText(e));
    }

    // --- token renewal: the SDK renews its SAS token by closing the MQTT connection and opening
    // another, with clean_session=0, and subscribes to nothing again: twin answers, desired
    // patches, method calls and C2D must still reach it (a stored session keeps them all).
    // Here a token lives 40 s and is renewed 30 s before it ends: every 10 s.
    await tokenRenewal(runId, registry, service, closers);
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
