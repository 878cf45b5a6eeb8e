-- Replies (queue.MessageKind.IsReply: complaint answers, sign-up
-- confirmations) are claimed in a lane of their own (queue.Lane), so that
-- a channel's reply sender and its broadcast each claim only their own
-- deliveries. reply is fixed when a row is written, from its group's
-- message kind, and each lane walks a partial index of its own: a backlog
-- of replies waiting for their rate limit is never in the way of a
-- broadcast's claim, nor a broadcast's million in the replies'.
ALTER TABLE deliveries ADD COLUMN reply INTEGER NOT NULL DEFAULT 0;

-- Only open rows are in the due indexes, and a row never opens again once
-- final, so the open ones are all that need their lane: they are found
-- through the old due index before it goes.
UPDATE deliveries INDEXED BY deliveries_due SET reply = 1
	WHERE state IN ('pending', 'sending') AND grp IN (SELECT id FROM delivery_groups
		WHERE message_kind IN ('complaint_ack', 'complaint_received', 'complaint_answer', 'confirm', 'subscribed'));

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due_broadcast ON deliveries (kind, wake_at) WHERE state IN ('pending', 'sending') AND reply = 0;
CREATE INDEX deliveries_due_replies ON deliveries (kind, wake_at) WHERE state IN ('pending', 'sending') AND reply = 1;
