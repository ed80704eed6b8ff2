import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteObjectsCommand, HeadBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Names } from '@chat/contracts';

/** Test support for the events export and the archive: valid events of every family, the CLI, S3 clean-up. */

const at = '2025-03-01T12:00:00.000Z';

export interface Published {
  seq: number;
  subject: string;
  type: string;
  conversationId: string | undefined;
}

/** A valid stored event of a type, for a conversation (or, for users' own settings, a user). */
export function sampleEvent(n: Names, type: string, id: string, i = 1): { subject: string; event: Record<string, unknown> } {
  const conv = { v: 1, conversationId: id, at };
  switch (type) {
    case 'ConversationCreated':
      return { subject: n.subjects.evtConv(id), event: { ...conv, type, kind: 'group', createdBy: 'alice', members: [{ userId: 'alice', role: 'owner' }, { userId: 'bob', role: 'member' }] } };
    case 'MessageSent':
      return {
        subject: n.subjects.evtConv(id),
        event: { ...conv, type, messageId: `m-${i}`, seq: i, senderId: 'alice', senderDeviceId: 'd1', clientMsgId: `c-${i}`, body: { text: `hello ${i}` }, sentAt: at },
      };
    case 'MessageEdited':
      return { subject: n.subjects.evtConv(id), event: { ...conv, type, messageId: `m-${i}`, seq: i, by: 'alice', body: { text: `edited ${i}` } } };
    case 'MessagesRead':
    case 'MessagesDelivered':
      return { subject: n.subjects.evtRcpt(id, 'bob'), event: { ...conv, type, userId: 'bob', deviceId: 'd2', upToSeq: i } };
    case 'MemberMuteChanged':
      return { subject: n.subjects.pref(id, 'bob'), event: { ...conv, type, userId: 'bob', muted: true } };
    case 'UserBlocked':
      return { subject: n.subjects.userPref(id), event: { type, v: 1, userId: id, blockedUserId: 'mallory', at } };
    default:
      throw new Error(`no sample for ${type}`);
  }
}

export async function publishSample(js: JetStreamClient, n: Names, type: string, id: string, i = 1): Promise<Published> {
  const { subject, event } = sampleEvent(n, type, id, i);
  const ack = await js.publish(subject, JSON.stringify(event));
  return { seq: ack.seq, subject, type, conversationId: type === 'UserBlocked' ? undefined : id };
}

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `chatctl <args>` in its own process, as an operator runs it. */
export function chatctl(env: Record<string, string>, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'libs/ops/src/chatctl.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Line {
  seq: number;
  subject: string;
  time: string;
  event: { type: string } & Record<string, unknown>;
}

export const parseLines = (text: string): Line[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  const keys = await listKeys(s3, bucket, prefix);
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
  }
}
