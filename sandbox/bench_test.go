package sandbox

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkTwilioCreate measures the sandbox's own ceiling for the Twilio
// create call over loopback HTTP/1.1 with keep-alive, the number the bench
// tool compares herald's throughput to.
func BenchmarkTwilioCreate(b *testing.B) {
	sb, err := Start(b.Context(), Config{AccountSID: testSID, AuthToken: testToken, Capacity: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	endpoint := sb.TwilioURL() + "/2010-04-01/Accounts/" + testSID + "/Messages.json"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	const form = "To=%2B36301234567&From=%2B15005550006&Body=Payments+are+back.+We+are+sorry."
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(testSID, testToken)
			res, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
