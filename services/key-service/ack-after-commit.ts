import type { IPublishPacket, MqttClient } from 'mqtt';
import type { StoredReading } from './readings-store.js';

/**
 * Acknowledges QoS 1 messages, and publishes replies, only after what they caused is committed, so a
 * crash at any point leaves unacknowledged messages with the broker, which redelivers them to the
 * persistent session, and no device is told of a session the service could forget.
 *
 * Messages of one network read form a group in one SQLite transaction: it opens with the group's first
 * message, so key exchanges write their nonce and session into it, and commits with the group's
 * readings when mqtt.js has worked through the read. Then PUBACKs go out in arrival order (MQTT 5,
 * 4.6) and replies (key-exchange acknowledgements, re-key requests) are published. HTTP requests
 * served on the same connection while a group is open can see its rows a moment early; they are
 * committed in the same event-loop turn, or the service exits and the broker redelivers them.
 *
 * mqtt.js acknowledges when its `handleMessage` callback runs, and it hands over the next message only
 * then, which would mean one commit per message. Instead the callback is completed at once with a
 * marker error (mqtt.js then skips its PUBACK). `sendPuback` relies on mqtt.js's internal
 * `_sendPacket`: the version is pinned and the integration tests cover the behaviour.
 */
export interface Reply {
  topic: string;
  payload: Buffer;
}

export interface Processed {
  rows?: StoredReading[];
  replies?: Reply[];
}

/** Turns one message into rows and replies; throws only for failures that are not the client's doing. */
export type MessageProcessor = (topic: string, payload: Buffer) => Processed | undefined;

/** The storage side of a group: one transaction, committed with the group's readings. */
export interface GroupTransaction {
  begin(): void;
  /** Inserts the readings and commits; answers how many rows were new. */
  commit(rows: StoredReading[]): number;
  /** Rolls back the group's transaction if one is open; a no-op otherwise. */
  rollback(): void;
}

const DEFERRED = new Error('acknowledgement deferred until commit');
const FLUSH_ROWS = 2_000;

interface InternalClient {
  _sendPacket(packet: { cmd: 'puback'; messageId: number; reasonCode: number }): void;
}

export class AckAfterCommit {
  private rows: StoredReading[] = [];
  private acks: number[] = [];
  private replies: Reply[] = [];
  private open = false;
  private scheduled = false;

  constructor(
    private readonly client: MqttClient,
    private readonly transaction: GroupTransaction,
    private readonly onCommitted: (inserted: number) => void,
    private readonly onCommitFailure: (error: unknown) => void,
  ) {
    // Acks owed on a closed connection are void: the broker redelivers those messages, and the
    // replay window and primary key recognise them as duplicates.
    client.on('close', () => {
      this.acks = [];
      this.flush();
    });
  }

  /** Installs itself as the client's message handler. */
  attach(process: MessageProcessor): void {
    this.client.handleMessage = (packet: IPublishPacket, done: (error?: Error) => void) => {
      const acknowledged = packet.qos > 0 && packet.messageId !== undefined;
      try {
        if (!this.open) {
          this.transaction.begin();
          this.open = true;
        }
        const processed = process(packet.topic, packet.payload as Buffer);
        if (processed?.rows) for (const row of processed.rows) this.rows.push(row);
        if (processed?.replies) for (const reply of processed.replies) this.replies.push(reply);
      } catch (error) {
        this.fail(error);
        done(DEFERRED); // never acknowledged: the broker redelivers it after the restart
        return;
      }
      if (acknowledged) this.acks.push(packet.messageId!);
      if (this.rows.length >= FLUSH_ROWS) this.flush();
      else this.schedule();
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

  /** Commits the open group, then acknowledges its messages in arrival order and sends its replies. */
  flush(): void {
    this.scheduled = false;
    if (!this.open) return;
    const rows = this.rows;
    const acks = this.acks;
    const replies = this.replies;
    this.rows = [];
    this.acks = [];
    this.replies = [];
    this.open = false;
    try {
      this.onCommitted(this.transaction.commit(rows));
    } catch (error) {
      this.fail(error);
      return;
    }
    for (const reply of replies) this.client.publish(reply.topic, reply.payload, { qos: 1 });
    if (!this.client.connected) return;
    const internal = this.client as unknown as InternalClient;
    for (const messageId of acks) internal._sendPacket({ cmd: 'puback', messageId, reasonCode: 0 });
  }

  /** Storage failed: nothing of the group is kept, acknowledged or answered. */
  private fail(error: unknown): void {
    // Also when the commit itself failed: the transaction may still be open then.
    this.open = false;
    try {
      this.transaction.rollback();
    } catch {
      // the connection may already have rolled back on its own
    }
    this.rows = [];
    this.acks = [];
    this.replies = [];
    this.onCommitFailure(error);
  }
}
