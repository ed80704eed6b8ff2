import { describe, expect, it } from 'vitest';
import type { ConversationKind } from '@chat/contracts';
import { answer } from '../answer';
import { check, cmd, directCreated, groupCreated, stateOf, type Case } from '../fixtures';

const create = (by: string, kind: ConversationKind, members: string[], title?: string) => cmd('CreateConversation', by, { kind, members, ...(title ? { title } : {}) });

describe('CreateConversation', () => {
  it.each<Case>([
    {
      name: 'a direct conversation: both members, no roles above member',
      given: [],
      when: create('alice', 'direct', ['alice', 'bob']),
      then: [directCreated()],
    },
    {
      name: 'a direct conversation ignores a title',
      given: [],
      when: create('alice', 'direct', ['alice', 'bob'], 'ignored'),
      then: [directCreated()],
    },
    {
      name: 'a group: the creator is its owner, duplicates are dropped, the title is kept',
      given: [],
      when: create('alice', 'group', ['alice', 'bob', 'carol', 'bob'], 'team'),
      then: [groupCreated('alice', ['bob', 'carol'])],
    },
    {
      name: 'a group of the maximum size',
      given: [],
      when: create('alice', 'group', ['alice', 'bob', 'carol'], 'team'),
      rules: { maxGroupMembers: 3 },
      then: [groupCreated('alice', ['bob', 'carol'])],
    },
    {
      name: 'the existing direct conversation again (dedupe): nothing new',
      given: [directCreated()],
      when: create('alice', 'direct', ['alice', 'bob']),
      then: [],
    },
    {
      name: 'the existing direct conversation, created from the other side: nothing new',
      given: [directCreated()],
      when: create('bob', 'direct', ['bob', 'alice']),
      then: [],
    },
    {
      name: 'a retried group create by its creator: nothing new',
      given: [groupCreated('alice', ['bob'])],
      when: create('alice', 'group', ['alice', 'bob'], 'team'),
      then: [],
    },
  ])('$name', check);

  it.each<Case>([
    {
      name: 'the creator is not among the members',
      given: [],
      when: create('alice', 'group', ['bob', 'carol']),
      then: { error: 'bad_request' },
    },
    {
      name: 'a direct conversation with only the creator',
      given: [],
      when: create('alice', 'direct', ['alice', 'alice']),
      then: { error: 'bad_request' },
    },
    {
      name: 'a direct conversation with three members',
      given: [],
      when: create('alice', 'direct', ['alice', 'bob', 'carol']),
      then: { error: 'bad_request' },
    },
    {
      name: 'a group over the member cap',
      given: [],
      when: create('alice', 'group', ['alice', 'bob', 'carol', 'dave']),
      rules: { maxGroupMembers: 3 },
      then: { error: 'bad_request' },
    },
    {
      name: 'a group id that another user already created',
      given: [groupCreated('alice', ['bob'])],
      when: create('bob', 'group', ['bob', 'alice']),
      then: { error: 'conflict' },
    },
    {
      name: 'a group with the id of an existing direct conversation',
      given: [directCreated()],
      when: create('alice', 'group', ['alice', 'bob']),
      then: { error: 'conflict' },
    },
    {
      name: 'a direct conversation with the id of an existing group',
      given: [groupCreated('alice', ['bob'])],
      when: create('bob', 'direct', ['bob', 'alice']),
      then: { error: 'conflict' },
    },
    {
      name: 'a direct conversation id taken by two other users',
      given: [directCreated('alice', 'bob')],
      when: create('carol', 'direct', ['carol', 'dave']),
      then: { error: 'conflict' },
    },
  ])('rejects $name', check);

  it('answers a retry with the same conversation as the first create', () => {
    expect(answer(create('bob', 'direct', ['bob', 'alice']), stateOf([directCreated()]))).toEqual({
      kind: 'conversation.created',
      conversationId: 'c1',
      conversationKind: 'direct',
      members: ['alice', 'bob'],
    });
  });
});
