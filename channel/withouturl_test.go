package channel_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/channel"
)

// TestWithoutURL: a failed POST's error keeps its cause but not the URL,
// whose path and query may be a secret.
func TestWithoutURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the POST is refused
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/services/T1/B1/s3cr3t-path?token=s3cr3t-query", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = http.DefaultClient.Do(req)
	if err == nil || !strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("the client's own error %v: want one that quotes the URL, as this test assumes", err)
	}
	got := channel.WithoutURL(err)
	if strings.Contains(got.Error(), "s3cr3t") || !strings.Contains(got.Error(), "refused") {
		t.Errorf("WithoutURL = %q; want the cause without the URL", got)
	}
	var op *net.OpError
	if !errors.As(got, &op) {
		t.Errorf("WithoutURL lost the cause: %#v", got)
	}
	if plain := errors.New("plain"); channel.WithoutURL(plain) != plain {
		t.Error("an error without a URL changed")
	}
}
