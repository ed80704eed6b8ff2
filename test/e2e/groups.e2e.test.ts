import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChatClient, ServerFrameOf } from '@chat/client';
import { eventually, startSystem, type RunningSystem } from '../support/system';
import { rawSocket } from '../support/socket';
import { harness, text, type Json } from '../support/harness';

/** Short windows so that "too late" can be tested without waiting 15 minutes. */
const EDIT_WINDOW_MS = 2_500;

let sys: RunningSystem;
const { u, connect, http, getJson, closeAll } = harness(() => sys);

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), { CHAT_EDIT_WINDOW: `${EDIT_WINDOW_MS}ms`, CHAT_DELETE_WINDOW: `${EDIT_WINDOW_MS}ms` });
}, 60_000);

afterAll(async () => {
  closeAll();
  await sys?.stop();
});

/** Collects every emitted frame of one client event. */
function collect<T>(subscribe: (fn: (v: T) => void) => unknown): T[] {
  const out: T[] = [];
  subscribe((v) => out.push(v));
  return out;
}
const messagesOf = (c: ChatClient) => collect<ServerFrameOf<'message.new'>>((fn) => c.on('message', fn));
const updatesOf = (c: ChatClient) => collect<ServerFrameOf<'conversation.updated'>>((fn) => c.on('conversation', fn));
const history = (conversationId: string, user: string, query = '') => getJson(`/v1/conversations/${conversationId}/messages${query}`, user);
const listEntry = async (user: string, conversationId: string): Promise<Json> =>
  (await getJson('/v1/conversations?limit=100', user)).conversations?.find((c: Json) => c.conversationId === conversationId);

/** A client that knows only docs/protocol.md: a bare socket without `?features=`; collects what it gets. */
const contractOnly = (user: string, deviceId: string) => rawSocket(sys.wsUrl, user, deviceId);

/** A group created by `owner` with the others as members; waits until the projection has it. */
async function group(owner: ChatClient, ownerId: string, members: string[], title = 'team') {
  const created = await owner.createConversation({ kind: 'group', members, title });
  await eventually(async () => (await http(`/v1/conversations/${created.conversationId}/messages`, ownerId)).status, (s) => s === 200);
  return created.conversationId;
}

describe('groups: membership and roles', () => {
  it('creates a group with the creator as owner and refuses more members than the cap', async () => {
    const owner = await connect(u('own1'));
    const created = await owner.createConversation({ kind: 'group', members: [u('m1a'), u('m1b')], title: 'Launch' });
    expect(created.conversationId).toMatch(/^g-/);
    expect(new Set(created.members)).toEqual(new Set([u('own1'), u('m1a'), u('m1b')]));
    const entry = await eventually(() => listEntry(u('m1a'), created.conversationId), (e) => e !== undefined);
    expect(entry).toMatchObject({ kind: 'group', title: 'Launch', memberCount: 3 });

    const tooMany = Array.from({ length: 1024 }, (_, i) => `cap${i}-${u('x')}`.slice(0, 64));
    await expect(owner.createConversation({ kind: 'group', members: tooMany, title: 'big' })).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/1024/),
    });
  });

  it('adds and removes members with system messages, conversation.updated to every member, and the permission matrix', async () => {
    const [o, a, m, n] = [u('own2'), u('adm2'), u('mem2'), u('new2')];
    const owner = await connect(o);
    const admin = await connect(a);
    const member = await connect(m);
    const conversationId = await group(owner, o, [a, m]);
    const memberUpdates = updatesOf(member);

    // Only the owner changes roles; a member cannot add.
    await expect(member.addMembers(conversationId, [n])).rejects.toMatchObject({ code: 'forbidden' });
    await expect(admin.setRole(conversationId, m, 'admin')).rejects.toMatchObject({ code: 'forbidden' });
    const promoted = await owner.setRole(conversationId, a, 'admin');
    expect(promoted).toMatchObject({ type: 'conversation.updated', conversationId, roles: { [o]: 'owner', [a]: 'admin', [m]: 'member' } });

    // An admin adds; everyone (the new member too) hears of it, and a system message takes a seq.
    const newcomer = await connect(n);
    const newcomerUpdates = updatesOf(newcomer);
    const memberMessages = messagesOf(member);
    await owner.send({ conversationId, body: text('before the join') });
    const added = await admin.addMembers(conversationId, [n]);
    expect(added.members).toContain(n);
    await eventually(async () => memberUpdates.filter((f) => f.changed.includes('members_added')).length, (k) => k === 1);
    await eventually(async () => newcomerUpdates.length, (k) => k >= 1);
    expect(newcomerUpdates[0]).toMatchObject({ conversationId, changed: ['members_added'], userIds: [n], by: a });
    const system = await eventually(async () => memberMessages.find((f) => f.system), (f) => f !== undefined);
    expect(system).toMatchObject({ seq: 2, senderId: a, system: { event: 'members_added', by: a, userIds: [n] } });

    // The newcomer sees the conversation from their join on.
    const seen = await eventually(() => history(conversationId, n), (h: Json) => h.messages?.length >= 1);
    expect(seen.messages.map((x: Json) => x.seq)).toEqual([2]);

    // Admins cannot remove the owner or another admin; members cannot remove anyone.
    await expect(admin.removeMember(conversationId, o)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(member.removeMember(conversationId, n)).rejects.toMatchObject({ code: 'forbidden' });
    await owner.setRole(conversationId, m, 'admin');
    await expect(admin.removeMember(conversationId, m)).rejects.toMatchObject({ code: 'forbidden' });
    await owner.setRole(conversationId, m, 'member');

    // Metadata: admins may, members may not.
    await expect(member.updateConversation(conversationId, { title: 'mine now' })).rejects.toMatchObject({ code: 'forbidden' });
    const renamed = await admin.updateConversation(conversationId, { title: 'Renamed', description: 'about', avatarUrl: 'https://example.com/a.png' });
    expect(renamed).toMatchObject({ title: 'Renamed', description: 'about', avatarUrl: 'https://example.com/a.png' });
    const renamedSeen = await eventually(async () => memberUpdates.find((f) => f.changed.includes('title')), (f) => f !== undefined);
    expect(renamedSeen).toMatchObject({ title: 'Renamed', by: a });
    const entry = await eventually(() => listEntry(m, conversationId), (e: Json) => e?.title === 'Renamed');
    expect(entry).toMatchObject({ description: 'about', avatarUrl: 'https://example.com/a.png', memberCount: 4 });

    // The owner must hand ownership over before leaving.
    await expect(owner.leave(conversationId)).rejects.toMatchObject({ code: 'forbidden' });
    const handover = await owner.setRole(conversationId, a, 'owner');
    expect(handover.roles).toMatchObject({ [a]: 'owner', [o]: 'admin' });
    const left = await owner.leave(conversationId);
    expect(left.member).toBe(false);
    await expect(owner.send({ conversationId, body: text('still here?') })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('a removed member gets nothing sent after the removal, live or by sync, and loses history after it', async () => {
    const [o, r, s] = [u('own3'), u('rem3'), u('stay3')];
    const owner = await connect(o);
    const removed = await connect(r);
    const stays = await connect(s);
    const conversationId = await group(owner, o, [r, s]);
    const removedMessages = messagesOf(removed);
    const removedUpdates = updatesOf(removed);
    await owner.send({ conversationId, body: text('everyone sees this') });
    await eventually(async () => removedMessages.length, (k) => k === 1);

    const cursorBefore = removed.cursor;
    await owner.removeMember(conversationId, r);
    const gone = await eventually(async () => removedUpdates.find((f) => f.changed.includes('member_removed')), (f) => f !== undefined);
    expect(gone).toMatchObject({ conversationId, member: false, userIds: [r], by: o });

    const staysMessages = messagesOf(stays);
    await owner.send({ conversationId, body: text('after the removal') });
    await eventually(async () => staysMessages.filter((f) => !f.system).length, (k) => k === 1);
    // Routed after commit, so once `stays` has it, `removed` would have it too if it were routed.
    expect(removedMessages.map((f) => f.body.text)).toEqual(['everyone sees this']);

    const again = await connect(r, 'd2');
    again.cursor = cursorBefore;
    const synced = messagesOf(again);
    await again.syncAll();
    expect(synced.map((f) => f.body.text)).not.toContain('after the removal');
    await expect(again.send({ conversationId, body: text('let me back') })).rejects.toMatchObject({ code: 'forbidden' });
    expect((await http(`/v1/conversations/${conversationId}/messages`, r)).status).toBe(403);
    await eventually(() => listEntry(r, conversationId), (e) => e === undefined);
  });
});

describe('groups: receipts and the conversation list', () => {
  it('coalesces group receipts for the sender, lists delivered/read/pending, and clears the reader on all devices', async () => {
    const [o, x, y, z] = [u('own4'), u('x4'), u('y4'), u('z4')];
    const owner = await connect(o);
    const xPhone = await connect(x, 'phone');
    const xLaptop = await connect(x, 'laptop');
    await connect(y);
    const conversationId = await group(owner, o, [x, y, z]);
    const batches = collect<ServerFrameOf<'receipt.batch'>>((fn) => owner.on('receipts', fn));
    const laptopReceipts = collect<ServerFrameOf<'receipt'>>((fn) => xLaptop.on('receipt', fn));
    const laptopMessages = collect<ServerFrameOf<'message.new'>>((fn) => xLaptop.on('message', fn));
    const laptopActivity = collect<ServerFrameOf<'conversation.activity'>>((fn) => xLaptop.on('activity', fn));
    const ownerTablet = await contractOnly(o, 'tablet');

    const sent: Array<ServerFrameOf<'message.sent'>> = [];
    for (let i = 1; i <= 3; i++) sent.push(await owner.send({ conversationId, body: text(`g${i}`) }));
    await eventually(() => listEntry(x, conversationId), (e: Json) => e?.unreadCount === 3);
    // The laptop learns of new messages from message.new itself: no conversation.activity for them.
    await eventually(async () => laptopMessages.map((m) => m.seq), (seqs) => seqs.length === 3);

    xPhone.markDelivered(conversationId, 3);
    xPhone.markRead(conversationId, 2);
    await eventually(
      async () => batches.flatMap((b) => b.receipts).filter((r) => r.userId === x),
      (rs) => rs.some((r) => r.status === 'read' && r.upToSeq === 2) && rs.some((r) => r.status === 'delivered' && r.upToSeq === 3),
    );
    // A read on the phone reaches the laptop as the user's own receipt, and the badge drops.
    await eventually(async () => laptopReceipts.find((r) => r.userId === x && r.status === 'read' && r.upToSeq === 2), (r) => r !== undefined);
    await eventually(() => listEntry(x, conversationId), (e: Json) => e?.unreadCount === 1);
    // Nor for reads: the own receipt above says it (the list has the exact count). (The group's
    // creation has one, without a message, which may arrive after the collector started: its
    // activity frames go out after the projector's commit.)
    expect(laptopActivity.filter((a) => a.lastMessage !== null || a.unreadCount !== 0)).toEqual([]);

    const r2 = await eventually(
      () => getJson(`/v1/conversations/${conversationId}/messages/${sent[1]!.messageId}/receipts`, o),
      (r: Json) => r.read?.length === 1,
    );
    expect(r2.delivered.map((d: Json) => d.userId)).toEqual([x]);
    expect(r2.read.map((d: Json) => d.userId)).toEqual([x]);
    expect(r2.pending.sort()).toEqual([y, z].sort());
    const r3 = await getJson(`/v1/conversations/${conversationId}/messages/${sent[2]!.messageId}/receipts`, o);
    expect(r3.read).toEqual([]);
    expect(r3.delivered.map((d: Json) => d.userId)).toEqual([x]);

    // Each batch has at most one receipt per member and status.
    for (const b of batches) {
      const keys = b.receipts.map((r) => `${r.userId}/${r.status}`);
      expect(new Set(keys).size).toBe(keys.length);
    }

    // A client that did not ask for receipt.batch gets the same moves as docs/protocol.md `receipt` frames.
    const tabletReceipts = await eventually(
      async () => ownerTablet.frames.filter((f) => f.type === 'receipt' && f.userId === x),
      (rs) => rs.some((r) => r.status === 'read' && r.upToSeq === 2) && rs.some((r) => r.status === 'delivered' && r.upToSeq === 3),
    );
    expect(tabletReceipts[0]).toEqual({ type: 'receipt', conversationId, userId: x, status: expect.any(String), upToSeq: expect.any(Number), at: expect.any(String) });
    expect(ownerTablet.frames.filter((f) => f.type === 'receipt.batch')).toEqual([]);
    expect(ownerTablet.frames[0]).not.toHaveProperty('features');
    expect(owner.hello?.features).toEqual(['receipt.batch', 'presence.batch']);
    ownerTablet.ws.close();
  });

  it('orders the list by newest activity with exact unread counts, live activity frames, and cursor pages', async () => {
    const [me, p, q] = [u('me5'), u('p5'), u('q5')];
    const meClient = await connect(me);
    const pClient = await connect(p);
    const first = await group(pClient, p, [me], 'first');
    const second = await group(pClient, p, [me, q], 'second');
    await pClient.send({ conversationId: first, body: text('one') });
    await pClient.send({ conversationId: second, body: text('two') });
    await pClient.send({ conversationId: second, body: text('three') });
    await meClient.send({ conversationId: second, body: text('mine') }); // not unread for me
    await pClient.send({ conversationId: first, body: text('four') });
    const list = await eventually(
      () => getJson('/v1/conversations?limit=100', me),
      (l: Json) => l.conversations?.[0]?.conversationId === first && l.conversations?.[0]?.unreadCount === 2,
    );
    expect(list.conversations.map((c: Json) => c.conversationId)).toEqual([first, second]);
    expect(list.conversations.map((c: Json) => c.unreadCount)).toEqual([2, 2]);
    expect(list.conversations[0].lastMessage).toMatchObject({ senderId: p, preview: 'four' });

    const page1 = await getJson('/v1/conversations?limit=1', me);
    expect(page1.conversations.map((c: Json) => c.conversationId)).toEqual([first]);
    const page2 = await getJson(`/v1/conversations?limit=1&cursor=${page1.nextCursor}`, me);
    expect(page2.conversations.map((c: Json) => c.conversationId)).toEqual([second]);
    expect(page2.nextCursor).toBeNull();

    meClient.markRead(second, 4);
    await eventually(() => listEntry(me, second), (e: Json) => e?.unreadCount === 0);
  });
});

describe('history and message operations', () => {
  it('pages history with beforeSeq/afterSeq and refuses limits over 100', async () => {
    const [o, m] = [u('own6'), u('mem6')];
    const owner = await connect(o);
    const conversationId = await group(owner, o, [m]);
    for (let i = 1; i <= 7; i++) await owner.send({ conversationId, body: text(`h${i}`) });
    const newest = await eventually(() => history(conversationId, m, '?limit=3'), (h: Json) => h.messages?.at(-1)?.seq === 7);
    expect(newest.messages.map((x: Json) => x.seq)).toEqual([5, 6, 7]);
    expect(newest.hasMore).toBe(true);
    const older = await history(conversationId, m, '?limit=3&beforeSeq=5');
    expect(older.messages.map((x: Json) => x.seq)).toEqual([2, 3, 4]);
    const oldest = await history(conversationId, m, '?limit=3&beforeSeq=2');
    expect(oldest).toMatchObject({ hasMore: false });
    expect(oldest.messages.map((x: Json) => x.seq)).toEqual([1]);
    const forward = await history(conversationId, m, '?limit=2&afterSeq=5');
    expect(forward.messages.map((x: Json) => x.seq)).toEqual([6, 7]);
    expect((await http(`/v1/conversations/${conversationId}/messages?limit=101`, m)).status).toBe(400);
    expect((await http(`/v1/conversations/${conversationId}/messages?limit=100`, m)).status).toBe(200);
  });

  it('replies within the conversation, forwards what the user can see, and flags mentions', async () => {
    const [o, m, other] = [u('own7'), u('mem7'), u('oth7')];
    const owner = await connect(o);
    const member = await connect(m);
    const g1 = await group(owner, o, [m], 'g1');
    const g2 = await group(owner, o, [m], 'g2');
    const secret = await group(owner, o, [other], 'secret');
    const original = await owner.send({ conversationId: g1, body: text('forward me') });
    const elsewhere = await owner.send({ conversationId: g2, body: text('in g2') });
    const hidden = await owner.send({ conversationId: secret, body: text('not for mem7') });

    const reply = await member.send({ conversationId: g1, body: text('a reply'), replyTo: original.messageId });
    await expect(member.send({ conversationId: g1, body: text('bad reply'), replyTo: elsewhere.messageId })).rejects.toMatchObject({ code: 'bad_request' });

    const received = messagesOf(owner);
    // A member forwards what they have seen, so the original is in their history by then.
    await eventually(() => history(g1, m), (h: Json) => h.messages?.some((x: Json) => x.messageId === original.messageId));
    await eventually(() => history(secret, other), (h: Json) => h.messages?.some((x: Json) => x.messageId === hidden.messageId));
    const fwd = await member.forward({ conversationId: g2, from: { conversationId: g1, messageId: original.messageId } });
    expect(fwd).toMatchObject({ type: 'message.sent', conversationId: g2 });
    const fwdFrame = await eventually(async () => received.find((f) => f.messageId === fwd.messageId), (f) => f !== undefined);
    expect(fwdFrame).toMatchObject({ forwarded: true, body: text('forward me'), senderId: m });
    await expect(member.forward({ conversationId: g2, from: { conversationId: secret, messageId: hidden.messageId } })).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(member.forward({ conversationId: secret, from: { conversationId: g1, messageId: original.messageId } })).rejects.toMatchObject({
      code: 'forbidden',
    });

    await expect(owner.send({ conversationId: g1, body: text('hey @oth7'), mentions: [other] })).rejects.toMatchObject({ code: 'bad_request' });
    await owner.send({ conversationId: g1, body: text('hey @mem7'), mentions: [m] });
    const entry = await eventually(() => listEntry(m, g1), (e: Json) => e?.mentionCount === 1);
    expect(entry.unreadCount).toBeGreaterThanOrEqual(2);
    const h = await eventually(() => history(g1, m), (x: Json) => x.messages?.length >= 3);
    expect(h.messages.find((x: Json) => x.messageId === reply.messageId)).toMatchObject({ replyTo: original.messageId });
    expect(h.messages.at(-1)).toMatchObject({ mentions: [m] });
    member.markRead(g1, h.messages.at(-1).seq);
    await eventually(() => listEntry(m, g1), (e: Json) => e?.mentionCount === 0 && e?.unreadCount === 0);
  });

  it('edits by the author within the window, deletes for everyone (tombstone) and for me (all my devices), and offline members get both by sync', async () => {
    const [o, m, admin] = [u('own8'), u('mem8'), u('adm8')];
    const owner = await connect(o);
    const memberPhone = await connect(m, 'phone');
    const memberLaptop = await connect(m, 'laptop');
    const conversationId = await group(owner, o, [m, admin]);
    await owner.setRole(conversationId, admin, 'admin');
    const adminClient = await connect(admin);
    const offlineCursor = adminClient.cursor;
    adminClient.close();

    const edits = collect<ServerFrameOf<'message.edited'>>((fn) => memberPhone.on('edited', fn));
    const phoneDeletes = collect<ServerFrameOf<'message.deleted'>>((fn) => memberPhone.on('deleted', fn));
    const laptopDeletes = collect<ServerFrameOf<'message.deleted'>>((fn) => memberLaptop.on('deleted', fn));

    const a = await owner.send({ conversationId, body: text('typo') });
    const b = await owner.send({ conversationId, body: text('delete me') });
    const c = await owner.send({ conversationId, body: text('hide me') });
    const d = await owner.send({ conversationId, body: text('late') });

    await expect(memberPhone.edit(conversationId, a.messageId, text('not mine'))).rejects.toMatchObject({ code: 'forbidden' });
    const edited = await owner.edit(conversationId, a.messageId, text('fixed'));
    expect(edited).toMatchObject({ type: 'message.edited', messageId: a.messageId, seq: a.seq, body: text('fixed') });
    await eventually(async () => edits.find((f) => f.messageId === a.messageId), (f) => f !== undefined);

    await expect(memberPhone.delete(conversationId, b.messageId, 'everyone')).rejects.toMatchObject({ code: 'forbidden' });
    const deleted = await owner.delete(conversationId, b.messageId, 'everyone');
    expect(deleted).toMatchObject({ type: 'message.deleted', scope: 'everyone', seq: b.seq });
    await eventually(async () => phoneDeletes.find((f) => f.messageId === b.messageId && f.scope === 'everyone'), (f) => f !== undefined);

    const hid = await memberPhone.delete(conversationId, c.messageId, 'me');
    expect(hid).toMatchObject({ scope: 'me', seq: c.seq });
    await eventually(async () => laptopDeletes.find((f) => f.messageId === c.messageId && f.scope === 'me'), (f) => f !== undefined);

    const memberHistory = await eventually(() => history(conversationId, m), (h: Json) => h.messages?.some((x: Json) => x.deletedAt));
    const bySeq = new Map(memberHistory.messages.map((x: Json) => [x.seq, x]));
    expect(bySeq.get(a.seq)).toMatchObject({ body: text('fixed'), editedAt: expect.any(String) });
    expect(bySeq.get(b.seq)).toMatchObject({ body: null, deletedAt: expect.any(String) });
    expect(bySeq.has(c.seq)).toBe(false);
    const ownerHistory = await history(conversationId, o);
    expect(ownerHistory.messages.find((x: Json) => x.seq === c.seq)).toMatchObject({ body: text('hide me') });
    expect(JSON.stringify(ownerHistory)).not.toContain('delete me');

    // The admin was offline: sync brings the messages as they are now, plus the edit and the delete.
    const back = await connect(admin, 'd2');
    back.cursor = offlineCursor;
    const got = messagesOf(back);
    const gotEdits = collect<ServerFrameOf<'message.edited'>>((fn) => back.on('edited', fn));
    const gotDeletes = collect<ServerFrameOf<'message.deleted'>>((fn) => back.on('deleted', fn));
    await back.syncAll();
    expect(got.find((f) => f.seq === a.seq)?.body ?? gotEdits.find((f) => f.seq === a.seq)?.body).toEqual(text('fixed'));
    expect(gotDeletes.some((f) => f.seq === b.seq && f.scope === 'everyone')).toBe(true);
    expect(got.find((f) => f.seq === c.seq)?.body).toEqual(text('hide me'));
    expect(got.some((f) => f.body.text === 'delete me')).toBe(false);

    // Windows: an admin may delete any time, the author may not edit or delete once the window passed.
    // The edge stamps each command with its own clock, so here the window has to pass in real
    // time: these sleeps wait for the (short, configured) window to expire, by design.
    await new Promise((r) => setTimeout(r, EDIT_WINDOW_MS + 200));
    await expect(owner.edit(conversationId, d.messageId, text('too late'))).rejects.toMatchObject({ code: 'forbidden' });
    const own = await memberPhone.send({ conversationId, body: text('mine, old soon') });
    await new Promise((r) => setTimeout(r, EDIT_WINDOW_MS + 200));
    await expect(memberPhone.delete(conversationId, own.messageId, 'everyone')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(back.delete(conversationId, own.messageId, 'everyone')).resolves.toMatchObject({ scope: 'everyone' });
  });
});
