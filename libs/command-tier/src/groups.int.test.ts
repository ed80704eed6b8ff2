import { describe, expect, it } from 'vitest';
import type { Command, StoredEvent } from '@chat/contracts';
import { conversation } from './kinds';
import { collectReplies, conv, createGroup, markDelivered, markRead, resendUnavailable, send, sendCommand, useCommandTestEnv } from './testing/env';

const t = useCommandTestEnv();

/** Each instance takes every partition: two of them share each partition's commands, and race. */
const instance = (opts: Parameters<typeof t.instance>[0] = {}) => t.instance(opts, { takeAll: true });

/** The timeline seqs (messages and system messages) of a conversation, in stream order. */
async function timeline(conversationId: string): Promise<Array<{ type: string; seq: number }>> {
  const { events } = await t.store.load(t.env.names.subjects.evtConv(conversationId));
  return events.flatMap((e: StoredEvent) =>
    e.type === 'MessageSent' || e.type === 'MembersAdded' || e.type === 'MemberRemoved' || e.type === 'MemberLeft' ? [{ type: e.type, seq: e.seq }] : [],
  );
}

describe('groups on the write side', () => {
  it('create → add → remove: the removed member can no longer send or acknowledge; seqs stay dense with system messages', async () => {
    const c = 'g-members';
    const a = await instance();
    await a.execute(createGroup(c, 'alice', ['bob']));
    expect(await a.execute(send(c, 'bob', 'hi'))).toMatchObject({ seq: 1 });
    expect(await a.execute(conv('AddMembers', c, 'alice', { userIds: ['carol', 'dave'] }))).toEqual({
      kind: 'conversation.changed',
      conversationId: c,
      conversationKind: 'group',
      title: 'test',
      members: ['alice', 'bob', 'carol', 'dave'],
      roles: { alice: 'owner', bob: 'member', carol: 'member', dave: 'member' },
      changed: ['members_added'],
    });
    expect(await a.execute(send(c, 'carol', 'joined'))).toMatchObject({ seq: 3 });
    // Adding someone twice changes nothing.
    expect(await a.execute(conv('AddMembers', c, 'alice', { userIds: ['carol'] }))).toMatchObject({ changed: [] });
    expect(await a.execute(conv('RemoveMember', c, 'alice', { userId: 'bob' }))).toMatchObject({ members: ['alice', 'carol', 'dave'], changed: ['member_removed'] });
    await expect(a.execute(send(c, 'bob', 'still here?'))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a.execute(markRead(c, 'bob', 1))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a.execute(markDelivered(c, 'bob', 1))).rejects.toMatchObject({ code: 'forbidden' });
    // A plain member cannot remove, the owner cannot leave.
    await expect(a.execute(conv('RemoveMember', c, 'dave', { userId: 'carol' }))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a.execute(conv('LeaveConversation', c, 'alice', {}))).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(/hand ownership over/) });
    expect(await a.execute(conv('LeaveConversation', c, 'dave', {}))).toMatchObject({ changed: ['member_left'] });
    expect(await a.execute(send(c, 'alice', 'bye'))).toMatchObject({ seq: 6 });

    expect(await timeline(c)).toEqual([
      { type: 'MessageSent', seq: 1 },
      { type: 'MembersAdded', seq: 2 },
      { type: 'MessageSent', seq: 3 },
      { type: 'MemberRemoved', seq: 4 },
      { type: 'MemberLeft', seq: 5 },
      { type: 'MessageSent', seq: 6 },
    ]);

    // Another instance, replaying from the stream, agrees.
    const b = await instance();
    await expect(b.execute(send(c, 'bob', 'from elsewhere'))).rejects.toMatchObject({ code: 'forbidden' });
    expect(await b.execute(send(c, 'carol', 'next'))).toMatchObject({ seq: 7 });
  });

  it('hands ownership over, then the old owner may leave', async () => {
    const c = 'g-handover';
    const a = await instance();
    await a.execute(createGroup(c, 'alice', ['bob', 'carol']));
    await expect(a.execute(conv('ChangeRole', c, 'bob', { userId: 'carol', role: 'admin' }))).rejects.toMatchObject({ code: 'forbidden' });
    const handover = conv('ChangeRole', c, 'alice', { userId: 'bob', role: 'owner' });
    expect(await a.execute(handover)).toMatchObject({ roles: { alice: 'admin', bob: 'owner', carol: 'member' }, changed: ['role_changed'] });
    // Redelivered to a fresh instance: answered, nothing appended again.
    expect(await (await instance()).execute(handover)).toMatchObject({ roles: { alice: 'admin', bob: 'owner' }, changed: [] });
    expect(await a.execute(conv('UpdateConversation', c, 'alice', { title: 'renamed', description: 'd' }))).toMatchObject({ title: 'renamed', description: 'd', changed: ['title', 'description'] });
    expect(await a.execute(conv('LeaveConversation', c, 'alice', {}))).toMatchObject({ members: ['bob', 'carol'] });
    const { events } = await t.store.load(t.env.names.subjects.evtConv(c));
    expect(events.map((e) => e.type)).toEqual(['ConversationCreated', 'RolesChanged', 'ConversationUpdated', 'MemberLeft']);
  });

  it('edit and delete windows (short windows configured); edits and deletes keep the target seq', async () => {
    const c = 'g-windows';
    const a = await instance({ rules: { editWindowMs: 500, deleteWindowMs: 1000 } });
    await a.execute(createGroup(c, 'alice', ['bob', 'carol']));
    const m1 = send(c, 'bob', 'one');
    const m2 = send(c, 'bob', 'two');
    await a.execute(m1);
    await a.execute(m2);
    // The windows run on command time (meta.at, stamped by the edge), so each command says how
    // long after m1 was sent it arrives: no waiting, and no test-machine slowness in the result.
    const sentAt = Date.parse(m1.meta.at);
    const later = (ms: number) => new Date(sentAt + ms).toISOString();
    const edit = (id: string, by: string, at: string) => conv('EditMessage', c, by, { messageId: id, body: { text: 'edited' } }, at);
    const del = (id: string, by: string, at: string, scope: 'everyone' | 'me' = 'everyone') => conv('DeleteMessage', c, by, { messageId: id, scope }, at);

    expect(await a.execute(edit(m1.data.messageId, 'bob', later(499)))).toMatchObject({ kind: 'message.edited', messageId: m1.data.messageId, seq: 1, body: { text: 'edited' } });
    await expect(a.execute(edit(m1.data.messageId, 'alice', later(499)))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a.execute(edit(m1.data.messageId, 'bob', later(550)))).rejects.toMatchObject({ code: 'forbidden', message: 'the edit window (500ms) has passed' });
    expect(await a.execute(del(m1.data.messageId, 'bob', later(550)))).toMatchObject({ kind: 'message.deleted', seq: 1, scope: 'everyone' });
    // A repeat appends nothing.
    expect(await a.execute(del(m1.data.messageId, 'bob', later(560)))).toMatchObject({ kind: 'message.deleted', seq: 1 });
    await expect(a.execute(edit(m1.data.messageId, 'bob', later(560)))).rejects.toMatchObject({ code: 'not_found' });
    const pastDelete = Date.parse(m2.meta.at) - sentAt + 1050;
    await expect(a.execute(del(m2.data.messageId, 'bob', later(pastDelete)))).rejects.toMatchObject({ code: 'forbidden', message: 'the delete window (1s) has passed' });
    await expect(a.execute(del(m2.data.messageId, 'carol', later(pastDelete)))).rejects.toMatchObject({ code: 'forbidden' });
    expect(await a.execute(del(m2.data.messageId, 'carol', later(pastDelete), 'me'))).toMatchObject({ seq: 2, scope: 'me' });
    expect(await a.execute(del(m2.data.messageId, 'alice', later(pastDelete)))).toMatchObject({ seq: 2, scope: 'everyone' });
    expect(await a.execute(send(c, 'carol', 'three'))).toMatchObject({ seq: 3 });

    const { events } = await t.store.load(t.env.names.subjects.evtConv(c));
    expect(events.map((e) => `${e.type}${'seq' in e ? `:${e.seq}` : ''}`)).toEqual([
      'ConversationCreated',
      'MessageSent:1',
      'MessageSent:2',
      'MessageEdited:1',
      'MessageDeleted:1',
      'MessageHidden:2',
      'MessageDeleted:2',
      'MessageSent:3',
    ]);
  });

  it('adds racing with sends on two instances sharing a partition keep the timeline dense', async () => {
    const c = 'g-add-race';
    const subject = t.env.names.subjects.evtConv(c);
    const a = await instance();
    const b = await instance();
    await a.execute(createGroup(c, 'alice', ['bob']));
    await b.aggregates.get(subject, conversation);
    const replies = collectReplies(t.env.nats.nc, t.env.names);
    t.closeLater(async () => replies.close());

    const commands: Command[] = [];
    for (let i = 0; i < 120; i++) {
      commands.push(i % 6 === 0 ? conv('AddMembers', c, 'alice', { userIds: [`u${i}`] }) : send(c, i % 2 ? 'alice' : 'bob', `race-${i}`));
    }
    for (const cmd of commands) sendCommand(t.env.nats.nc, t.env.names, cmd);
    await replies.waitFor(commands.length, 60_000);
    // A command that kept losing the race is answered `unavailable`; resent with the same ids
    // (as a client does) until answered.
    await resendUnavailable(t.env.nats.nc, t.env.names, replies, commands);
    for (const cmd of commands) expect(replies.replies.get(cmd.meta.requestId)?.at(-1)).toMatchObject({ ok: true });
    const seqs = (await timeline(c)).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: commands.length }, (_, i) => i + 1));
    expect((await timeline(c)).filter((e) => e.type === 'MembersAdded')).toHaveLength(20);
    expect(a.stats.conflicts + b.stats.conflicts).toBeGreaterThan(0);
  });

  it('routes every new command to the owner of its partition and answers it', async () => {
    const c = 'g-routes';
    await instance();
    const replies = collectReplies(t.env.nats.nc, t.env.names);
    t.closeLater(async () => replies.close());
    const first = send(c, 'alice', 'first');
    const commands: Command[] = [
      createGroup(c, 'alice', ['bob', 'carol']),
      first,
      conv('AddMembers', c, 'alice', { userIds: ['dave'] }),
      conv('ChangeRole', c, 'alice', { userId: 'bob', role: 'admin' }),
      conv('UpdateConversation', c, 'bob', { title: 'routes' }),
      conv('EditMessage', c, 'alice', { messageId: first.data.messageId, body: { text: 'edited' } }),
      conv('DeleteMessage', c, 'bob', { messageId: first.data.messageId, scope: 'everyone' }),
      conv('RemoveMember', c, 'bob', { userId: 'dave' }),
      conv('LeaveConversation', c, 'carol', {}),
    ];
    for (const cmd of commands) {
      sendCommand(t.env.nats.nc, t.env.names, cmd);
      await replies.waitFor(replies.replies.size + 1);
    }
    const kinds = commands.map((cmd) => {
      const [r] = replies.replies.get(cmd.meta.requestId) ?? [];
      return r?.ok ? r.result.kind : r?.error.code;
    });
    expect(kinds).toEqual([
      'conversation.created',
      'message.sent',
      'conversation.changed',
      'conversation.changed',
      'conversation.changed',
      'message.edited',
      'message.deleted',
      'conversation.changed',
      'conversation.changed',
    ]);
  });
});
