import type { IPublishPacket, MqttClient } from 'mqtt';
import type { StoredReading } from './readings-store.js';

/**
 * Acknowledges QoS 1 messages only after what they carried is committed, so a crash at any point
 * leaves unacknowledged messages with the broker, which redelivers them to the persistent session.
 *
 * mqtt.js acknowledges when its `handleMessage` callback runs, and it hands over the next message only
 * then, which would mean one commit per message. Instead, the callback is completed at once with a
 * marker error (mqtt.js then skips its PUBACK), messages of one network read are grouped, committed in
 * one transaction, and their PUBACKs sent in arrival order (MQTT 5, 4.6). `sendPuback` relies on
 * mqtt.js's internal `_sendPacket`: the version is pinned and test/service covers the behaviour.
 */
export type MessageProcessor = (topic: string, payload: Buffer) => StoredReading[] | undefined;

const DEFERRED = new Error('acknowledgement deferred until commit');
const FLUSH_ROWS = 2_000;

interface InternalClient {
  _sendPacket(packet: { cmd: 'puback'; messageId: number; reasonCode: number }): void;
}

export class AckAfterCommit {
  private rows: StoredReading[] = [];
  private acks: number[] = [];
  private scheduled = false;

  constructor(
    private readonly client: MqttClient,
    private readonly commit: (rows: StoredReading[]) => void,
    private readonly onCommitFailure: (error: unknown) => void,
  ) {
    // Acks owed on a closed connection are void: the broker redelivers those messages, and the
    // replay window and primary key recognise them as duplicates.
    client.on('close', () => {
      this.acks = [];
      this.flush();
    });
  }

  /** Installs itself as the client's message handler; `process` must not throw for client input. */
  attach(process: MessageProcessor): void {
    this.client.handleMessage = (packet: IPublishPacket, done: (error?: Error) => void) => {
      const rows = process(packet.topic, packet.payload as Buffer);
      if (rows) for (const row of rows) this.rows.push(row);
      const acknowledged = packet.qos > 0 && packet.messageId !== undefined;
      if (acknowledged) this.acks.push(packet.messageId!);
      // QoS 0 rows are committed on the same schedule; they just have no acknowledgement to wait for.
      if (this.rows.length >= FLUSH_ROWS) this.flush();
      else if (this.rows.length > 0 || this.acks.length > 0) this.schedule();
      if (acknowledged) done(DEFERRED);
      else done();
    };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after mqtt.js has worked through every packet of the current read.
    setImmediate(() => this.flush());
  }

  /** Commits pending rows, then acknowledges their messages in arrival order. */
  flush(): void {
    this.scheduled = false;
    const rows = this.rows;
    const acks = this.acks;
    this.rows = [];
    this.acks = [];
    try {
      if (rows.length > 0) this.commit(rows);
    } catch (error) {
      this.onCommitFailure(error);
      return;
    }
    if (!this.client.connected) return;
    const internal = this.client as unknown as InternalClient;
    for (const messageId of acks) internal._sendPacket({ cmd: 'puback', messageId, reasonCode: 0 });
  }
}
