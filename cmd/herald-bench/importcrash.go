package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// The import crash case (crash -import) is issue 10's "import is all or
// nothing, even when the process dies": a customer import of N rows posted
// to a real `herald serve` subprocess, which is killed with SIGKILL while
// the import runs and restarted. After each kill the page must hold none of
// the import's rows or all of them, and posting the same file again must
// leave exactly all of them.
//
// First one import runs to its end, which times it (the rate the report
// shows). Then one round per kill point: at a share of that time (the
// upload, the parsing, the writing), and once at the moment the first of
// the import's customers becomes visible through the API, where an import
// written in parts would be caught half done.

// importCrashResult is what one engine's import crash run measured.
type importCrashResult struct {
	Engine    string
	Customers int
	Import    time.Duration // the uninterrupted import, request to answer
	Rounds    []importRound
}

// importRound is one kill and its retry.
type importRound struct {
	Kill      string // "40%" of the import's time, or "first-visible"
	AfterKill int    // of the round's rows, how many the restarted herald shows: 0 or all
	AfterRedo int    // after posting the file again: all
}

func (r importCrashResult) String() string {
	var b strings.Builder
	rate := float64(r.Customers) / r.Import.Seconds()
	fmt.Fprintf(&b, "engine=%s customers=%d import=%s (%.0f customers/s)", r.Engine, r.Customers, r.Import.Round(time.Millisecond), rate)
	for _, rd := range r.Rounds {
		fmt.Fprintf(&b, " kill@%s:%d→%d", rd.Kill, rd.AfterKill, rd.AfterRedo)
	}
	return b.String()
}

// failures lists what broke the promise.
func (r importCrashResult) failures() []string {
	var out []string
	for _, rd := range r.Rounds {
		if rd.AfterKill != 0 && rd.AfterKill != r.Customers {
			out = append(out, fmt.Sprintf("%s: kill at %s left %d of %d customers", r.Engine, rd.Kill, rd.AfterKill, r.Customers))
		}
		if rd.AfterRedo != r.Customers {
			out = append(out, fmt.Sprintf("%s: the retry after the kill at %s left %d of %d customers", r.Engine, rd.Kill, rd.AfterRedo, r.Customers))
		}
	}
	return out
}

// importCSV is n customers whose IDs start with prefix.
func importCSV(prefix string, n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 64)
	b.WriteString("id,name,phone,language,time_zone\n")
	langs := []string{"en", "hu", "pl", "hr"}
	for i := range n {
		fmt.Fprintf(&b, "%s%08d,Customer %d,%s,%s,Europe/Budapest\n", prefix, i, i, crashPhone(i), langs[i%4])
	}
	return b.Bytes()
}

// postImport posts a CSV import and returns the answer's status.
func postImport(ctx context.Context, api *crashAPI, pageID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.base+"/api/v1/pages/"+pageID+"/customers/import?format=csv", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+api.token)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := api.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("import: %d %s", resp.StatusCode, b)
	}
	var res struct{ Created, Updated int }
	if err := json.Unmarshal(b, &res); err != nil {
		return resp.StatusCode, fmt.Errorf("import answer: %w: %s", err, b)
	}
	return resp.StatusCode, nil
}

// countImported counts the page's customers whose ID starts with prefix
// (IDs sort, so a page of the listing from the prefix on).
func countImported(ctx context.Context, api *crashAPI, pageID, prefix string) (int, error) {
	n, after := 0, prefix
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.base+"/api/v1/pages/"+pageID+"/customers?limit=1000&after="+after, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+api.token)
		resp, err := api.hc.Do(req)
		if err != nil {
			return 0, err
		}
		var cs []struct {
			ID string `json:"id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&cs)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		stop := false
		for _, c := range cs {
			if !strings.HasPrefix(c.ID, prefix) {
				stop = true
				break
			}
			n++
		}
		if stop || len(cs) < 1000 {
			return n, nil
		}
		after = cs[len(cs)-1].ID
	}
}

// totalCustomers is the page's X-Total-Count.
func totalCustomers(ctx context.Context, api *crashAPI, pageID string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.base+"/api/v1/pages/"+pageID+"/customers?limit=1", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+api.token)
	resp, err := api.hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("customers: %d", resp.StatusCode)
	}
	return strconv.Atoi(resp.Header.Get("X-Total-Count"))
}

// importCrashRun is one engine's import crash run: opt.Recipients
// customers per import, killed at each of kills (shares of the import's
// time) and once at the first visible row.
func importCrashRun(ctx context.Context, engine, dir string, opt crashOptions, kills []float64, stderr io.Writer) (importCrashResult, error) {
	res := importCrashResult{Engine: engine, Customers: opt.Recipients}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return res, err
	}
	empty := opt
	empty.Recipients = 0 // the import brings the customers
	w, err := startCrashWorld(ctx, engine, dir, empty, 1000, nil, stderr)
	if err != nil {
		return res, err
	}
	defer w.close()
	h, err := startHerald(ctx, opt.Herald, w.env, w.base, w.log)
	if err != nil {
		return res, err
	}
	defer func() {
		if h != nil {
			h.stop()
		}
	}()
	api := &crashAPI{base: w.base, token: w.setup.token, hc: &http.Client{Timeout: 10 * time.Minute}}
	page := w.setup.pageID

	// The uninterrupted import: its time sets the kill points.
	file := importCSV("a", opt.Recipients)
	t0 := time.Now()
	if _, err := postImport(ctx, api, page, file); err != nil {
		return res, err
	}
	res.Import = time.Since(t0)
	fmt.Fprintf(stderr, "crash: import of %d customers took %s\n", opt.Recipients, res.Import.Round(time.Millisecond))

	type point struct {
		label string
		share float64 // < 0: kill at the first visible row
	}
	var points []point
	for _, k := range kills {
		points = append(points, point{fmt.Sprintf("%.0f%%", k*100), k})
	}
	points = append(points, point{"first-visible", -1})
	for i, p := range points {
		prefix := fmt.Sprintf("r%d-", i)
		file := importCSV(prefix, opt.Recipients)
		before, err := totalCustomers(ctx, api, page)
		if err != nil {
			return res, err
		}
		posted := make(chan error, 1)
		go func() {
			_, err := postImport(ctx, api, page, file)
			posted <- err
		}()
		if p.share >= 0 {
			select {
			case <-time.After(time.Duration(p.share * float64(res.Import))):
			case err := <-posted:
				// Faster than the timed run: the kill finds it done, and
				// all of it must be there.
				fmt.Fprintf(stderr, "crash: the import finished before the kill at %s (%v)\n", p.label, err)
				posted <- err
			}
		} else {
		poll:
			for {
				n, err := totalCustomers(ctx, api, page)
				if err != nil {
					return res, err
				}
				if n > before {
					break
				}
				select {
				case err := <-posted:
					// Answered between two polls: an import that is one
					// unit shows its rows and answers in the same instant.
					if err != nil {
						return res, fmt.Errorf("the import failed before any row was seen: %w", err)
					}
					posted <- err
					break poll
				case <-ctx.Done():
					return res, ctx.Err()
				case <-time.After(time.Millisecond):
				}
			}
		}
		h.kill()
		h = nil
		<-posted // the connection is gone: an error, or an answer that came just before the kill
		if h, err = startHerald(ctx, opt.Herald, w.env, w.base, w.log); err != nil {
			return res, fmt.Errorf("restart: %w", err)
		}
		rd := importRound{Kill: p.label}
		if rd.AfterKill, err = countImported(ctx, api, page, prefix); err != nil {
			return res, err
		}
		if _, err := postImport(ctx, api, page, file); err != nil {
			return res, fmt.Errorf("retry after the kill at %s: %w", p.label, err)
		}
		if rd.AfterRedo, err = countImported(ctx, api, page, prefix); err != nil {
			return res, err
		}
		fmt.Fprintf(stderr, "crash: kill at %s: %d of %d visible after the restart, %d after the retry\n", p.label, rd.AfterKill, opt.Recipients, rd.AfterRedo)
		res.Rounds = append(res.Rounds, rd)
	}
	return res, nil
}
