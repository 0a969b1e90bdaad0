// Plumbing the Node tests share, for this process only, so Azure's service SDK reaches a local
// iotgw-hub without /etc/hosts: its HTTPS (Registry, Client.invokeDeviceMethod) always goes to
// {HostName}:443, each client through a `new https.Agent({keepAlive: true})` it makes itself.
// Agents made after routeHubHttps send connections for the hub's name to the hub's HTTPS port on
// 127.0.0.1; TLS still checks the certificate against the hub's name.
'use strict';

const https = require('node:https');

function routeHubHttps(hubName, httpsPort) {
  class LocalHubAgent extends https.Agent {
    createConnection(options, callback) {
      const to = options.host === hubName
        ? { ...options, host: '127.0.0.1', port: httpsPort, servername: hubName }
        : options;
      return super.createConnection(to, callback);
    }
  }
  https.Agent = LocalHubAgent;
}

module.exports = { routeHubHttps };
