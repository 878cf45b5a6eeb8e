package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStreamedBodiesBesideOtherRequests posts a customer import larger
// than the body limit (so the server streams it) over a raw connection,
// in parts, and between two parts has other clients make requests on
// fresh and kept connections, plain and with chunked bodies (which the
// server streams too). Every request must be answered as if it were
// alone: the import 200 with every row created, the others 200 or 4xx,
// never 500, and the server still up.
//
// Before the fix this failed: fasthttp (v1.51, with ReduceMemoryUsage)
// gives a connection's read buffer back to its pool as soon as nothing is
// buffered after a request's head, although a streamed body still reads
// through it; the next connection takes the buffer over, and the import
// read that connection's bytes or panicked in requestStream.Read (nil
// reader, streaming.go:80), answered 500.
func TestStreamedBodiesBesideOtherRequests(t *testing.T) {
	onEachEngine(t, func(t *testing.T, dir string, storeArgs []string) {
		n := startServe(t, nil, storeArgs...)
		token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
		env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
		mustCLI(t, env, "components", "create", "--name", "Payments")
		pageID := pageIDOf(t, n)

		// About 1.6 MB: over the 1 MiB body limit, so it is streamed.
		const rows = 24_000
		var csv strings.Builder
		csv.WriteString("id,name,email,language,components\n")
		for i := range rows {
			fmt.Fprintf(&csv, "c%06d,Customer Number %06d,c%06d@example.com,en,Payments\n", i, i, i)
		}
		file := csv.String()

		host := strings.TrimPrefix(n.url, "http://")
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
			t.Fatal(err)
		}
		head := fmt.Sprintf("POST /api/v1/pages/%s/customers/import HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: text/csv\r\nContent-Length: %d\r\n\r\n", pageID, host, token, len(file))
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}

		others := &http.Client{Timeout: 20 * time.Second}
		var mu sync.Mutex
		var failures []string
		fail := func(format string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, fmt.Sprintf(format, a...))
		}
		// burst makes requests from other clients while the import waits
		// for its next part: a fresh connection each, and kept ones.
		burst := func() {
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var req *http.Request
					if i%2 == 0 {
						req, _ = http.NewRequest("GET", n.url+"/api/v2/summary.json", nil)
					} else {
						// No length: Go sends it chunked, which the server streams.
						req, _ = http.NewRequest("POST", n.url+"/api/v1/components", io.MultiReader(strings.NewReader(`{"component":`), strings.NewReader(`{"name":""}}`)))
						req.Header.Set("Authorization", "Bearer "+token)
						req.Header.Set("Content-Type", "application/json")
					}
					if i < 2 {
						req.Close = true
					}
					resp, err := others.Do(req)
					if err != nil {
						fail("%s %s: %v", req.Method, req.URL.Path, err)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 500 {
						fail("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
					}
				}()
			}
			wg.Wait()
		}

		const part = 16 << 10
		for off := 0; off < len(file); off += part {
			end := min(off+part, len(file))
			if _, err := io.WriteString(conn, file[off:end]); err != nil {
				// The server answered early: read what it said.
				t.Logf("writing the import at %d: %v", off, err)
				break
			}
			if end < len(file) {
				burst()
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the import's answer: %v\n%s", err, n.log)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("import answered %d: %s\n%s", resp.StatusCode, answer, n.log)
		}
		var res struct{ Created, Updated, Invalid int }
		if err := json.Unmarshal(answer, &res); err != nil {
			t.Fatalf("import answer %s: %v", answer, err)
		}
		if res.Created != rows || res.Invalid != 0 {
			t.Fatalf("import created %d (invalid %d), want %d: %s", res.Created, res.Invalid, rows, answer)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(failures) > 0 {
			t.Fatalf("%d requests beside the import failed, first: %s", len(failures), failures[0])
		}
		if code, body := get(t, n.url+"/readyz"); code != http.StatusOK {
			t.Fatalf("/readyz after the import: %d %s", code, body)
		}
		if strings.Contains(n.log.String(), "panic") {
			t.Fatalf("serve logged a panic:\n%s", n.log)
		}
	})
}
