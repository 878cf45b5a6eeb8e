-- SMS whose delivery receipt has not come (state sent), by when they are
-- next due a look at the provider's own record (notify's reconciler): a
-- status callback the store could not take, or that never arrived, would
-- leave them "sent" for ever. wake_at is unused while a delivery is sent;
-- the finish leaves the send's due time there, and RecheckUnconfirmed
-- moves it. Only SMS: email and Slack have no receipts, and their sent
-- deliveries would fill the index for nothing.
CREATE INDEX deliveries_unconfirmed ON deliveries (wake_at) WHERE state = 'sent' AND kind = 'sms';
