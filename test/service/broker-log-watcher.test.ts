import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BrokerLogWatcher, classifyBrokerLogLine, type BrokerRefusalReason } from '../../services/key-service/broker-log-watcher.js';

describe('broker log watcher', () => {
  it('classifies Mosquitto 2.0 TLS refusal lines and nothing else', () => {
    expect(classifyBrokerLogLine('2026-12-03T14:41:19: OpenSSL Error[0]: error:0A0000C7:SSL routines::peer did not return a certificate')).toBe('no-client-certificate');
    expect(classifyBrokerLogLine('2026-12-03T14:41:19: OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed')).toBe('untrusted-certificate');
    expect(classifyBrokerLogLine('2026-12-03T14:41:19: OpenSSL Error[0]: error:0A000102:SSL routines::unsupported protocol')).toBe('tls-version');
    expect(classifyBrokerLogLine('2026-12-03T14:41:17: Client connection from 127.0.0.1 failed: error:0A000126:SSL routines::unexpected eof while reading.')).toBeUndefined();
    expect(classifyBrokerLogLine('2026-12-03T14:41:19: New client connected from 127.0.0.1 as sensor-001 (p5, c0, k60).')).toBeUndefined();
  });

  it('counts only lines appended after it started, including a line split across writes', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'smqtt-log-')), 'mosquitto.log');
    writeFileSync(path, 'x: OpenSSL Error[0]: error:0A0000C7:SSL routines::peer did not return a certificate\n');
    const seen: BrokerRefusalReason[] = [];
    const watcher = new BrokerLogWatcher(path, (reason) => seen.push(reason));
    appendFileSync(path, 'x: OpenSSL Error[0]: error:0A000086:SSL routines::certificate ver');
    watcher.read();
    appendFileSync(path, 'ify failed\nx: OpenSSL Error[0]: error:0A000102:SSL routines::unsupported protocol\n');
    watcher.read();
    expect(seen).toEqual(['untrusted-certificate', 'tls-version']);
  });
});
