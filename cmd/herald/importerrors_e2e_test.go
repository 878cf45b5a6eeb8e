package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportEveryBadField: a row with five bad fields is listed five
// times, `line N: field: reason`, in one run; the API's answer has the
// same problems, and invalid counts rows.
func TestImportEveryBadField(t *testing.T) {
	dir := t.TempDir()
	n := startServe(t, nil, "--data", dir)
	token := mustCLI(t, nil, "token", "create", "--role", "admin", "--data", dir).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	file := filepath.Join(t.TempDir(), "customers.csv")
	csv := "id,name,phone,email,slack,language,time_zone,components\n" +
		"c1,Anna,12,anna@,nope,xx-yy,Mars/Olympus,\n" +
		"c2,Bea,,bea@example.com,,,,Nowhere\n" +
		"c3,Cili,,cili@example.com,,,,\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, env, "import", "customers", file)
	if r.code != 1 || !strings.Contains(r.stdout, "invalid 2") || !strings.Contains(r.stderr, "2 invalid rows") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"line 2: phone: ", "line 2: email: ", "line 2: slack: ", "line 2: language: ", "line 2: time_zone: ", `line 3: components: unknown component "Nowhere"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = cli(t, env, "import", "customers", file, "--json")
	var res struct {
		Invalid int `json:"invalid"`
		Errors  []struct {
			Line   int    `json:"line"`
			ID     string `json:"id"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"errors"`
		Error struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if res.Invalid != 2 || len(res.Errors) != 6 || res.Errors[0].ID != "c1" || res.Error.Code != "invalid" || res.Error.Field != "file" {
		t.Errorf("--json: %+v", res)
	}
}
