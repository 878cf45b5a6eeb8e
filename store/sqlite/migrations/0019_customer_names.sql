-- A page's customers by the words of their name, for the console's and
-- the API's find-as-you-type (FindCustomersByName): one row per folded,
-- lower-cased word (audience.NameWords: "Kovács Anna" is kovacs and anna),
-- so a prefix of any word is one range read of the primary key, in (word,
-- customer ID) order. Folding needs Go (diacritics), so the rows of the
-- customers stored before this migration are written by its Go step
-- (backfillCustomerNames), and UpsertCustomers and DeleteCustomer keep
-- them in step after it.
CREATE TABLE customer_names (
    page_id     TEXT NOT NULL,
    word        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (page_id, word, customer_id)
) STRICT, WITHOUT ROWID;

-- A customer's words, for a search of several words: each other word of
-- the query is one seek here per candidate the first word found.
CREATE INDEX customer_names_customer ON customer_names (page_id, customer_id, word);
