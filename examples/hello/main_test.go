//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The example runs as the README says, on a store of the test's own: the
// environment names it (step 2 of the rule), so no daemon of the machine's
// and no store of the user's is touched.
func TestHelloAddsReadsAndHears(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KEYCTL_GO_SOCKET", "")
	t.Setenv("KEYCTL_GO_DB", filepath.Join(dir, "keys.db"))
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "run"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	if err := hello(ctx, &out); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^read "hello"\nheard: [0-9]+ link [0-9]+\n$`)
	if !want.MatchString(out.String()) {
		t.Errorf("hello printed:\n%s\nwant %s", out.String(), want)
	}
}

// TestREADMEQuotesHello: the README's library example is this program's
// hello, word for word, so that what a newcomer copies compiles and runs.
func TestREADMEQuotesHello(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(src), "func hello(")
	end := strings.Index(string(src[start:]), "\n}\n")
	if start < 0 || end < 0 {
		t.Fatal("main.go has no func hello")
	}
	quote := string(src[start : start+end+3])
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), quote) {
		t.Errorf("README.md does not quote examples/hello's hello as it is now:\n%s", quote)
	}
}
