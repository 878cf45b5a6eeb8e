-- confirm_sent_at: when the pending SMS code was sent (Unix ms), so a code
-- dies after its lifetime and not only after wrong tries. NULL: no code.
-- unsubscribe_reason: why the subscription ended, shown in the API (''
-- for a link, the API or an admin; 'webhook:410' when the endpoint
-- answered 410 Gone, asking to be removed).
ALTER TABLE subscribers ADD COLUMN confirm_sent_at INTEGER;
ALTER TABLE subscribers ADD COLUMN unsubscribe_reason TEXT NOT NULL DEFAULT '';
