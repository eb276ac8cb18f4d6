import mqtt from 'mqtt';
import { clientOptions } from '../mqtt-connect.js';

/**
 * The baseline's receiving end, in its own process like the key service: a raw mqtt.js subscriber
 * with the service's MQTT settings (v5, persistent session, receive maximum 2000, QoS 1
 * subscription) that only counts. The parent says how many to expect; the worker answers when that
 * many have arrived.
 */
interface Setup {
  type: 'setup';
  url: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  topic: string;
}
type Command = Setup | { type: 'expect'; count: number } | { type: 'status' } | { type: 'stop' };

let received = 0;
let expected = Number.POSITIVE_INFINITY;
let client: mqtt.MqttClient | undefined;

const send = (message: object) => process.send?.(message);

process.on('message', (command: Command) => {
  if (command.type === 'setup') {
    client = mqtt.connect(
      command.url,
      clientOptions(command.caPem, { certPem: command.certPem, keyPem: command.keyPem }, 'bench-raw-subscriber', {
        clean: false,
        properties: { sessionExpiryInterval: 300, receiveMaximum: 2_000 },
      }),
    );
    client.on('message', () => {
      received++;
      if (received === expected) send({ type: 'done', received });
    });
    client.on('error', (error) => send({ type: 'error', message: error.message }));
    client.once('connect', () => {
      client?.subscribe(command.topic, { qos: 1 }, (error) => {
        send(error ? { type: 'error', message: error.message } : { type: 'ready' });
      });
    });
  } else if (command.type === 'expect') {
    received = 0;
    expected = command.count;
    send({ type: 'expecting' });
  } else if (command.type === 'status') {
    send({ type: 'status', received });
  } else {
    const done = () => process.exit(0);
    if (client) client.end(false, {}, done);
    else done();
  }
});
