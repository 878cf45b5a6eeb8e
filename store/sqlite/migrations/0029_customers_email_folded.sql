-- Customers are found by email without regard to case
-- (audience.AddressKey): an index on the address folded as SQLite's
-- lower() folds it (ASCII letters), which the lookup compares.
CREATE INDEX customers_email_folded ON customers (page_id, lower(email)) WHERE email <> '';
