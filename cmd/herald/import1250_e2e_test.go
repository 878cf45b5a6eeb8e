package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/heraldhq/herald/audience"
)

// TestImportWindows1250 imports, through the CLI and the API, a customer
// file as Excel's plain "CSV" saves it on a Hungarian, Polish or Croatian
// Windows: Windows-1250, semicolons, CRLF. The names must be stored as
// written, not refused as "not UTF-8" nor stored as mojibake; the same
// names in a UTF-8 file with a byte-order mark import the same.
func TestImportWindows1250(t *testing.T) {
	onEachEngine(t, func(t *testing.T, dir string, storeArgs []string) {
		n := startServe(t, nil, storeArgs...)
		token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
		env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
		mustCLI(t, env, "components", "create", "--name", "Płatności")

		want := map[string]string{
			"hu-1": "Kőváry Ödönné Űrsula",
			"pl-1": "Łucja Żak-Wróbel",
			"pl-2": "Grzegorz Brzęczyszczykiewicz",
			"hr-1": "Ivana Čačić",
			"hr-2": "Šime Đurđević Žižić",
		}
		text := "id;name;email;language;components;oddział\r\n" +
			"hu-1;" + want["hu-1"] + ";odon@example.hu;hu;Płatności;Győr\r\n" +
			"pl-1;" + want["pl-1"] + ";lucja@example.pl;pl;Płatności;Łódź\r\n" +
			"pl-2;" + want["pl-2"] + ";g@example.pl;pl;Płatności;Kraków\r\n" +
			"hr-1;" + want["hr-1"] + ";ivana@example.hr;hr;Płatności;Split\r\n" +
			"hr-2;" + want["hr-2"] + ";sime@example.hr;hr;Płatności;Šibenik\r\n"
		cp1250, err := charmap.Windows1250.NewEncoder().String(text)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct{ name, body, printed string }{
			{"excel.csv", cp1250, "created 5, updated 0, invalid 0"},
			{"utf8bom.csv", "\ufeff" + text, "created 0, updated 5, invalid 0"},
		} {
			path := filepath.Join(dir, f.name)
			if err := os.WriteFile(path, []byte(f.body), 0o600); err != nil {
				t.Fatal(err)
			}
			r := cli(t, env, "import", "customers", path)
			if r.code != 0 || !strings.Contains(r.stdout, f.printed) {
				t.Fatalf("import %s: exit %d, printed %q, want %q\n%s", f.name, r.code, r.stdout, f.printed, r.stderr)
			}
			var cs []audience.Customer
			if err := json.Unmarshal([]byte(mustCLI(t, env, "customers", "--json").stdout), &cs); err != nil {
				t.Fatal(err)
			}
			if len(cs) != len(want) {
				t.Fatalf("%s: %d customers, want %d", f.name, len(cs), len(want))
			}
			for _, c := range cs {
				if c.Name != want[c.ID] {
					t.Errorf("%s: customer %s named %q, want %q", f.name, c.ID, c.Name, want[c.ID])
				}
				if len(c.Components) != 1 {
					t.Errorf("%s: customer %s has components %v, want Płatności", f.name, c.ID, c.Components)
				}
			}
			if pl := findCustomer(cs, "pl-1"); pl == nil || pl.Attributes["oddział"] != "Łódź" {
				t.Errorf("%s: pl-1 is %+v, want the attribute oddział=Łódź", f.name, pl)
			}
		}
	})
}

func findCustomer(cs []audience.Customer, id string) *audience.Customer {
	for i := range cs {
		if cs[i].ID == id {
			return &cs[i]
		}
	}
	return nil
}
