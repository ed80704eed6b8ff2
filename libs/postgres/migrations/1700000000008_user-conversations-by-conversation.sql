-- Up Migration

-- Every projector batch updates and reads the list rows of the conversations it touched, by
-- conversation (the unread counts and list tips of every member, the rows whose cached lists
-- are invalidated). The primary key starts with the user, so without this index each of those
-- statements read the whole table: the cost of a batch grew with the number of list rows in
-- the system, not with the batch.
CREATE INDEX user_conversations_conversation ON user_conversations (conversation_id);

-- Down Migration

DROP INDEX user_conversations_conversation;
