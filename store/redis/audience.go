package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/internal/fastjson"
)

// ---- customers: a hash of JSON documents and a lexicographic ID index per page ----

// customerAddressLua maintains a page's address index (customerAddresses):
// members "<kind>\0<address>\0<customer ID>" for each address a customer
// has, so one ZRANGEBYLEX finds an address's customers in ID order. An
// email is folded to lower case (string.lower: ASCII letters, as
// audience.AddressKey folds the query).
const customerAddressLua = `
local function addrMembers(id, phone, email, slack)
  local out = {}
  if phone ~= '' then out[#out+1] = 'sms\0' .. phone .. '\0' .. id end
  if email ~= '' then out[#out+1] = 'email\0' .. string.lower(email) .. '\0' .. id end
  if slack ~= '' then out[#out+1] = 'slack\0' .. slack .. '\0' .. id end
  return out
end
local function oldMembers(id, doc)
  local o = cjson.decode(doc)
  local function str(v) if type(v) == 'string' then return v end return '' end
  return addrMembers(id, str(o.phone), str(o.email), str(o.slack))
end
`

// customerNamesLua maintains a page's name index (customerNames): members
// "<word>\0<customer ID>" for each word of a customer's name, folded in Go
// (audience.NameWords) and passed in as one space-separated string, which
// the customerNameWords hash keeps per customer so the old words can leave
// the index when the name changes or the customer goes. names and words
// are the two keys.
const customerNamesLua = `
local function setNames(names, wordsKey, id, words)
  local old = redis.call('HGET', wordsKey, id)
  if old == words then return end
  if old then
    for w in string.gmatch(old, '%S+') do redis.call('ZREM', names, w .. '\0' .. id) end
  end
  if words == '' then
    redis.call('HDEL', wordsKey, id)
    return
  end
  redis.call('HSET', wordsKey, id, words)
  for w in string.gmatch(words, '%S+') do redis.call('ZADD', names, 0, w .. '\0' .. id) end
end
`

// customerUpsertLua is one customer's write, shared by the two upsert
// scripts. KEYS: the page's customer hash, its ID index, its address
// index, the index's built marker, its name index, the name words hash,
// the name index's built marker. A replaced customer keeps its first
// created_at: the document's last two fields are always created_at and
// updated_at (Customer's field order), so the script swaps the old value in
// without decoding the JSON; its old addresses leave the address index
// (that needs the old document decoded, once per replaced customer).
// upsertOne returns 1 when the customer is new.
const customerUpsertLua = customerAddressLua + customerNamesLua + `
local tail = '"created_at":"([^"]*)","updated_at":"[^"]*"}$'
local function upsertOne(id, doc, phone, email, slack, words)
  local created = 0
  local old = redis.call('HGET', KEYS[1], id)
  if old then
    local first = string.match(old, tail)
    if first then
      doc = string.gsub(doc, '"created_at":"[^"]*"(,"updated_at":"[^"]*"})$', '"created_at":"' .. first .. '"%1')
    end
    for _, m in ipairs(oldMembers(id, old)) do redis.call('ZREM', KEYS[3], m) end
  else
    created = 1
  end
  redis.call('HSET', KEYS[1], id, doc)
  redis.call('ZADD', KEYS[2], 0, id)
  for _, m in ipairs(addrMembers(id, phone, email, slack)) do redis.call('ZADD', KEYS[3], 0, m) end
  setNames(KEYS[5], KEYS[6], id, words)
  return created
end
-- When the page has no customers yet the markers are set first: an empty
-- hash has nothing the indexes could miss, and every later write
-- maintains them, so the page never needs a build.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[4], '1')
  redis.call('SET', KEYS[7], '1')
end
`

// upsertCustomersScript writes one page's customers (customerUpsertLua).
// KEYS: customerUpsertLua's seven, then the page's customer version
// (customersVersion, which every write to the customer keys bumps). ARGV:
// ID, JSON, phone, email, Slack, name words, ID, JSON, … Returns how many
// were new.
var upsertCustomersScript = goredis.NewScript(customerUpsertLua + `
local created = 0
for i = 1, #ARGV, 6 do
  created = created + upsertOne(ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5])
end
redis.call('INCR', KEYS[8])
return created
`)

// A large upsert (more than importChunk customers of a page) is staged,
// so that it lands as one unit without one long script blocking Redis:
//
//  1. beginCustomerImportScript copies the page's five customer keys to
//     staging keys in the same slot (COPY: C speed) and notes the page's
//     customer version;
//  2. stageCustomersScript writes the customers into the staging copies a
//     chunk per script, as upsertCustomersScript writes the live keys;
//  3. switchCustomerImportScript, if the version has not moved (no other
//     write to the page's customers in between), renames the staging keys
//     over the live ones (O(1); the old values are freed in the
//     background) and bumps the version.
//
// A herald killed before step 3 leaves the live keys untouched and the
// staging keys to expire (importStagingTTL); step 3 runs whole or not at
// all. A version that moved fails the switch, and UpsertCustomers stages
// again from the new state.

// beginCustomerImportScript: KEYS: customers, IDs, addresses, names,
// name words, version, then the five staging keys. ARGV: the staging TTL
// (ms). Returns the version.
var beginCustomerImportScript = goredis.NewScript(`
for i = 1, 5 do
  redis.call('DEL', KEYS[6 + i])
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('COPY', KEYS[i], KEYS[6 + i]) end
end
return tonumber(redis.call('GET', KEYS[6]) or '0')
`)

// stageCustomersScript: KEYS: customerUpsertLua's seven, as staging keys
// (the two markers are set on an empty page and dropped: the switch sets
// the live ones); each gets the TTL. ARGV: the staging TTL (ms), then ID,
// JSON, phone, email, Slack, name words, … Returns how many were new to
// the staging copy.
var stageCustomersScript = goredis.NewScript(customerUpsertLua + `
local created = 0
for i = 2, #ARGV, 6 do
  created = created + upsertOne(ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5])
end
for i = 1, 7 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return created
`)

// switchCustomerImportScript: KEYS: customers, IDs, addresses, names,
// name words, the address index's built marker, the name index's, the
// version, then the five staging keys. ARGV: the version begin returned.
// Returns 1, or 0 when the version moved (nothing changed); an error when
// the staging is gone (it expired).
var switchCustomerImportScript = goredis.NewScript(`
if tonumber(redis.call('GET', KEYS[8]) or '0') ~= tonumber(ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[9]) == 0 or redis.call('EXISTS', KEYS[10]) == 0 then
  return redis.error_reply('ERR customer import staging expired')
end
-- A page without customers before has nothing its indexes could miss (as
-- in upsertCustomersScript).
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[6], '1')
  redis.call('SET', KEYS[7], '1')
end
for i = 1, 5 do
  redis.call('UNLINK', KEYS[i])
  if redis.call('EXISTS', KEYS[8 + i]) == 1 then
    redis.call('RENAME', KEYS[8 + i], KEYS[i])
    redis.call('PERSIST', KEYS[i])
  end
end
redis.call('INCR', KEYS[8])
return 1
`)

// deleteCustomerScript removes one customer. KEYS: hash, ID index,
// address index, name index, name words hash, version. ARGV: ID.
var deleteCustomerScript = goredis.NewScript(customerAddressLua + customerNamesLua + `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
setNames(KEYS[4], KEYS[5], ARGV[1], '')
for _, m in ipairs(oldMembers(ARGV[1], old)) do redis.call('ZREM', KEYS[3], m) end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[6])
return 1
`)

// buildCustomerAddressesScript indexes one batch of a page's customers,
// for pages whose customers predate the address index (see
// ensureCustomerAddresses). KEYS: the customer hash, the address index,
// the built marker, the version (bumped: a staged import copied the index
// as it was), the legacy index and its marker (deleted by the last
// batch). ARGV: HSCAN cursor, COUNT. The HSCAN runs inside the
// script, so every document it indexes is the current one: a customer
// changed or deleted by the other scripts since an earlier batch is
// indexed as it is now, or not at all (the HSCAN guarantee: every field
// present for the whole scan is returned at least once; repeats are
// harmless ZADDs). The batch that finishes the scan sets the marker,
// unless the page has no customers: then nothing is written for it (a
// lookup leaves no key behind for any page ID) and its first upsert sets
// the marker. Returns the next cursor ("0" when done).
var buildCustomerAddressesScript = goredis.NewScript(customerAddressLua + `
local r = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local kv = r[2]
for i = 1, #kv, 2 do
  for _, m in ipairs(oldMembers(kv[i], kv[i+1])) do redis.call('ZADD', KEYS[2], 0, m) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  if r[1] == '0' then redis.call('SET', KEYS[3], '1') end
  redis.call('INCR', KEYS[4])
end
if r[1] == '0' then redis.call('DEL', KEYS[5], KEYS[6]) end
return r[1]
`)

// defaultAddressBuildBatch is the HSCAN COUNT of one build batch: a few
// milliseconds of Redis time per script. (A small hash in listpack
// encoding is returned whole by its first HSCAN whatever the count.)
const defaultAddressBuildBatch = 500

// ensureCustomerAddresses makes sure the page's address index holds every
// customer: once per page and process (buildOnce), it builds the index a
// batch at a time when its marker is missing.
func (db *DB) ensureCustomerAddresses(ctx context.Context, pageID string) error {
	return db.buildOnce(ctx, &db.addrBuilt, &db.addrBuilding, pageID, "address", db.keys.customerAddressesBuilt(pageID), func(batch int) error {
		keys := append([]string{db.keys.customers(pageID), db.keys.customerAddresses(pageID), db.keys.customerAddressesBuilt(pageID), db.keys.customersVersion(pageID)},
			db.keys.legacyCustomerAddresses(pageID)...)
		cursor := "0"
		for {
			var err error
			cursor, err = buildCustomerAddressesScript.Run(ctx, db.client, keys, cursor, batch).Text()
			if err != nil || cursor == "0" {
				return err
			}
		}
	})
}

// buildOnce runs build (with the batch size) for a page's index unless
// this process knows it built (built), or Redis holds its marker. Callers
// in one process wait for a build in progress (building: a one-slot
// semaphore per page) rather than start another; nodes building at once
// only repeat idempotent work. A failed or abandoned build leaves no
// marker, so the next lookup starts it again.
func (db *DB) buildOnce(ctx context.Context, built, building *sync.Map, pageID, what, marker string, build func(batch int) error) error {
	if _, ok := built.Load(pageID); ok {
		return nil
	}
	v, _ := building.LoadOrStore(pageID, make(chan struct{}, 1))
	sem := v.(chan struct{})
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("redis: build customer %s index: %w", what, ctx.Err())
	}
	defer func() { <-sem }()
	if _, ok := built.Load(pageID); ok {
		return nil // built by the caller we waited for
	}
	n, err := db.client.Exists(ctx, marker).Result()
	if err != nil {
		return fmt.Errorf("redis: read customer %s index marker: %w", what, err)
	}
	if n == 0 {
		batch := db.addrBatch
		if batch <= 0 {
			batch = defaultAddressBuildBatch
		}
		if err := build(batch); err != nil {
			return fmt.Errorf("redis: build customer %s index: %w", what, err)
		}
	}
	built.Store(pageID, struct{}{})
	return nil
}

// UpsertCustomers implements notify.Store: a page's customers land as one
// unit however many there are. Up to importChunk customers of a page are
// one script; more are staged and switched in (stagedUpsert, see
// beginCustomerImportScript), so no script runs long. Customers of several
// pages in one call are atomic per page only, which keeps every script
// inside one Cluster slot.
func (db *DB) UpsertCustomers(ctx context.Context, cs []*audience.Customer) (int, error) {
	byPage := map[string][]any{}
	var order []string
	for _, c := range cs {
		if c == nil || c.ID == "" {
			return 0, incident.Invalid("customer.id", "customer ID is empty")
		}
		if !incident.ValidID(c.PageID) {
			return 0, incident.Invalid("customer.page_id", "invalid page ID %q", c.PageID)
		}
		v := *c
		v.CreatedAt, v.UpdatedAt = utcMS(c.CreatedAt), utcMS(c.UpdatedAt)
		doc, err := encode(&v)
		if err != nil {
			return 0, err
		}
		if _, ok := byPage[c.PageID]; !ok {
			order = append(order, c.PageID)
		}
		byPage[c.PageID] = append(byPage[c.PageID], c.ID, doc, c.Phone, c.Email, c.Slack, strings.Join(audience.NameWords(c.Name), " "))
	}
	created := 0
	for _, pageID := range order {
		args := byPage[pageID]
		var n int
		var err error
		if len(args)/customerArgs <= db.importChunkSize() {
			n, err = upsertCustomersScript.Run(ctx, db.client, append(db.customerKeys(pageID), db.keys.customersVersion(pageID)), args...).Int()
		} else {
			n, err = db.stagedUpsert(ctx, pageID, args)
		}
		if err != nil {
			return created, fmt.Errorf("redis: upsert customers: %w", err)
		}
		created += n
	}
	return created, nil
}

// defaultImportChunk is how many customers go to Redis in one script: an
// upsert of up to this many is one script; a larger one is staged in
// scripts of this many.
const defaultImportChunk = 5000

// importStagingTTL is how long a staged import that was never switched in
// (its writer died) stays before Redis drops it.
const importStagingTTL = time.Hour

// importSwitchTries is how often a staged import starts again when other
// writes to the page's customers moved the version under it.
const importSwitchTries = 3

func (db *DB) importChunkSize() int {
	if db.importChunk > 0 {
		return db.importChunk
	}
	return defaultImportChunk
}

// customerArgs is how many ARGV one customer takes in the upsert scripts:
// ID, JSON, phone, email, Slack, name words.
const customerArgs = 6

// customerKeys are customerUpsertLua's seven keys for a page's live
// customers.
func (db *DB) customerKeys(pageID string) []string {
	return []string{db.keys.customers(pageID), db.keys.customerIDs(pageID), db.keys.customerAddresses(pageID), db.keys.customerAddressesBuilt(pageID),
		db.keys.customerNames(pageID), db.keys.customerNameWords(pageID), db.keys.customerNamesBuilt(pageID)}
}

// stagedUpsert writes one page's customers (args as upsertCustomersScript
// takes them) through staging keys: begin, stage a chunk at a time,
// switch. A retry after a kill stages afresh under a new ID; what the dead
// writer staged expires.
func (db *DB) stagedUpsert(ctx context.Context, pageID string, args []any) (int, error) {
	live := []string{db.keys.customers(pageID), db.keys.customerIDs(pageID), db.keys.customerAddresses(pageID),
		db.keys.customerNames(pageID), db.keys.customerNameWords(pageID)}
	markers := []string{db.keys.customerAddressesBuilt(pageID), db.keys.customerNamesBuilt(pageID)}
	version := db.keys.customersVersion(pageID)
	ttl := importStagingTTL.Milliseconds()
	chunk := db.importChunkSize()
	for try := 1; ; try++ {
		base := db.keys.customerImport(pageID, incident.NewID())
		staging := []string{base + ":customers", base + ":ids", base + ":addresses", base + ":names", base + ":namewords"}
		// customerUpsertLua's seven keys, staged.
		stageKeys := []string{staging[0], staging[1], staging[2], base + ":marker", staging[3], staging[4], base + ":namesmarker"}
		drop := func() {
			// Not switched in: drop the staging now rather than at its
			// expiry (best effort, past a cancelled ctx).
			_ = db.client.Del(context.WithoutCancel(ctx), stageKeys...).Err()
		}
		ver, err := beginCustomerImportScript.Run(ctx, db.client, concat(live, []string{version}, staging), ttl).Int64()
		if err != nil {
			drop()
			return 0, fmt.Errorf("begin: %w", err)
		}
		created := 0
		for i := 0; i < len(args); i += customerArgs * chunk {
			part := args[i:min(i+customerArgs*chunk, len(args))]
			n, err := stageCustomersScript.Run(ctx, db.client, stageKeys, append([]any{ttl}, part...)...).Int()
			if err != nil {
				drop()
				return 0, fmt.Errorf("stage: %w", err)
			}
			created += n
		}
		ok, err := switchCustomerImportScript.Run(ctx, db.client, concat(live, markers, []string{version}, staging), ver).Int()
		if err != nil {
			drop()
			return 0, fmt.Errorf("switch in: %w", err)
		}
		if ok == 1 {
			_ = db.client.Del(ctx, base+":marker", base+":namesmarker").Err()
			return created, nil
		}
		drop()
		if try == importSwitchTries {
			return 0, incident.Errorf(incident.ECONFLICT, "the page's customers kept changing during the import; try again")
		}
	}
}

// concat joins key lists into a new slice.
func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// FindCustomerByID implements notify.Store.
func (db *DB) FindCustomerByID(ctx context.Context, pageID, id string) (*audience.Customer, error) {
	if !incident.ValidID(pageID) {
		return nil, incident.NotFound("customer", id)
	}
	doc, err := db.client.HGet(ctx, db.keys.customers(pageID), id).Result()
	if err == goredis.Nil {
		return nil, incident.NotFound("customer", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find customer: %w", err)
	}
	return decodeCustomer(doc)
}

// FindCustomers implements notify.Store: ZRANGEBYLEX from the cursor, then
// one HMGET.
func (db *DB) FindCustomers(ctx context.Context, f audience.CustomerFilter) ([]*audience.Customer, error) {
	if !incident.ValidID(f.PageID) {
		return []*audience.Customer{}, nil
	}
	min := "-"
	if f.After != "" {
		min = "(" + f.After
	}
	limit := int64(f.Limit)
	if limit < 0 {
		limit = 0 // go-redis sends no LIMIT for a zero count
	}
	ids, err := db.client.ZRangeByLex(ctx, db.keys.customerIDs(f.PageID), &goredis.ZRangeBy{Min: min, Max: "+", Count: limit}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find customers: %w", err)
	}
	out := make([]*audience.Customer, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	docs, err := db.client.HMGet(ctx, db.keys.customers(f.PageID), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find customers: %w", err)
	}
	for _, d := range docs {
		s, ok := d.(string)
		if !ok {
			continue // an index entry without its record
		}
		c, err := decodeCustomer(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CountCustomers implements notify.Store.
func (db *DB) CountCustomers(ctx context.Context, pageID string) (int, error) {
	if !incident.ValidID(pageID) {
		return 0, nil
	}
	n, err := db.client.HLen(ctx, db.keys.customers(pageID)).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: count customers: %w", err)
	}
	return int(n), nil
}

// DeleteCustomer implements notify.Store; ENOTFOUND when there is none.
func (db *DB) DeleteCustomer(ctx context.Context, pageID, id string) error {
	if !incident.ValidID(pageID) {
		return incident.NotFound("customer", id)
	}
	keys := []string{db.keys.customers(pageID), db.keys.customerIDs(pageID), db.keys.customerAddresses(pageID),
		db.keys.customerNames(pageID), db.keys.customerNameWords(pageID), db.keys.customersVersion(pageID)}
	n, err := deleteCustomerScript.Run(ctx, db.client, keys, id).Int()
	if err != nil {
		return fmt.Errorf("redis: delete customer: %w", err)
	}
	if n == 0 {
		return incident.NotFound("customer", id)
	}
	return nil
}

// customersByAddressScript reads the customers an address index prefix
// names. KEYS: customer-addresses, customers (the page's slot). ARGV: the
// prefix ("<kind>\0<address key>"). Returns their records (nil for an index
// entry without one), or nil when none has the address.
var customersByAddressScript = goredis.NewScript(`
local ms = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. ARGV[1] .. '\0', '(' .. ARGV[1] .. '\1')
if #ms == 0 then return false end
local out = {}
for i = 1, #ms, 500 do
  local ids = {}
  for j = i, math.min(i + 499, #ms) do ids[#ids + 1] = string.sub(ms[j], #ARGV[1] + 2) end
  for _, d in ipairs(redis.call('HMGET', KEYS[2], unpack(ids))) do out[#out + 1] = d end
end
return out
`)

// FindCustomersByAddress implements audience.Store: one script (one round
// trip) reads the page's address index over the members
// "<kind>\0<address>\0…", which sort by customer ID, and their records.
// The first lookup of a page in a process first makes sure the index is
// complete (ensureCustomerAddresses).
func (db *DB) FindCustomersByAddress(ctx context.Context, pageID string, kind channel.Kind, address string) ([]*audience.Customer, error) {
	out := []*audience.Customer{}
	if !incident.ValidID(pageID) || address == "" || (kind != channel.SMS && kind != channel.Email && kind != channel.Slack) {
		return out, nil
	}
	if err := db.ensureCustomerAddresses(ctx, pageID); err != nil {
		return nil, err
	}
	// One round trip: every inbound complaint looks its sender up.
	prefix := string(kind) + "\x00" + audience.AddressKey(kind, address)
	docs, err := customersByAddressScript.Run(ctx, db.client, []string{db.keys.customerAddresses(pageID), db.keys.customers(pageID)}, prefix).Slice()
	if errors.Is(err, goredis.Nil) {
		return out, nil
	} else if err != nil {
		return nil, fmt.Errorf("redis: find customers by address: %w", err)
	}
	for _, d := range docs {
		s, ok := d.(string)
		if !ok {
			continue // an index entry without its record
		}
		c, err := decodeCustomer(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// buildCustomerNamesScript indexes one batch of a page's customers by
// name, for pages whose customers predate the name index (see
// ensureCustomerNames). Folding needs Go, so the build reads the customers
// with HSCAN in Go and passes each one's name and words; the script indexes
// a customer only when the name words hash has no entry for it yet (the
// upsert script writes one whenever it writes a named customer, so an
// entry is current) and its stored name is still the one passed (one
// changed or deleted since the HSCAN is left as the other scripts left
// it). KEYS: the customer hash, the name index, the name words hash, the
// built marker, the version (bumped: a staged import copied the index as
// it was). ARGV: "1" on the last batch (then the marker is set, if the
// page has customers), then ID, name, words, ID, …
var buildCustomerNamesScript = goredis.NewScript(customerNamesLua + `
for i = 2, #ARGV, 3 do
  local id, name, words = ARGV[i], ARGV[i+1], ARGV[i+2]
  if words ~= '' and redis.call('HEXISTS', KEYS[3], id) == 0 then
    local doc = redis.call('HGET', KEYS[1], id)
    if doc and cjson.decode(doc).name == name then setNames(KEYS[2], KEYS[3], id, words) end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[1] == '1' then redis.call('SET', KEYS[4], '1') end
  redis.call('INCR', KEYS[5])
end
return 0
`)

// ensureCustomerNames makes sure the page's name index holds every
// customer, as ensureCustomerAddresses does for addresses.
func (db *DB) ensureCustomerNames(ctx context.Context, pageID string) error {
	marker := db.keys.customerNamesBuilt(pageID)
	return db.buildOnce(ctx, &db.nameBuilt, &db.nameBuilding, pageID, "name", marker, func(batch int) error {
		keys := []string{db.keys.customers(pageID), db.keys.customerNames(pageID), db.keys.customerNameWords(pageID), marker, db.keys.customersVersion(pageID)}
		var cursor uint64
		for {
			kv, next, err := db.client.HScan(ctx, db.keys.customers(pageID), cursor, "", int64(batch)).Result()
			if err != nil {
				return err
			}
			last := "0"
			if next == 0 {
				last = "1"
			}
			args := []any{last}
			for i := 0; i+1 < len(kv); i += 2 {
				c, err := decodeCustomer(kv[i+1])
				if err != nil {
					return err
				}
				if ws := audience.NameWords(c.Name); len(ws) > 0 {
					args = append(args, kv[i], c.Name, strings.Join(ws, " "))
				}
			}
			if err := buildCustomerNamesScript.Run(ctx, db.client, keys, args...).Err(); err != nil {
				return err
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	})
}

// FindCustomersByName implements audience.Store: ZRANGEBYLEX of the
// page's name index over the longest query word's prefix (members sort by
// word, then customer ID), then HMGETs of the candidates a few at a time
// until limit of them match every query word. The first lookup of a page
// in a process first makes sure the index is complete
// (ensureCustomerNames).
func (db *DB) FindCustomersByName(ctx context.Context, pageID, query string, limit int) ([]*audience.Customer, error) {
	out := []*audience.Customer{}
	words, key := audience.NameQuery(query)
	if !incident.ValidID(pageID) || key == "" {
		return out, nil
	}
	if limit <= 0 || limit > audience.MaxNameResults {
		limit = audience.MaxNameResults
	}
	if err := db.ensureCustomerNames(ctx, pageID); err != nil {
		return nil, err
	}
	if len(words) > 1 {
		// Every word's entries counted in one round trip (ZLEXCOUNT is
		// a logarithmic count, not a scan).
		pipe := db.client.Pipeline()
		counts := map[string]*goredis.IntCmd{}
		for _, w := range words {
			counts[w] = pipe.ZLexCount(ctx, db.keys.customerNames(pageID), "["+w, "("+w+"\xff")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("redis: find customers by name: %w", err)
		}
		var err error
		if key, err = audience.RarestWord(words, key, func(w string) (int, error) {
			n, err := counts[w].Result()
			return int(n), err
		}); err != nil {
			return nil, fmt.Errorf("redis: find customers by name: %w", err)
		}
	}
	members, err := db.client.ZRangeByLex(ctx, db.keys.customerNames(pageID), &goredis.ZRangeBy{
		Min: "[" + key, Max: "(" + key + "\xff", Count: audience.MaxNameScan}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find customers by name: %w", err)
	}
	seen := map[string]bool{}
	ids := make([]string, 0, len(members))
	for _, m := range members {
		i := strings.IndexByte(m, 0)
		if i < 0 || seen[m[i+1:]] {
			continue
		}
		seen[m[i+1:]] = true
		ids = append(ids, m[i+1:])
	}
	chunk := max(2*limit, 32)
	for len(ids) > 0 && len(out) < limit {
		n := min(chunk, len(ids))
		docs, err := db.client.HMGet(ctx, db.keys.customers(pageID), ids[:n]...).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: find customers by name: %w", err)
		}
		ids = ids[n:]
		for _, d := range docs {
			s, ok := d.(string)
			if !ok {
				continue // an index entry without its record
			}
			c, err := decodeCustomer(s)
			if err != nil {
				return nil, err
			}
			if audience.NameMatches(audience.NameWords(c.Name), words) && len(out) < limit {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// ---- subscribers (global slot: FindSubscriberByID has no page) ----

// subscriberRecord is how a subscriber is stored: Subscriber hides its
// confirmation fields from JSON.
type subscriberRecord struct {
	audience.Subscriber
	ConfirmHash   string     `json:"confirm_hash"`
	ConfirmTries  int        `json:"confirm_tries"`
	ConfirmSentAt *time.Time `json:"confirm_sent_at"`
}

// subscriberLua computes, in the scripts, the address-index field of a
// decoded subscriber document, and whether it is live (pending or active).
const subscriberLua = `
local function addrKey(s)
  local inc = s.incident_id
  if type(inc) ~= 'string' then inc = '' end
  return s.page_id .. '\0' .. s.kind .. '\0' .. s.address .. '\0' .. inc
end
local function live(s) return s.state == 'pending' or s.state == 'active' end
local function unindex(pfx, id, old)
  if live(old) then
    local k = addrKey(old)
    if redis.call('HGET', pfx .. 'subscriber-addresses', k) == id then redis.call('HDEL', pfx .. 'subscriber-addresses', k) end
  end
  redis.call('ZREM', pfx .. 'subscribers:page:' .. old.page_id, id)
  redis.call('HINCRBY', pfx .. 'subscribers:count:' .. old.page_id, old.state, -1)
end
`

// saveSubscriberScript inserts or replaces a subscriber. KEYS[1]: the
// subscriber hash. ARGV: {global} prefix, ID, JSON. Returns 0 (and writes
// nothing) when another live subscriber holds the same page, kind, address
// and incident; 1 otherwise.
var saveSubscriberScript = goredis.NewScript(subscriberLua + `
local pfx, id, doc = ARGV[1], ARGV[2], ARGV[3]
local s = cjson.decode(doc)
if live(s) then
  local holder = redis.call('HGET', pfx .. 'subscriber-addresses', addrKey(s))
  if holder and holder ~= id then return 0 end
end
local old = redis.call('HGET', KEYS[1], id)
if old then unindex(pfx, id, cjson.decode(old)) end
redis.call('HSET', KEYS[1], id, doc)
redis.call('ZADD', pfx .. 'subscribers:page:' .. s.page_id, 0, id)
redis.call('ZADD', pfx .. 'subscribers:all', 0, id)
redis.call('HINCRBY', pfx .. 'subscribers:count:' .. s.page_id, s.state, 1)
if live(s) then redis.call('HSET', pfx .. 'subscriber-addresses', addrKey(s), id) end
return 1
`)

// deleteSubscriberScript removes a subscriber and its index entries.
// KEYS[1]: the subscriber hash. ARGV: {global} prefix, ID. Returns 0 when
// there was none.
var deleteSubscriberScript = goredis.NewScript(subscriberLua + `
local pfx, id = ARGV[1], ARGV[2]
local old = redis.call('HGET', KEYS[1], id)
if not old then return 0 end
unindex(pfx, id, cjson.decode(old))
redis.call('ZREM', pfx .. 'subscribers:all', id)
redis.call('HDEL', KEYS[1], id)
return 1
`)

func subscriberAddressField(pageID string, kind channel.Kind, address, incidentID string) string {
	return pageID + "\x00" + string(kind) + "\x00" + address + "\x00" + incidentID
}

// SaveSubscriber implements notify.Store with saveSubscriberScript.
func (db *DB) SaveSubscriber(ctx context.Context, s *audience.Subscriber) error {
	if s == nil || s.ID == "" {
		return incident.Invalid("subscriber.id", "subscriber ID is empty")
	}
	if !incident.ValidID(s.PageID) {
		return incident.Invalid("subscriber.page_id", "invalid page ID %q", s.PageID)
	}
	rec := subscriberRecord{Subscriber: *s, ConfirmHash: s.ConfirmHash, ConfirmTries: s.ConfirmTries, ConfirmSentAt: utcMSPtr(s.ConfirmSentAt)}
	rec.CreatedAt = utcMS(s.CreatedAt)
	rec.ConfirmedAt, rec.UnsubscribedAt = utcMSPtr(s.ConfirmedAt), utcMSPtr(s.UnsubscribedAt)
	doc, err := encode(rec)
	if err != nil {
		return err
	}
	ok, err := saveSubscriberScript.Run(ctx, db.client, []string{db.keys.subscribers()}, db.globalPrefix(), s.ID, doc).Int()
	if err != nil {
		return fmt.Errorf("redis: save subscriber: %w", err)
	}
	if ok == 0 {
		return incident.Errorf(incident.ECONFLICT, "%s is already subscribed", s.Address)
	}
	return nil
}

func decodeSubscriber(doc string) (*audience.Subscriber, error) {
	var rec subscriberRecord
	if err := json.Unmarshal([]byte(doc), &rec); err != nil {
		return nil, fmt.Errorf("redis: decode subscriber: %w", err)
	}
	s := rec.Subscriber
	s.ConfirmHash, s.ConfirmTries, s.ConfirmSentAt = rec.ConfirmHash, rec.ConfirmTries, rec.ConfirmSentAt
	return &s, nil
}

// FindSubscriberByID implements notify.Store.
func (db *DB) FindSubscriberByID(ctx context.Context, id string) (*audience.Subscriber, error) {
	doc, err := db.client.HGet(ctx, db.keys.subscribers(), id).Result()
	if err == goredis.Nil {
		return nil, incident.NotFound("subscriber", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find subscriber: %w", err)
	}
	return decodeSubscriber(doc)
}

// FindSubscriberByAddress implements notify.Store through the address index.
func (db *DB) FindSubscriberByAddress(ctx context.Context, pageID string, kind channel.Kind, address, incidentID string) (*audience.Subscriber, error) {
	id, err := db.client.HGet(ctx, db.keys.subscriberAddresses(), subscriberAddressField(pageID, kind, address, incidentID)).Result()
	if err == goredis.Nil {
		return nil, incident.NotFound("subscriber", address)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find subscriber: %w", err)
	}
	return db.FindSubscriberByID(ctx, id)
}

// FindSubscribers implements notify.Store: the page's (or every) ID index
// from the cursor, a chunk at a time, filtered in Go.
func (db *DB) FindSubscribers(ctx context.Context, f audience.SubscriberFilter) ([]*audience.Subscriber, error) {
	index := db.keys.allSubscribers()
	if f.PageID != "" {
		index = db.keys.pageSubscribers(f.PageID)
	}
	match := func(s *audience.Subscriber) bool {
		if (f.State != "" && s.State != f.State) || (f.Kind != "" && s.Kind != f.Kind) {
			return false
		}
		if f.Following {
			return s.IncidentID == f.IncidentID
		}
		// Page-wide subscribers, and the incident's own followers when
		// one is named: everyone to tell about that incident.
		return s.IncidentID == "" || (f.IncidentID != "" && s.IncidentID == f.IncidentID)
	}
	out := []*audience.Subscriber{}
	after := f.After
	const chunk = 500
	for f.Limit <= 0 || len(out) < f.Limit {
		min := "-"
		if after != "" {
			min = "(" + after
		}
		ids, err := db.client.ZRangeByLex(ctx, index, &goredis.ZRangeBy{Min: min, Max: "+", Count: chunk}).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: find subscribers: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		docs, err := db.client.HMGet(ctx, db.keys.subscribers(), ids...).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: find subscribers: %w", err)
		}
		for _, d := range docs {
			doc, ok := d.(string)
			if !ok {
				continue
			}
			s, err := decodeSubscriber(doc)
			if err != nil {
				return nil, err
			}
			if match(s) {
				out = append(out, s)
				if len(out) == f.Limit {
					break
				}
			}
		}
		if len(ids) < chunk {
			break
		}
	}
	return out, nil
}

// CountSubscribers implements notify.Store from the per-page counts the
// scripts keep.
func (db *DB) CountSubscribers(ctx context.Context, pageID string, state audience.SubscriberState) (int, error) {
	counts, err := db.client.HGetAll(ctx, db.keys.subscriberCounts(pageID)).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: count subscribers: %w", err)
	}
	total := 0
	for s, v := range counts {
		if state == "" || audience.SubscriberState(s) == state {
			n, _ := strconv.Atoi(v)
			total += n
		}
	}
	return total, nil
}

// DeleteSubscriber implements notify.Store; ENOTFOUND when there is none.
func (db *DB) DeleteSubscriber(ctx context.Context, id string) error {
	n, err := deleteSubscriberScript.Run(ctx, db.client, []string{db.keys.subscribers()}, db.globalPrefix(), id).Int()
	if err != nil {
		return fmt.Errorf("redis: delete subscriber: %w", err)
	}
	if n == 0 {
		return incident.NotFound("subscriber", id)
	}
	return nil
}

// ---- suppressions and secrets ----

func suppressionField(pageID string, kind channel.Kind, address string) string {
	return pageID + "\x00" + string(kind) + "\x00" + address
}

// Suppress implements notify.Store. A suppression already recorded is kept
// as it is (HSETNX): the first reason and time stand.
func (db *DB) Suppress(ctx context.Context, s audience.Suppression) error {
	s.At = utcMS(s.At)
	doc, err := encode(s)
	if err != nil {
		return err
	}
	if err := db.client.HSetNX(ctx, db.keys.suppressions(), suppressionField(s.PageID, s.Kind, s.Address), doc).Err(); err != nil {
		return fmt.Errorf("redis: suppress: %w", err)
	}
	return nil
}

// Unsuppress implements notify.Store.
func (db *DB) Unsuppress(ctx context.Context, pageID string, kind channel.Kind, address string) error {
	if err := db.client.HDel(ctx, db.keys.suppressions(), suppressionField(pageID, kind, address)).Err(); err != nil {
		return fmt.Errorf("redis: unsuppress: %w", err)
	}
	return nil
}

// FindSuppression implements notify.Store: the page's own suppression
// first, else the global one.
func (db *DB) FindSuppression(ctx context.Context, pageID string, kind channel.Kind, address string) (*audience.Suppression, error) {
	vals, err := db.client.HMGet(ctx, db.keys.suppressions(),
		suppressionField(pageID, kind, address), suppressionField("", kind, address)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find suppression: %w", err)
	}
	for _, v := range vals {
		if doc, ok := v.(string); ok {
			var s audience.Suppression
			if err := json.Unmarshal([]byte(doc), &s); err != nil {
				return nil, fmt.Errorf("redis: decode suppression: %w", err)
			}
			return &s, nil
		}
	}
	return nil, incident.NotFound("suppression", address)
}

// FindSuppressed implements notify.Store: one HMGET of the page's and the
// global field per address, a chunk of addresses per command.
func (db *DB) FindSuppressed(ctx context.Context, pageID string, kind channel.Kind, addresses []string) ([]string, error) {
	const chunkSize = 1000
	var out []string
	seen := make(map[string]bool)
	fields := make([]string, 0, 2*chunkSize)
	for start := 0; start < len(addresses); start += chunkSize {
		chunk := addresses[start:min(start+chunkSize, len(addresses))]
		fields = fields[:0]
		for _, a := range chunk {
			fields = append(fields, suppressionField(pageID, kind, a), suppressionField("", kind, a))
		}
		vals, err := db.client.HMGet(ctx, db.keys.suppressions(), fields...).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: find suppressed: %w", err)
		}
		for i, a := range chunk {
			if (vals[2*i] != nil || vals[2*i+1] != nil) && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// Secret implements notify.Store: SET NX, then GET, so the first node to
// ask decides and every node reads the same bytes.
func (db *DB) Secret(ctx context.Context, name string, gen func() []byte) ([]byte, error) {
	key := db.keys.secret(name)
	if b, err := db.client.Get(ctx, key).Bytes(); err == nil {
		return b, nil
	} else if err != goredis.Nil {
		return nil, fmt.Errorf("redis: read secret: %w", err)
	}
	if err := db.client.SetNX(ctx, key, gen(), 0).Err(); err != nil {
		return nil, fmt.Errorf("redis: create secret: %w", err)
	}
	b, err := db.client.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fmt.Errorf("redis: read secret: %w", err)
	}
	return b, nil
}

// decodeCustomer decodes a customer's document, as json.Marshal wrote it
// without encoding/json (see fastjson), else with it.
func decodeCustomer(doc string) (*audience.Customer, error) {
	c := &audience.Customer{}
	if fastjson.Customer(doc, c) {
		return c, nil
	}
	*c = audience.Customer{}
	if err := json.Unmarshal([]byte(doc), c); err != nil {
		return nil, fmt.Errorf("redis: decode customer: %w", err)
	}
	return c, nil
}
