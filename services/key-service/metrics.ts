import { REFUSAL_CODES, type RefusalCode } from '../../protocol/errors.js';
import { BROKER_REFUSAL_REASONS, type BrokerRefusalReason } from './broker-log-watcher.js';

/** Decrypt-and-check latency buckets, seconds: 10 µs .. 50 ms. */
const LATENCY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

/** The service's Prometheus metrics, rendered in text exposition format 0.0.4. */
export class ServiceMetrics {
  readingsStored = 0;
  envelopesAccepted = 0;
  duplicates = 0;
  readonly rejections = new Map<RefusalCode, number>(REFUSAL_CODES.map((code) => [code, 0]));
  readonly keyExchanges = new Map<string, number>([
    ['ecdhP256', 0],
    ['rsaOaepSha256', 0],
  ]);
  /** Only filled when the service can read the broker's log (KEY_SERVICE_BROKER_LOG_FILE). */
  readonly brokerRefusals = new Map<BrokerRefusalReason, number>(BROKER_REFUSAL_REASONS.map((reason) => [reason, 0]));
  /** Read when /metrics is rendered: counting sessions costs O(devices), too much for every exchange. */
  activeSessions: () => number = () => 0;
  /** Sessions ended because their certificate was revoked. */
  sessionsRevoked = 0;
  /** CRL files that could not be used (the previous list stayed in force). */
  crlRejected = 0;
  revokedCertificates = 0;
  /** Unix seconds; 0 without a CRL. */
  crlNextUpdate = 0;
  mqttConnected = false;
  private readonly latencyCounts = new Array<number>(LATENCY_BUCKETS.length).fill(0);
  private latencyCount = 0;
  private latencySum = 0;

  reject(code: RefusalCode): void {
    this.rejections.set(code, (this.rejections.get(code) ?? 0) + 1);
  }

  keyExchange(scheme: string): void {
    this.keyExchanges.set(scheme, (this.keyExchanges.get(scheme) ?? 0) + 1);
  }

  observeDecrypt(seconds: number): void {
    this.latencyCount++;
    this.latencySum += seconds;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= (LATENCY_BUCKETS[i] ?? 0)) {
        this.latencyCounts[i] = (this.latencyCounts[i] ?? 0) + 1;
        break;
      }
    }
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    metric('smqtt_readings_stored_total', 'counter', 'Decrypted readings written to storage.', [['', this.readingsStored]]);
    metric('smqtt_envelopes_accepted_total', 'counter', 'Telemetry envelopes that decrypted and passed every check.', [
      ['', this.envelopesAccepted],
    ]);
    metric('smqtt_duplicates_total', 'counter', 'Envelopes seen again inside the replay window (QoS 1 redelivery); not stored twice.', [
      ['', this.duplicates],
    ]);
    metric(
      'smqtt_rejections_total',
      'counter',
      'Messages refused, by protocol refusal code.',
      [...this.rejections].map(([code, n]) => [`{code="${code}"}`, n]),
    );
    metric(
      'smqtt_key_exchanges_total',
      'counter',
      'Key exchanges completed, by scheme.',
      [...this.keyExchanges].map(([scheme, n]) => [`{scheme="${scheme}"}`, n]),
    );
    metric(
      'smqtt_broker_refusals_total',
      'counter',
      'Connections the broker refused in the TLS handshake, read from its log when available.',
      [...this.brokerRefusals].map(([reason, n]) => [`{reason="${reason}"}`, n]),
    );
    metric('smqtt_active_sessions', 'gauge', 'Devices with a current session key.', [['', this.activeSessions()]]);
    metric('smqtt_sessions_revoked_total', 'counter', 'Sessions ended because the certificate that set them up was revoked.', [['', this.sessionsRevoked]]);
    metric('smqtt_crl_rejected_total', 'counter', 'CRL files refused (unreadable, wrong issuer, bad signature, expired); the previous list stays.', [['', this.crlRejected]]);
    metric('smqtt_crl_revoked_certificates', 'gauge', 'Serials on the CRL in force.', [['', this.revokedCertificates]]);
    metric('smqtt_crl_next_update_seconds', 'gauge', 'nextUpdate of the CRL in force (Unix seconds; 0 without a CRL).', [['', this.crlNextUpdate]]);
    metric('smqtt_mqtt_connected', 'gauge', '1 while connected to the broker.', [['', this.mqttConnected ? 1 : 0]]);
    lines.push(
      '# HELP smqtt_decrypt_seconds Time to authenticate, decrypt and check one envelope.',
      '# TYPE smqtt_decrypt_seconds histogram',
    );
    let cumulative = 0;
    LATENCY_BUCKETS.forEach((bound, i) => {
      cumulative += this.latencyCounts[i] ?? 0;
      lines.push(`smqtt_decrypt_seconds_bucket{le="${bound}"} ${cumulative}`);
    });
    lines.push(
      `smqtt_decrypt_seconds_bucket{le="+Inf"} ${this.latencyCount}`,
      `smqtt_decrypt_seconds_sum ${this.latencySum}`,
      `smqtt_decrypt_seconds_count ${this.latencyCount}`,
      '',
    );
    return lines.join('\n');
  }
}

/** Reads one sample from exposition text, e.g. sampleValue(text, 'smqtt_rejections_total{code="replay"}'). */
export function sampleValue(text: string, sample: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
