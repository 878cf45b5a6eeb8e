package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/surveys"
)

var _ surveys.Store = (*DB)(nil)

// ---- settings ----

// SaveSettings implements surveys.Store: the page's row replaced.
func (db *DB) SaveSettings(ctx context.Context, s *surveys.Settings) error {
	if err := surveys.CheckSettings(s); err != nil {
		return err
	}
	v := *s
	v.UpdatedAt = surveys.Millis(s.UpdatedAt)
	doc, err := json.Marshal(&v)
	if err != nil {
		return fmt.Errorf("sqlite: encode survey settings of page %s: %w", v.PageID, err)
	}
	return db.write(ctx, "save survey settings", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO survey_settings (page_id, doc) VALUES (?, ?)
			ON CONFLICT (page_id) DO UPDATE SET doc = excluded.doc`, v.PageID, string(doc)); err != nil {
			return fmt.Errorf("sqlite: save survey settings of page %s: %w", v.PageID, err)
		}
		return nil
	})
}

// FindSettings implements surveys.Store.
func (db *DB) FindSettings(ctx context.Context, pageID string) (*surveys.Settings, error) {
	var doc string
	err := db.r.QueryRowContext(ctx, "SELECT doc FROM survey_settings WHERE page_id = ?", pageID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("survey settings of page", pageID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find survey settings of page %s: %w", pageID, err)
	}
	var s surveys.Settings
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		return nil, fmt.Errorf("sqlite: decode survey settings of page %s: %w", pageID, err)
	}
	return &s, nil
}

// ---- surveys ----

func scanSurvey(s scanner) (*surveys.Survey, error) {
	var doc string
	if err := s.Scan(&doc); err != nil {
		return nil, err
	}
	return decodeSurvey(doc)
}

func decodeSurvey(doc string) (*surveys.Survey, error) {
	var v surveys.Survey
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return nil, fmt.Errorf("decode survey: %w", err)
	}
	return &v, nil
}

// encodedSurvey is a survey as the store keeps it: its times rounded, and
// its JSON.
type encodedSurvey struct {
	v   *surveys.Survey
	doc string
}

func encodeSurvey(s *surveys.Survey) (encodedSurvey, error) {
	v := s.WithTimes(surveys.Millis)
	b, err := json.Marshal(v)
	if err != nil {
		return encodedSurvey{}, fmt.Errorf("sqlite: encode survey %s: %w", s.ID, err)
	}
	return encodedSurvey{v: v, doc: string(b)}, nil
}

// insertSurveySQL inserts a survey unless its ID is stored (on any page).
const insertSurveySQL = `INSERT INTO surveys (id, page_id, incident_id, state, kind, address, due_at, sent_at, version, doc)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

const updateSurveySQL = `UPDATE surveys SET state = ?, kind = ?, address = ?, due_at = ?, sent_at = ?, version = ?, doc = ?
	WHERE id = ?`

// addTallySQL adds a change to a counter of an incident's tallies.
const addTallySQL = `INSERT INTO survey_tallies (incident_id, key, field, n) VALUES (?, ?, ?, ?)
	ON CONFLICT (incident_id, key, field) DO UPDATE SET n = n + excluded.n`

// raiseLastSQL keeps the latest DueAt of a page's key.
const raiseLastSQL = `INSERT INTO survey_last (page_id, key, due_at) VALUES (?, ?, ?)
	ON CONFLICT (page_id, key) DO UPDATE SET due_at = max(due_at, excluded.due_at)`

// lowerLastSQL moves a page's key's last time back from a survey's
// former time to its new, earlier one, when the key's time is the
// survey's former one (surveys.Store's LastSurveyed).
const lowerLastSQL = `UPDATE survey_last SET due_at = ? WHERE page_id = ? AND key = ? AND due_at = ? AND due_at > ?`

// incidentPageSQL reads the page of one of an incident's surveys: they
// are all on one page, so one seek answers for all (the test "page_id <>
// ?" would read every survey of the incident).
const incidentPageSQL = "SELECT page_id FROM surveys WHERE incident_id = ? LIMIT 1"

// CreateSurveys implements surveys.Store in one write transaction: each
// survey inserted unless its ID is stored (a prepared statement, run per
// survey), then the tallies of the new ones and their keys' last times,
// a row per counter and key.
func (db *DB) CreateSurveys(ctx context.Context, ss []*surveys.Survey) (int, error) {
	if err := surveys.CheckCreate(ss); err != nil {
		return 0, err
	}
	if len(ss) == 0 {
		return 0, nil
	}
	rows := make([]encodedSurvey, len(ss))
	for i, s := range ss {
		var err error
		if rows[i], err = encodeSurvey(s); err != nil {
			return 0, err
		}
	}
	pageID, incidentID := ss[0].PageID, ss[0].IncidentID
	created := 0
	err := db.write(ctx, "create surveys", func(tx *sql.Tx) error {
		var other string
		err := tx.QueryRowContext(ctx, incidentPageSQL, incidentID).Scan(&other)
		if err == nil && other != pageID {
			return incident.Errorf(incident.ECONFLICT, "incident %s has surveys on page %s, not %s", incidentID, other, pageID)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: create surveys: %w", err)
		}
		ins, err := tx.PrepareContext(ctx, insertSurveySQL)
		if err != nil {
			return fmt.Errorf("sqlite: create surveys: %w", err)
		}
		defer ins.Close()
		var changes []surveys.TallyChange
		last := map[string]int64{}
		n := 0
		for _, r := range rows {
			v := r.v
			res, err := ins.ExecContext(ctx, v.ID, v.PageID, v.IncidentID, string(v.State), string(v.Channel), v.Address,
				ms(v.DueAt), msPtr(v.SentAt), v.Version, r.doc)
			if err != nil {
				return fmt.Errorf("sqlite: create survey %s: %w", v.ID, err)
			}
			if k, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("sqlite: create survey %s: %w", v.ID, err)
			} else if k == 0 {
				continue
			}
			n++
			changes = append(changes, surveys.TallyChanges(nil, v)...)
			if v.State != surveys.Skipped {
				for _, key := range v.LastKeys() {
					if due, ok := last[key]; !ok || ms(v.DueAt) > due {
						last[key] = ms(v.DueAt)
					}
				}
			}
		}
		if err := addTallies(ctx, tx, incidentID, changes); err != nil {
			return err
		}
		if err := raiseLast(ctx, tx, pageID, last); err != nil {
			return err
		}
		created = n
		return nil
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}

// addTallies adds changes to the incident's counters, one upsert per
// counter (changes to one counter summed first).
func addTallies(ctx context.Context, tx *sql.Tx, incidentID string, changes []surveys.TallyChange) error {
	sum := map[[2]string]int{}
	for _, c := range changes {
		sum[[2]string{c.Key, c.Field}] += c.Delta
	}
	if len(sum) == 0 {
		return nil
	}
	counters := make([][2]string, 0, len(sum))
	for k, d := range sum {
		if d != 0 {
			counters = append(counters, k)
		}
	}
	sort.Slice(counters, func(i, j int) bool {
		return counters[i][0] < counters[j][0] || counters[i][0] == counters[j][0] && counters[i][1] < counters[j][1]
	})
	st, err := tx.PrepareContext(ctx, addTallySQL)
	if err != nil {
		return fmt.Errorf("sqlite: survey tallies: %w", err)
	}
	defer st.Close()
	for _, k := range counters {
		if _, err := st.ExecContext(ctx, incidentID, k[0], k[1], sum[k]); err != nil {
			return fmt.Errorf("sqlite: survey tallies: %w", err)
		}
	}
	return nil
}

// raiseLast raises the page's keys' last times to last's.
func raiseLast(ctx context.Context, tx *sql.Tx, pageID string, last map[string]int64) error {
	if len(last) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, raiseLastSQL)
	if err != nil {
		return fmt.Errorf("sqlite: survey last times: %w", err)
	}
	defer st.Close()
	for key, due := range last {
		if _, err := st.ExecContext(ctx, pageID, key, due); err != nil {
			return fmt.Errorf("sqlite: survey last times: %w", err)
		}
	}
	return nil
}

// SaveSurvey implements surveys.Store: the stored survey read, its
// version checked, the row replaced and the tallies moved by
// surveys.TallyChanges from it, in one write transaction.
func (db *DB) SaveSurvey(ctx context.Context, s *surveys.Survey) error {
	if err := surveys.CheckSave(s); err != nil {
		return err
	}
	r, err := encodeSurvey(s)
	if err != nil {
		return err
	}
	v := r.v
	return db.write(ctx, "save survey", func(tx *sql.Tx) error {
		old, err := scanSurvey(tx.QueryRowContext(ctx, "SELECT doc FROM surveys WHERE id = ? AND page_id = ?", v.ID, v.PageID))
		if errors.Is(err, sql.ErrNoRows) {
			return incident.Errorf(incident.ECONFLICT, "page %s has no survey %s to save version %d of", v.PageID, v.ID, v.Version)
		} else if err != nil {
			return fmt.Errorf("sqlite: save survey %s: %w", v.ID, err)
		}
		if old.IncidentID != v.IncidentID {
			return incident.Invalid("incident_id", "survey %s is of incident %s: a survey's incident never changes", v.ID, old.IncidentID)
		}
		if old.Version != v.Version-1 {
			return incident.Errorf(incident.ECONFLICT, "survey %s is at version %d, not %d: reload and retry", v.ID, old.Version, v.Version-1)
		}
		if _, err := tx.ExecContext(ctx, updateSurveySQL, string(v.State), string(v.Channel), v.Address, ms(v.DueAt), msPtr(v.SentAt),
			v.Version, r.doc, v.ID); err != nil {
			return fmt.Errorf("sqlite: save survey %s: %w", v.ID, err)
		}
		if err := addTallies(ctx, tx, v.IncidentID, surveys.TallyChanges(old, v)); err != nil {
			return err
		}
		if v.State != surveys.Skipped {
			last := map[string]int64{}
			at, before := ms(v.SurveyedAt()), ms(old.SurveyedAt())
			for _, key := range v.LastKeys() {
				last[key] = at
				if at < before {
					// Sent before it was due (surveys send): the key's time
					// was this survey's due time, and is now its send time.
					if _, err := tx.ExecContext(ctx, lowerLastSQL, at, v.PageID, key, before, at); err != nil {
						return fmt.Errorf("sqlite: survey last times: %w", err)
					}
				}
			}
			return raiseLast(ctx, tx, v.PageID, last)
		}
		return nil
	})
}

// FindSurveyByID implements surveys.Store.
func (db *DB) FindSurveyByID(ctx context.Context, id string) (*surveys.Survey, error) {
	v, err := scanSurvey(db.r.QueryRowContext(ctx, "SELECT doc FROM surveys WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("survey", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find survey %s: %w", id, err)
	}
	return v, nil
}

// findDueSQL reads surveys_due; the state is a literal so that SQLite
// may use the partial index.
const findDueSQL = `SELECT doc FROM surveys WHERE state = 'scheduled' AND due_at <= ? ORDER BY due_at, id LIMIT ?`

// FindDueSurveys implements surveys.Store from surveys_due.
func (db *DB) FindDueSurveys(ctx context.Context, now time.Time, limit int) ([]*surveys.Survey, error) {
	if limit < 1 {
		return []*surveys.Survey{}, nil
	}
	return findAll(ctx, db.r, "due surveys", scanSurvey, findDueSQL, ms(now), limit)
}

// FindSurveysByAddress implements surveys.Store from surveys_address.
func (db *DB) FindSurveysByAddress(ctx context.Context, pageID string, kind channel.Kind, address string, limit int) ([]*surveys.Survey, error) {
	if limit < 1 {
		return []*surveys.Survey{}, nil
	}
	return findAll(ctx, db.r, "surveys by address", scanSurvey, `SELECT doc FROM surveys
		WHERE page_id = ? AND kind = ? AND address = ? AND sent_at IS NOT NULL ORDER BY sent_at DESC, id DESC LIMIT ?`,
		pageID, string(kind), address, limit)
}

// LastSurveyed implements surveys.Store from survey_last.
func (db *DB) LastSurveyed(ctx context.Context, pageID, key string) (time.Time, error) {
	var due int64
	err := db.r.QueryRowContext(ctx, "SELECT due_at FROM survey_last WHERE page_id = ? AND key = ?", pageID, key).Scan(&due)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: last surveyed: %w", err)
	}
	return fromMS(due), nil
}

// FindSurveys implements surveys.Store from surveys_incident or
// surveys_incident_state.
func (db *DB) FindSurveys(ctx context.Context, incidentID string, state surveys.State, after string, limit int) ([]*surveys.Survey, error) {
	if state != "" && !slices.Contains(surveys.States, state) {
		return nil, incident.Invalid("state", "unknown state %q", state)
	}
	if limit < 1 {
		return []*surveys.Survey{}, nil
	}
	if state == "" {
		return findAll(ctx, db.r, "surveys", scanSurvey, "SELECT doc FROM surveys WHERE incident_id = ? AND id > ? ORDER BY id LIMIT ?",
			incidentID, after, limit)
	}
	return findAll(ctx, db.r, "surveys", scanSurvey, "SELECT doc FROM surveys WHERE incident_id = ? AND state = ? AND id > ? ORDER BY id LIMIT ?",
		incidentID, string(state), after, limit)
}

// Tallies implements surveys.Store from the incident's counters.
func (db *DB) Tallies(ctx context.Context, incidentID string) (map[string]*surveys.Tally, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT key, field, n FROM survey_tallies WHERE incident_id = ? AND n <> 0", incidentID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: survey tallies of %s: %w", incidentID, err)
	}
	defer rows.Close()
	out := map[string]*surveys.Tally{}
	for rows.Next() {
		var key, field string
		var n int
		if err := rows.Scan(&key, &field, &n); err != nil {
			return nil, fmt.Errorf("sqlite: survey tallies of %s: %w", incidentID, err)
		}
		t := out[key]
		if t == nil {
			t = &surveys.Tally{}
			out[key] = t
		}
		t.Apply(field, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: survey tallies of %s: %w", incidentID, err)
	}
	return out, nil
}
