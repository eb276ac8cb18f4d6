import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { flood } from './flood.js';
import { sleep, type Scenario } from './scenario-runner.js';

/** The service stopped with `signal`, down for the fault time, then started on the same data. */
function serviceDown(signal: 'SIGTERM' | 'SIGKILL', what: string): Scenario {
  return {
    name: `service ${signal}`,
    what,
    run: async ({ stack, devices, timing, notes }) => {
      const taken = () => devices.reduce((n, d) => n + d.stats.taken, 0);
      const before = taken();
      await stack.restartService(signal, timing.faultMs);
      notes.takenWhileDown = taken() - before;
    },
  };
}

/**
 * The faults the stack must survive without losing or doubling a reading, one per scenario, each on
 * a fresh stack while four devices (one RSA) send every 50 ms.
 */
export const SCENARIOS: Scenario[] = [
  {
    name: 'steady',
    what: 'no fault: the baseline',
    run: async ({ timing }) => {
      await sleep(timing.faultMs);
    },
  },
  {
    name: 'broker restart',
    what: 'Mosquitto stopped for the fault time, then started on its persistence',
    run: async ({ stack, devices, timing, notes }) => {
      await stack.broker.stop();
      await sleep(timing.faultMs);
      notes.bufferedWhileDown = devices.reduce((n, d) => n + d.stats.buffered + d.stats.inFlight, 0);
      await stack.broker.restart();
    },
  },
  serviceDown('SIGTERM', 'the key service stops gracefully and stays down for the fault time'),
  serviceDown('SIGKILL', 'the key service is killed mid-stream and stays down for the fault time'),
  {
    name: 'device cut off',
    what: "one device's network is cut (connections severed, new ones refused) for the cut-off time",
    run: async ({ devices, links, timing, notes }) => {
      const device = devices[0]!;
      links.get(device.deviceId)!.cut(timing.cutOffMs);
      await sleep(timing.cutOffMs / 2);
      notes.bufferedWhileCut = device.stats.buffered;
      await sleep(timing.cutOffMs / 2 + 500);
    },
  },
  {
    name: 'key rotation',
    what: 'every device rotates its session key every 5 envelopes or 1 s',
    device: { rotation: { maxMessages: 5, maxAgeMs: 1_000 } },
    run: async ({ devices, timing, notes }) => {
      const before = devices.reduce((n, d) => n + d.stats.keyExchanges, 0);
      await sleep(timing.faultMs);
      notes.keyExchanges = devices.reduce((n, d) => n + d.stats.keyExchanges, 0) - before;
    },
  },
  {
    name: 'hostile flood',
    what: 'a valid device floods replays, garbage, tampered and unknown-key envelopes; then config cuts it off',
    run: async ({ stack, devices, captured, timing, notes, retired }) => {
      // The flooding identity's own sensor stops (drained) first: cutting it off must not cost its readings.
      const flooder = devices[devices.length - 1]!;
      await flooder.stop(30_000);
      retired.add(flooder);
      const paths = stack.pki.devices.find((d) => d.id === flooder.deviceId)!;
      const credential = { certPem: readFileSync(paths.certPath, 'utf8'), keyPem: readFileSync(paths.keyPath, 'utf8') };
      const options = { brokerUrl: stack.mqttUrl, caPem: readFileSync(stack.endpoints.caCertPath, 'utf8'), deviceId: flooder.deviceId, credential, captured: [...(captured.get(flooder.deviceId) ?? [])] }; // a snapshot: the observer also sees the flood
      const started = Date.now();
      const hostile = await flood({ ...options, messages: timing.floodMessages });
      notes.floodAccepted = hostile.accepted;
      notes.floodPerSecond = Math.round(hostile.accepted / ((Date.now() - started) / 1000));
      // Cut off by configuration: the ACL denies the device, on connections already open too.
      const open = await mqtt.connectAsync(options.brokerUrl, { clientId: `${flooder.deviceId}-open`, protocolVersion: 5, ca: options.caPem, cert: credential.certPem, key: credential.keyPem, reconnectPeriod: 0 });
      const topic = `devices/${flooder.deviceId}/telemetry`;
      const refused = (publish: Promise<unknown>) => publish.then((ack) => ((ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0) >= 0x80, () => true);
      notes.openConnectionRefusedBeforeCutOff = String(await refused(open.publishAsync(topic, Buffer.from([0]), { qos: 1 })));
      stack.block([flooder.deviceId]);
      await sleep(300);
      notes.openConnectionRefusedAfterCutOff = String(await refused(open.publishAsync(topic, Buffer.from([0]), { qos: 1 })));
      open.end(true);
      const afterBlock = await flood({ ...options, messages: 200 });
      notes.refusedAfterCutOff = afterBlock.refusedByBroker;
      notes.acceptedAfterCutOff = afterBlock.accepted;
    },
  },
];
